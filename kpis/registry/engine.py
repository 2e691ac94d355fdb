"""Compute KPIs for one or many periods in a fixed number of queries.

One aggregate query per source table (leads, touches, handoffs, deals, campaign costs) holds every measure of
that table for every period asked, as conditional aggregates; one more query reads the hand-entered values.
So a dashboard with eight periods of trend costs the same six queries as a single number.

Periods that are over change little (a deal made from an old handoff, a late event), so their measures from
leads, touches, handoffs and deals are kept in the cache for KPI_CACHE_SECONDS (beat refreshes the dashboards'
before they expire); costs and hand-entered values, often entered after the period, are always read fresh.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone

from kpis.periods import KINDS, Period
from kpis.registry.base import Kpi, Number
from kpis.registry.measures import (
    COST,
    DEAL,
    HANDOFF,
    LEAD,
    MANUAL_MEASURES,
    MEASURES_BY_NAME,
    TOUCH,
    Measure,
    Scope,
)


def _model(source: str):
    from campaigns.models import CampaignCost
    from leads.models import Handoff, Lead, Touch
    from pipeline.models import Deal

    return {LEAD: Lead, TOUCH: Touch, HANDOFF: Handoff, DEAL: Deal, COST: CampaignCost}[source]


def _rows_for(measures: Iterable[Measure], periods: Sequence[Period], now: dt.datetime) -> Q:
    """A WHERE clause that keeps every row any of the measures may count, so the aggregate reads only those:
    per timestamp field, from the earliest start to the latest end asked for, and the measures' own condition
    when every measure on that field has the same one (page views only, for visitors)."""
    bounds: dict[str, list] = {}
    conditions: dict[str, set] = defaultdict(set)
    for measure in measures:
        conditions[measure.date_field].add(measure.condition)
        for period in periods:
            low, high = measure.window(period, now)
            current = bounds.setdefault(measure.date_field, [low, high])
            current[0] = None if low is None or current[0] is None else min(current[0], low)
            current[1] = max(current[1], high)
    where = Q()
    for field, (low, high) in bounds.items():
        q = Q(**{f"{field}__lt": high})
        if low is not None:
            q &= Q(**{f"{field}__gte": low})
        if len(conditions[field]) == 1:
            q &= next(iter(conditions[field]))
        where |= q
    return where


CACHED_SOURCES = (LEAD, TOUCH, HANDOFF, DEAL)
CACHE_VERSION = 1  # raise when a measure's SQL changes meaning, so no cached value outlives it


def compute_measures(
    names: Iterable[str], periods: Sequence[Period], *, scope: Scope, now: dt.datetime, fresh: bool = False
) -> list[dict[str, Number]]:
    """The raw measures for each period: one query per source table, plus one for hand-entered values; the
    measures of periods that are over come from the cache when it has them (`fresh` recomputes and stores)."""
    names = list(dict.fromkeys(names))
    cached_names = [
        n for n in names if n not in MANUAL_MEASURES and MEASURES_BY_NAME[n].source in CACHED_SOURCES
    ]
    keys = {}
    if settings.KPI_CACHE_SECONDS and cached_names:
        keys = {i: _cache_key(cached_names, p, scope) for i, p in enumerate(periods) if p.is_over(now)}
    hits = {} if fresh or not keys else cache.get_many(list(keys.values()))
    todo = [i for i in range(len(periods)) if keys.get(i) not in hits]
    rest = [n for n in names if n not in cached_names]
    results = [dict(hits[keys[i]]) if i not in todo else {} for i in range(len(periods))]
    for i, values in zip(todo, _compute(cached_names, [periods[i] for i in todo], scope, now), strict=True):
        results[i].update(values)
    if to_store := {keys[i]: results[i] for i in todo if i in keys}:
        cache.set_many(to_store, settings.KPI_CACHE_SECONDS)
    for values, more in zip(results, _compute(rest, periods, scope, now), strict=True):
        values.update(more)
    return results


def _cache_key(names: list[str], period: Period, scope: Scope) -> str:
    digest = hashlib.sha256(",".join(sorted(names)).encode()).hexdigest()[:12]
    return f"kpi:{CACHE_VERSION}:{digest}:{scope.team_id}:{scope.owner_id}:{period.kind}:{period.start}:{period.end}"


def _compute(
    names: list[str], periods: Sequence[Period], scope: Scope, now: dt.datetime
) -> list[dict[str, Number]]:
    results: list[dict[str, Number]] = [{} for _ in periods]
    if not names or not periods:
        return results
    by_source: dict[str, list[Measure]] = defaultdict(list)
    manual: list[str] = []
    for name in names:
        if name in MANUAL_MEASURES:
            manual.append(name)
        else:
            by_source[MEASURES_BY_NAME[name].source].append(MEASURES_BY_NAME[name])

    for source, measures in by_source.items():
        if (visitors := _visitors_from_rollup(measures, periods)) is not None:
            for index, value in enumerate(visitors):
                results[index]["visitors"] = value
            continue
        aggregates = {
            f"{measure.name}__{index}": measure.aggregate(measure.row_condition(period, now, scope))
            for index, period in enumerate(periods)
            for measure in measures
        }
        row = _model(source).objects.filter(_rows_for(measures, periods, now)).aggregate(**aggregates)
        for key, value in row.items():
            name, index = key.rsplit("__", 1)
            results[int(index)][name] = _plain(value)

    if manual:
        from kpis.models import ManualKpiValue

        last_end = max(period.end for period in periods)
        entries = list(
            ManualKpiValue.objects.filter(kpi__in=manual, period_start__lt=last_end)
            .order_by("kpi", "-period_start")
            .values_list("kpi", "period_start", "value")
        )
        for index, period in enumerate(periods):
            for name in manual:
                # the latest entry whose period began before this one ended
                results[index][name] = next(
                    (float(v) for k, start, v in entries if k == name and start < period.end), None
                )
    return results


def _visitors_from_rollup(measures: list[Measure], periods: Sequence[Period]) -> list[int] | None:
    """Unique visitors of whole weeks, months and quarters, counted from the roll-up a trigger keeps on
    PostgreSQL (kpis.models.VisitorPeriod) in one index range per period; None when it does not apply (SQLite,
    a custom range, or other touch measures asked at the same time), so the page views are counted instead."""
    if connection.vendor != "postgresql" or [measure.name for measure in measures] != ["visitors"]:
        return None
    if any(period.kind not in KINDS or Period.of(period.kind, period.start) != period for period in periods):
        return None
    from kpis.models import VisitorPeriod

    wanted = Q()
    for period in periods:
        wanted |= Q(kind=period.kind, start=period.start)
    counts = {
        (kind, start): n
        for kind, start, n in VisitorPeriod.objects.filter(wanted)
        .values("kind", "start")
        .annotate(n=Count("*"))
        .values_list("kind", "start", "n")
    }
    return [counts.get((period.kind, period.start), 0) for period in periods]


def _plain(value) -> Number:
    """Decimal sums become int or float, so values serialise to JSON as they are."""
    if value is None or isinstance(value, int | float):
        return value
    as_float = float(value)
    return int(as_float) if as_float.is_integer() else as_float


def compute(
    periods: Sequence[Period],
    *,
    scope: Scope | None = None,
    kpis: Sequence[Kpi] | None = None,
    now: dt.datetime | None = None,
    fresh: bool = False,
) -> list[dict[str, Number]]:
    """Every KPI (or the given ones) for each period, in the order of `periods`: [{key: value}, …]."""
    from kpis.registry import KPIS

    kpis = list(kpis) if kpis is not None else list(KPIS)
    scope = scope or Scope()
    now = now or timezone.now()
    if not periods:
        return []
    names = [name for kpi in kpis for name in kpi.measures]
    raw = compute_measures(names, periods, scope=scope, now=now, fresh=fresh)
    return [{kpi.key: kpi.round(kpi.formula(measures)) for kpi in kpis} for measures in raw]


def compute_one(period: Period, **kwargs) -> dict[str, Number]:
    return compute([period], **kwargs)[0]
