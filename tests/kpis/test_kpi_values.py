"""Every KPI against the fixed data set of conftest.py, with the expected values worked out by hand."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.template import Context, Template
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from kpis.periods import Period
from kpis.registry import HEADLINE, KPI_BY_KEY, KPIS, Ask, Scope, compute, evaluate
from kpis.registry.drilldowns import DRILLDOWNS
from kpis.registry.measures import MEASURES_BY_NAME
from tests.kpis.conftest import NOW, jst

W47 = Period.parse("2026-W47")

# 2026-W47 for everyone. Rows: see conftest.kpi_data.
EVERYONE = {
    "opportunities_marketing_sourced": 2,  # D1 (handoff), D2 (handoff); not D4 (labelled marketing), D8 (sales)
    "opportunities_marketing_influenced": 1,  # D4: labelled marketing by hand, no handoff (self-reported)
    "lead_to_opportunity_rate": 0.25,  # handed over in W47: H1 H2 H3 H5; of those H1 has a deal → 1/4
    "mqls": 4,  # leads l1 l3 l4 l5 flipped in W47 (l2's flip was in W46)
    "sqls": 2,  # H1 and H4 accepted in W47
    "lead_quality": 0.666667,  # 2 accepted / (2 + 1 rejected)
    "revenue": 4_200_000,  # D1 1,200,000 + D3 3,000,000
    "marketing_sourced_revenue": 1_200_000,  # D1
    "deals_won": 2,
    "new_customers": 1,  # l1, D1's contact, on the 20th; D3 has no contact, D7 was won in W48
    "win_rate": 0.666667,  # won D1 D3, lost D4 (D5 was lost in W46)
    "speed_to_lead_minutes": 225.0,  # first touches in W47 after 30, 360, 90, 4320 min → (90 + 360) / 2
    "sla_compliance": 0.666667,  # due in W47: H1 met, H2 breached (6 h), H3 met
    "leads_acquired": 3,  # l1 (Mon 00:00), l3, l4 (Sun 23:59:59); not l2 (Sun 15th 23:59) nor l5 (Mon 23rd)
    "visitors": 4,  # v1 (twice), v2, v5 and lead l1 without a cookie; not v3 (W46) nor v4 (no page view)
    "cvr": 0.75,  # 3 leads / 4 visitors
    "cost_per_lead": 50_000,  # (100,000 + 50,000) / 3
    "cost_per_mql": 37_500,  # 150,000 / 4
    "roi": 7.0,  # (1,200,000 − 150,000) / 150,000
    "marketing_cost": 150_000,  # the 15th (7) and the 23rd (999) are outside
    "brand_awareness": 0.25,  # November's survey; December's is not in force yet
    "average_deal_size": 2_100_000,  # 4,200,000 / 2
    "sales_cycle_days": 26.5625,  # D1 4.125 days, D3 49 days → median
    "deals_lost": 1,
    "ltv": 2_350_000,  # won to date with a company: C1 1,200,000 + 500,000, C2 3,000,000 → 4,700,000 / 2
    "market_share": 0.0047,  # 365 days to the week's end: D1 + D3 + D6 = 4,700,000 / 1,000,000,000
    "market_size": 1_000_000_000,
    "handed_over": 4,
    "handoffs_rejected": 1,
    "sla_breaches": 1,
    "deals_created": 4,  # D1 D2 D4 D8
    "deals_won_marketing": 1,
    "quotes_sent": 2,  # Q1 rev. 2 (Tue), Q2 (Fri); not Q1 rev. 1 (superseded) nor Q3 (W46)
    "quote_acceptance_rate": 0.5,  # of those, Q1 rev. 2 was accepted
    "quotes_accepted": 2,  # Q1 rev. 2 (Thu) and Q3 (sent in W46, accepted Tue)
}

# 2026-W47 for team T1 (owner, teammate, manager). Company-wide KPIs keep their values.
TEAM_1 = {
    **EVERYONE,
    "opportunities_marketing_sourced": 2,  # D1 D2 belong to T1
    "opportunities_marketing_influenced": 1,  # D4 too
    "lead_to_opportunity_rate": 0.5,  # H1 H3 handed to T1; H1 became a deal
    "mqls": 2,
    "sqls": 2,
    "lead_quality": 1.0,  # the rejection was T2's
    "revenue": 1_200_000,
    "marketing_sourced_revenue": 1_200_000,
    "deals_won": 1,
    "new_customers": 1,  # l1 is the owner's (T1)
    "win_rate": 0.5,  # D1 won, D4 lost
    "speed_to_lead_minutes": 90.0,  # 30, 90, 4320
    "sla_compliance": 1.0,
    "leads_acquired": 1,  # l1 (l4 has no owner)
    "average_deal_size": 1_200_000,
    "sales_cycle_days": 4.125,
    "ltv": 1_700_000,  # C1: 1,200,000 + 500,000
    "handed_over": 2,
    "handoffs_rejected": 0,
    "sla_breaches": 0,
    "deals_created": 3,
    "deals_won_marketing": 1,
    "quotes_sent": 1,  # Q1 rev. 2 (D9 is T1's; D8 is T2's)
    "quote_acceptance_rate": 1.0,
    "quotes_accepted": 1,
}

# Nothing happened in 2020's first week: counts and sums are 0, every ratio, median or average is None.
EMPTY = {kpi.key: (0 if kpi.additive and not kpi.manual else None) for kpi in KPIS}


def _assert_values(actual: dict, expected: dict) -> None:
    assert set(actual) == set(expected)
    for key, value in expected.items():
        if value is None:
            assert actual[key] is None, key
        elif isinstance(value, float):
            assert actual[key] == pytest.approx(value, abs=0.006 if key == "sales_cycle_days" else 1e-6), key
        else:
            assert actual[key] == value, key


def test_every_kpi_is_expected_in_the_fixed_data_set():
    assert set(EVERYONE) == set(KPI_BY_KEY)


def test_every_kpi_for_the_week(kpi_data):
    _assert_values(compute([W47], now=NOW)[0], EVERYONE)


def test_every_kpi_for_one_team(kpi_data):
    _assert_values(compute([W47], scope=Scope(team_id=kpi_data.t1.pk), now=NOW)[0], TEAM_1)


def test_an_owner_filter(kpi_data, owner):
    values = compute([W47], scope=Scope(owner_id=owner.pk), now=NOW)[0]
    assert values["leads_acquired"] == 1  # l1
    assert values["mqls"] == 1  # H1
    assert values["sqls"] == 2  # H1, H4
    assert values["opportunities_marketing_sourced"] == 2  # D1, D2
    assert values["revenue"] == 1_200_000
    assert values["speed_to_lead_minutes"] == pytest.approx(2175.0)  # 30 and 4320


def test_an_empty_period_gives_zero_counts_and_no_ratios(kpi_data):
    _assert_values(compute([Period.parse("2020-W01")], now=NOW)[0], EMPTY)


def test_no_data_at_all_gives_none_and_never_divides_by_zero(db):
    _assert_values(compute([W47], now=NOW)[0], EMPTY)


def test_period_edges_are_tokyo_midnights(kpi_data):
    w46, w47, w48 = compute([W47.previous(), W47, W47.next()], now=NOW)
    assert w46["leads_acquired"] == 1  # l2 at Sunday 23:59 belongs to W46 …
    assert w47["leads_acquired"] == 3  # … l1 at Monday 00:00 and l4 at Sunday 23:59:59 to W47 …
    assert w48["leads_acquired"] == 1  # … l5 at the next Monday 00:00 to W48
    assert (w46["marketing_cost"], w48["marketing_cost"]) == (7, 999)
    assert w46["deals_lost"] == 1 and w46["win_rate"] == 0.0  # D5 lost on Sunday 20:00
    assert w48["revenue"] == 700_000  # D7 won at Monday 00:00 is next week's
    assert w46["lead_to_opportunity_rate"] == 1.0  # H4 (W46 cohort) became D2 in W47


def test_a_custom_range_with_both_days_inclusive_equals_the_week(kpi_data):
    custom = Period.between(dt.date(2026, 11, 16), dt.date(2026, 11, 22))
    week, same = compute([W47, custom], now=NOW)
    assert week == same


def test_a_month_and_a_quarter(kpi_data):
    november, q4 = compute([Period.parse("2026-11"), Period.parse("2026-Q4")], now=NOW)
    assert november["leads_acquired"] == 5  # l1 … l5 are all November's
    assert november["revenue"] == 4_900_000  # D1 + D3 + D7 (23rd)
    assert q4["deals_lost"] == 2  # D4, D5


def test_many_periods_cost_the_same_queries_as_one(kpi_data):
    with CaptureQueriesContext(connection) as one:
        compute([W47], now=NOW)
    with CaptureQueriesContext(connection) as eight:
        compute(W47.trailing(8), now=NOW)
    # The generations of the days the cache keys values by (kpis.changes); then one statement: an aggregate per
    # table and timestamp window (leads; touches; handoffs by MQL, decision, first touch and SLA due time; deals
    # created, closed, closed before the end and in the trailing year; quotes sent and answered; campaign costs)
    # and the hand-entered values, cross-joined.
    assert len(one.captured_queries) == len(eight.captured_queries) == 2
    with CaptureQueriesContext(connection) as fresh:
        compute(W47.trailing(8), now=NOW, fresh=True)
    assert len(fresh.captured_queries) == 1  # nothing from the cache: no generations to read


def test_several_kinds_of_period_with_their_own_kpis_in_one_call(kpi_data):
    """The weekly review's numbers: the week whole, last week, and the meeting's KPIs month and quarter to date."""
    week, last, month, quarter = W47, W47.previous(), Period.parse("2026-11"), Period.parse("2026-Q4")
    asks = [
        Ask(week, fresh=True),
        Ask(last, kpis=HEADLINE),
        Ask(month, kpis=HEADLINE),
        Ask(quarter, kpis=HEADLINE),
    ]
    with CaptureQueriesContext(connection) as together:
        values = evaluate(asks, now=NOW)
    assert len(together.captured_queries) == 2
    assert values[0] == compute([week], now=NOW, fresh=True)[0]
    for ask, got in zip(asks[1:], values[1:], strict=True):
        assert got == compute([ask.period], kpis=HEADLINE, now=NOW, fresh=True)[0]
        assert set(got) == {kpi.key for kpi in HEADLINE}
    # read again: the periods over by now come from the cache, with the same values
    assert evaluate(asks, now=NOW) == values


def test_the_sla_counts_only_what_has_fallen_due(kpi_data):
    midweek = dt.datetime(2026, 11, 17, 12, 0, tzinfo=NOW.tzinfo)  # H1 due Mon 13:00; H2 due Tue 14:00
    values = compute([W47], now=midweek)[0]
    assert values["sla_compliance"] == 1.0
    assert values["sla_breaches"] == 0


def test_unique_visitors_of_whole_periods_equal_the_page_views_counted_directly(kpi_data):
    """Whole weeks, months and quarters read the roll-up the PostgreSQL trigger keeps; a custom range of the same
    days counts the page views themselves: both agree, at Tokyo midnights too."""
    from kpis.models import VisitorPeriod

    visitors = [KPI_BY_KEY["visitors"]]
    for period in (W47.previous(), W47, W47.next(), Period.parse("2026-11"), Period.parse("2026-Q4")):
        custom = Period.between(period.start, period.end - dt.timedelta(days=1))
        rolled, counted = compute([period, custom], kpis=visitors, now=NOW)
        assert rolled == counted, period
    assert compute([W47], kpis=visitors, now=NOW)[0]["visitors"] == EVERYONE["visitors"]
    if connection.vendor == "postgresql":
        assert VisitorPeriod.objects.filter(kind="week", start=W47.start).count() == EVERYONE["visitors"]


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the visitor roll-up is kept by a PostgreSQL trigger"
)
def test_visitor_counts_are_deltas_folded_into_one_row_per_period(kpi_data):
    from django.db.models import Count, Sum

    from kpis.models import VisitorCount, VisitorPeriod
    from kpis.services import visitor_counts_compact
    from leads.models import Touch

    def counts(model, value):
        rows = model.objects.values_list("kind", "start").annotate(n=value)
        return {(kind, start): n for kind, start, n in rows.values_list("kind", "start", "n")}

    # one more statement: a known visitor again (no change) and a new one (one more in its week, month, quarter)
    Touch.objects.bulk_create(
        [
            Touch(
                visitor_id=visitor,
                type="page_view",
                occurred_at=jst(11, 18, 9),
                source="test",
                idempotency_key=key,
            )
            for visitor, key in (("v-new", "t-new"), ("v-new", "t-new-2"))
        ]
    )
    assert VisitorCount.objects.count() > len(
        counts(VisitorCount, Sum("visitors"))
    )  # deltas, several per period
    expected = counts(VisitorPeriod, Count("*"))
    assert counts(VisitorCount, Sum("visitors")) == expected
    assert visitor_counts_compact() > 0
    assert counts(VisitorCount, Count("*")) == dict.fromkeys(expected, 1)
    assert counts(VisitorCount, Sum("visitors")) == expected
    assert compute([W47], kpis=[KPI_BY_KEY["visitors"]], now=NOW)[0]["visitors"] == EVERYONE["visitors"] + 1


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the visitor roll-up is kept by a PostgreSQL trigger"
)
def test_rebuilding_the_visitor_roll_up_gives_what_the_trigger_kept(kpi_data):
    from django.db.models import Sum

    from kpis.models import VisitorCount, VisitorPeriod

    def rows():
        periods = sorted(VisitorPeriod.objects.values_list("kind", "start", "visitor"))
        counts = {
            (kind, start): n
            for kind, start, n in VisitorCount.objects.values("kind", "start")
            .annotate(n=Sum("visitors"))
            .values_list("kind", "start", "n")
        }
        return periods, counts

    kept = rows()
    assert kept[0]

    out = io.StringIO()
    call_command("visitors_rebuild", stdout=out)

    assert f"{len(kept[0])} visitor-periods" in out.getvalue()

    assert rows() == kept
    assert compute([W47], kpis=[KPI_BY_KEY["visitors"]], now=NOW)[0]["visitors"] == EVERYONE["visitors"]


def test_every_kpi_has_a_drilldown_and_known_measures():
    for kpi in KPIS:
        assert kpi.drilldown in DRILLDOWNS, kpi.key
        for name in kpi.measures:
            assert name in MEASURES_BY_NAME or kpi.manual or name == "market_size", (kpi.key, name)
        for other in kpi.inputs:
            assert other in KPI_BY_KEY, (kpi.key, other)
        assert kpi.name_ja and str(kpi.name_en) and str(kpi.definition)


@pytest.mark.parametrize(
    ("key", "expected_count"),
    [
        ("leads_acquired", 3),
        ("visitors", 4),
        ("mqls", 4),
        ("sqls", 2),
        ("opportunities_marketing_sourced", 2),
        ("opportunities_marketing_influenced", 1),
        ("deals_won", 2),
        ("deals_lost", 1),
        ("sla_breaches", 1),
        ("handoffs_rejected", 1),
        ("marketing_cost", 2),  # two cost lines
        ("win_rate", 3),  # the closed deals, won ones marked
        ("lead_quality", 3),
        ("ltv", 2),  # two customer companies
        ("quotes_sent", 2),
        ("quote_acceptance_rate", 2),  # the quotes sent, the accepted one marked
        ("quotes_accepted", 2),
    ],
)
def test_the_drilldown_lists_the_records_behind_the_number(kpi_data, key, expected_count):
    from kpis.registry import get_kpi

    spec = DRILLDOWNS[get_kpi(key).drilldown]
    rows = spec.rows(W47, Scope(), NOW)
    assert rows.count() == expected_count


def test_ratio_drilldowns_mark_the_numerator(kpi_data):
    rows = list(DRILLDOWNS["deals_closed"].rows(W47, Scope(), NOW))
    assert sorted((d.name, d.counted) for d in rows) == [("D1", True), ("D3", True), ("D4", False)]


def test_missing_values_show_a_dash_in_every_unit():
    template = Template("{% load kpis %}{% for k in kpis %}{{ none|kpi_value:k }}|{% endfor %}")
    with translation.override("ja"):
        rendered = template.render(Context({"kpis": KPIS, "none": None}))
    assert rendered.split("|")[:-1] == ["—"] * len(KPIS)


@pytest.mark.parametrize(
    ("key", "value", "ja", "en"),
    [
        ("revenue", 4_200_000, "4,200,000円", "¥4,200,000"),
        ("win_rate", 0.666667, "66.7%", "66.7%"),
        ("leads_acquired", 1234, "1,234", "1,234"),
        ("speed_to_lead_minutes", 225.0, "3時間45分", "3h 45m"),
    ],
)
def test_values_are_formatted_by_unit_for_the_viewers_language(key, value, ja, en):
    template = Template("{% load kpis %}{{ value|kpi_value:kpi }}")
    context = Context({"value": value, "kpi": KPI_BY_KEY[key]})
    with translation.override("en"):
        assert template.render(context) == en
    with translation.override("ja"):
        assert template.render(context) in (ja, en)  # until the catalog has the new strings


def test_a_late_change_to_a_closed_period_shows_at_the_next_read_and_the_current_one_is_live(kpi_data, owner):
    """A closed week is read from the cache until a write changes one of its days; the current week is live."""
    from kpis.models import ManualKpiValue
    from leads.models import Lead

    current = Period.week_of(NOW.date())
    closed = current.previous()
    assert closed.is_over(NOW) and not current.is_over(NOW)
    before_closed, before_current = compute([closed, current], now=NOW)
    at = {closed: closed.start_at + dt.timedelta(hours=12), current: NOW - dt.timedelta(minutes=5)}
    for period, when in at.items():
        lead = Lead.objects.create(email=f"late-{period.label}@example.jp", owner=owner)
        Lead.objects.filter(pk=lead.pk).update(created_at=when)
    ManualKpiValue.objects.create(kpi="brand_awareness", period_start=closed.start, value=42)

    late_closed, live_current = compute([closed, current], now=NOW)
    assert late_closed["leads_acquired"] == before_closed["leads_acquired"] + 1
    assert late_closed["brand_awareness"] == 42  # hand-entered values are always read fresh
    assert live_current["leads_acquired"] == before_current["leads_acquired"] + 1
    (fresh,) = compute([closed], now=NOW, fresh=True)
    assert fresh == late_closed == compute([closed], now=NOW)[0]
