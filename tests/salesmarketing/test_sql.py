"""Several one-row queries sent as one statement (salesmarketing.sql): the same values as asked one by one."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import Count, Max, Q
from django.test.utils import CaptureQueriesContext

from salesmarketing import sql
from salesmarketing.models import Team, User
from tests.salesmarketing.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def people():
    sales, marketing = TeamFactory(name="営業", kind="sales"), TeamFactory(name="販促", kind="marketing")
    for n in range(3):
        UserFactory(username=f"s{n}", team=sales, role=User.Role.SALES)
    UserFactory(username="m0", team=marketing, role=User.Role.MARKETING)
    return sales, marketing


def test_aggregates_scalars_and_rows_come_back_in_one_statement(people):
    sales, _marketing = people
    users = User.objects.filter(team__isnull=False)
    expected = users.aggregate(n=Count("pk"), reps=Count("pk", filter=Q(role=User.Role.SALES)))
    with CaptureQueriesContext(connection) as ctx:
        got = sql.one_statement(
            [
                sql.aggregates_row(users, {"n": Count("pk"), "reps": Count("pk", filter=Q(role="sales"))}),
                sql.aggregates_row(User.objects.filter(pk__in=[]), {"none": Count("pk"), "last": Max("pk")}),
                sql.scalars_row(
                    {"name": Team.objects.filter(pk=sales.pk).values("name")[:1]}, using="default"
                ),
                sql.rows_row(
                    {
                        "teams": Team.objects.order_by("name")
                        .values("name", "kind")
                        .annotate(n=Count("members"))
                    },
                    using="default",
                ),
            ]
        )
    assert len(ctx.captured_queries) == 1
    assert (got["n"], got["reps"]) == (expected["n"], expected["reps"]) == (4, 3)
    assert (got["none"], got["last"]) == (0, None)  # a WHERE that matches nothing still makes its one row
    assert got["name"] == "営業"
    assert sorted(got["teams"], key=lambda row: row["name"]) == [
        {"name": "営業", "kind": "sales", "n": 3},
        {"name": "販促", "kind": "marketing", "n": 1},
    ]


def test_more_columns_than_a_statement_takes_go_in_more_statements(people, monkeypatch):
    monkeypatch.setattr(sql, "MAX_COLUMNS", 2)
    rows = [
        sql.aggregates_row(User.objects.all(), {f"c{n}": Count("pk"), f"d{n}": Max("pk")}) for n in range(3)
    ]
    with CaptureQueriesContext(connection) as ctx:
        got = sql.one_statement(rows)
    assert len(ctx.captured_queries) == 3 and len(got) == 6


def test_two_rows_may_not_share_a_column(people):
    rows = [sql.aggregates_row(User.objects.all(), {"n": Count("pk")}) for _ in range(2)]
    with pytest.raises(ValueError, match="share a column"):
        sql.one_statement(rows)
