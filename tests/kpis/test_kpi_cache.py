"""What the KPI cache keeps and when it is read: periods that are over, and the days before today of a running
period for counts and sums. The numbers must not change with the cache, only where they are read from."""

from __future__ import annotations

import datetime as dt

from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kpis.periods import KINDS, Period
from kpis.registry import Scope, compute
from kpis.selectors import TREND_PERIODS, dashboards_refresh
from leads.models import Handoff
from salesmarketing.models import Team
from tests.kpis.conftest import NOW, _handoff, _lead, jst

NOVEMBER, Q4 = Period.parse("2026-11"), Period.parse("2026-Q4")  # both running on NOW, Wednesday 25 November


def test_running_periods_from_the_cache_equal_them_computed_whole(kpi_data, settings):
    _lead("today@example.jp", NOW - dt.timedelta(hours=1))  # today's rows are on top of the cached days
    cold = compute([NOVEMBER, Q4], now=NOW)
    warm = compute([NOVEMBER, Q4], now=NOW)
    fresh = compute([NOVEMBER, Q4], now=NOW, fresh=True)
    settings.KPI_CACHE_SECONDS = 0  # no cache: every period is read whole
    whole = compute([NOVEMBER, Q4], now=NOW)
    assert cold == warm == fresh == whole
    assert whole[0]["leads_acquired"] > 0 and whole[0]["revenue"] > 0


def test_todays_rows_and_a_backdated_one_count_at_the_next_read(kpi_data):
    before = compute([NOVEMBER], now=NOW)[0]["leads_acquired"]
    _lead("today@example.jp", NOW - dt.timedelta(hours=1))
    assert compute([NOVEMBER], now=NOW)[0]["leads_acquired"] == before + 1
    # A lead dated last week (an import, say) after the days before today were cached: its day's generation
    # changed, so the cached days are read again at once, without waiting for beat or the cache to expire.
    _lead("imported@example.jp", jst(11, 20, 12))
    assert compute([NOVEMBER], now=NOW)[0]["leads_acquired"] == before + 2


def test_the_first_day_of_a_period_has_no_days_before_it_to_cache(kpi_data):
    first_of_month = dt.datetime(2026, 11, 1, 9, 0, tzinfo=NOW.tzinfo)
    values = compute([NOVEMBER], now=first_of_month)[0]
    cache.clear()
    assert compute([NOVEMBER], now=first_of_month, fresh=True)[0] == values


def test_the_refresh_fills_every_trend_with_the_numbers_computed_whole(kpi_data):
    assert dashboards_refresh(now=NOW) == len(KINDS) * (Team.objects.count() + 1)  # everyone and each team
    for kind in KINDS:
        trend = Period.current(kind, NOW).trailing(TREND_PERIODS)
        for scope in (Scope(), Scope(team_id=kpi_data.t1.pk)):
            assert compute(trend, scope=scope, now=NOW) == compute(trend, scope=scope, now=NOW, fresh=True)


def test_a_running_periods_medians_and_distinct_counts_are_kept_until_a_write_in_it(kpi_data, owner):
    """MQLs (distinct leads) and speed to lead (a median) cannot be added up day by day: a running period's are
    computed whole, then read from the cache until a write in the period; the next read after it includes it."""

    def read() -> tuple[dict, str]:
        with CaptureQueriesContext(connection) as queries:
            values = compute([NOVEMBER, Q4], now=NOW)[0]
        return values, " ".join(q["sql"] for q in queries.captured_queries)

    cold, sql = read()
    assert "COUNT(DISTINCT" in sql.upper()
    warm, sql = read()
    assert warm == cold and "COUNT(DISTINCT" not in sql.upper()

    lead = _lead("mql-today@example.jp", NOW - dt.timedelta(hours=3))
    handoff = _handoff(lead, owner=owner, mql_at=NOW - dt.timedelta(hours=2))
    after, _sql = read()
    assert after["mqls"] == cold["mqls"] + 1
    Handoff.objects.filter(pk=handoff.pk).update(first_touch_at=handoff.mql_at + dt.timedelta(hours=9))
    touched, _sql = read()
    assert touched["speed_to_lead_minutes"] != after["speed_to_lead_minutes"]
    assert touched == compute([NOVEMBER], now=NOW, fresh=True)[0]


def test_what_falls_due_with_the_clock_is_not_kept_for_a_running_period(kpi_data, owner):
    """An SLA falls due without a write: on a period's first day (no days before today, so every measure is read
    over the whole period), the compliance read two hours later counts the handoff due since."""
    first_of_month = dt.datetime(2026, 11, 1, 10, 0, tzinfo=NOW.tzinfo)
    lead = _lead("due-soon@example.jp", first_of_month - dt.timedelta(hours=1))
    _handoff(lead, owner=owner, mql_at=first_of_month - dt.timedelta(minutes=30), sla_hours=1)  # untouched
    assert compute([NOVEMBER], now=first_of_month)[0]["sla_compliance"] is None  # nothing due yet
    later = first_of_month + dt.timedelta(hours=2)
    assert compute([NOVEMBER], now=later)[0]["sla_compliance"] == 0
