"""The weekly review's lost deals and lost tally, and the MQL counts, read their rows from an index alone
(pipeline 0013, leads 0029): the plan is checked with EXPLAIN on PostgreSQL, where the index covers every column
these queries read. Sequential and bitmap scans are turned off so the planner's choice on a test database of a few
rows is the one it makes at size: an index scan, which must not need the table's rows."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import Count, Exists, OuterRef

from kpis.periods import Period
from kpis.registry import Scope
from kpis.selectors.review import _campaign_querysets, _lost_queryset, _tally_queryset
from leads.models import Handoff
from pipeline.models import Deal
from tests.conftest import require_or_skip

W47 = Period.parse("2026-W47")


@pytest.fixture
def index_plans(db):
    require_or_skip(
        connection.vendor == "postgresql", "covering indexes (INCLUDE) and EXPLAIN need PostgreSQL"
    )
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("SET enable_bitmapscan = off")
    yield
    with connection.cursor() as cursor:
        cursor.execute("RESET enable_seqscan")
        cursor.execute("RESET enable_bitmapscan")


def test_the_lost_tally_reads_the_deals_index_alone(index_plans, sales_team):
    for scope in (Scope(), Scope(team_id=sales_team.pk)):
        plan = _tally_queryset(W47, scope=scope).explain()
        assert "Index Only Scan using deal_status_closed_cover_idx" in plan, plan


def test_the_weeks_lost_deals_are_picked_from_the_index_alone(index_plans, sales_team, manager):
    # the first hundred by side, cause and amount are picked from the index, and only those rows then read
    picked = _lost_queryset(W47, scope=Scope(team_id=sales_team.pk), now=W47.end_at, viewer=manager)
    assert "Index Only Scan using deal_status_closed_cover_idx" in picked.explain()


def test_mql_counts_read_the_handoffs_index_alone(index_plans):
    handoffs = Handoff.objects.filter(mql_at__gte=W47.start_at, mql_at__lt=W47.end_at)
    distinct_leads = handoffs.filter(state=Handoff.State.ACCEPTED, campaign__isnull=False).annotate(
        has_deal=Exists(Deal.objects.filter(handoff=OuterRef("pk")))
    )
    for queryset in (
        distinct_leads.values("lead_id", "has_deal").order_by(),
        _campaign_querysets(W47)["campaign_mqls"],
        handoffs.values("campaign").annotate(n=Count("lead_id", distinct=True)).order_by(),
    ):
        plan = queryset.explain()
        assert "Index Only Scan using handoff_mql_at_cover_idx" in plan, plan
