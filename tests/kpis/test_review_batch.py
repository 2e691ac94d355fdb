"""The weekly review reads its lists in one statement (kpis.selectors.batch): each list must come back exactly as
its queryset alone returns it — the same rows in the same order, the same field values of the same types, the
same select_related objects and annotations — on PostgreSQL and on SQLite."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import Model

from kpis import services
from kpis.periods import Period
from kpis.selectors import batch
from kpis.selectors.review import _list_querysets
from pipeline.models import Deal
from tests.kpis.conftest import NOW
from tests.kpis.test_pages import _more_rows

W47 = Period.parse("2026-W47")


def _described(value, depth: int = 0):
    """A model instance as (its class, its loaded fields and annotations, its select_related objects), every
    value with its type: what the page can read from it without a query."""
    if isinstance(value, Model):
        loaded = {
            key: (type(v), v)
            for key, v in vars(value).items()
            if not key.startswith("_") and not isinstance(v, Model)
        }
        related = {name: _described(obj, depth + 1) for name, obj in value._state.fields_cache.items()}
        return type(value), loaded, related
    if isinstance(value, dict):
        return {key: (type(v), v) for key, v in value.items()}
    return type(value), value


def _assert_same_as_querysets(querysets) -> dict[str, list]:
    fetched = batch.fetch(querysets)
    assert set(fetched) == set(querysets)
    for name, queryset in querysets.items():
        expected = [_described(row) for row in queryset._chain()]
        assert [_described(row) for row in fetched[name]] == expected, name
    return fetched


@pytest.mark.parametrize("team", [False, True], ids=["everyone", "team"])
def test_every_list_reads_as_its_queryset_alone(db, manager, owner, outsider, kpi_data, frozen_now, team):
    _more_rows(4, owner=owner, outsider=outsider, campaign=kpi_data.campaign)  # voices, items, equal amounts
    team_id = manager.team_id if team else None
    for viewer in (outsider, manager):  # can_open differs: the other team's deals are listed unlinked
        fetched = _assert_same_as_querysets(_list_querysets(W47, team_id=team_id, now=NOW, viewer=viewer))
    assert fetched["won_deals"] and fetched["lost_deals"] and fetched["quotes_sent"] and fetched["campaigns"]
    assert fetched["tally"] and fetched["reject_reasons"] and fetched["campaign_costs"]
    assert fetched["voices"] and fetched["action_items"] and fetched["owners"]
    assert all(
        v.occurred_at.tzinfo is not None and W47.start_at <= v.occurred_at < W47.end_at
        for v in fetched["voices"]
    )


def test_a_frozen_weeks_snapshot_reads_its_json_as_stored(db, manager, kpi_data, frozen_now):
    services.snapshot_freeze_week(week=W47, team=None)
    fetched = _assert_same_as_querysets(_list_querysets(W47, team_id=None, now=NOW, viewer=manager))
    (snapshot,) = fetched["snapshots"]
    assert snapshot.values["deals_won"] == 2 and isinstance(snapshot.context, dict)


def test_rows_wider_than_one_json_array_and_lists_that_match_nothing(db, manager, kpi_data, frozen_now):
    wide = Deal.objects.select_related("company", "owner__team", "first_touch_campaign", "team").order_by(
        "-id"
    )
    part = batch._Part("wide", wide, connection)
    assert len(part.select) > batch.CHUNK  # built as several arrays, read back as one row
    fetched = _assert_same_as_querysets({"wide": wide, "none": Deal.objects.filter(pk__in=[])})
    assert fetched["none"] == [] and len(fetched["wide"]) == Deal.objects.count()


def test_it_is_one_statement(db, manager, kpi_data, frozen_now, django_assert_num_queries):
    querysets = _list_querysets(W47, team_id=None, now=NOW, viewer=manager)
    with django_assert_num_queries(1):
        batch.fetch(querysets)
    with django_assert_num_queries(0):
        assert batch.fetch({}) == {}
