"""Compute KPIs for one or many periods in a fixed number of queries.

One aggregate query per source table (leads, touches, handoffs, deals, quotes, campaign costs) and timestamp window holds
every measure of that table placed by that timestamp, for every period asked, as conditional aggregates; one more
query reads the hand-entered values. So a dashboard with eight periods of trend costs the same dozen queries as a
single number, and each query reads one index range.

Periods that are over keep their measures from leads, touches, handoffs, deals and quotes in the cache, and so do the
whole days of a running period for counts and sums, so a running quarter reads today's rows, not the quarter's.
Each cached value's key holds the generations of the days it counts (kpis.models.KpiDay, kept by triggers on
those tables in the transaction of every write, kpis.changes): a late write (a deal reopened, a page view
backdated, an import) changes its days' generation, so the next read recomputes just the periods it falls in.
One query reads the generations; KPI_CACHE_SECONDS only bounds how long an unread value is kept. Costs and
hand-entered values are always read fresh.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Aggregate, Max, Q, Sum
from django.utils import timezone

from campaigns.models import CampaignCost
from kpis.models import KpiDay, ManualKpiValue, VisitorCount
from kpis.periods import CUSTOM, KINDS, KPI_TIME_ZONE, Period, local_today
from kpis.registry.base import Kpi, Number
from kpis.registry.definitions import KPIS
from kpis.registry.measures import (
    COST,
    DEAL,
    HANDOFF,
    LEAD,
    MANUAL_MEASURES,
    MEASURES_BY_NAME,
    QUOTE,
    TOUCH,
    Measure,
    Scope,
)
from leads.models import Handoff, Lead, Touch
from pipeline.models import Deal
from quotes.models import Quote
from salesmarketing.replica import reading_from_replica


def _model(source: str):
    return {LEAD: Lead, TOUCH: Touch, HANDOFF: Handoff, DEAL: Deal, QUOTE: Quote, COST: CampaignCost}[source]


@dataclass(frozen=True)
class _Job:
    """One measure over one period, for result `index`; `add` adds it to a value already there (the days of an
    open period before today, from the cache, plus today's)."""

    index: int
    measure: Measure
    period: Period
    add: bool = False

    @property
    def key(self) -> str:
        return f"{self.measure.name}__{self.index}"


def _rows_for(jobs: Iterable[_Job], now: dt.datetime) -> Q:
    """A WHERE clause that keeps every row any of the jobs may count, so the aggregate reads only those: from the
    earliest start to the latest end asked for, and the measures' own condition when they all have the same one
    (page views only, for visitors)."""
    low = high = None
    conditions = set()
    field = ""
    for job in jobs:
        field = job.measure.date_field
        conditions.add(job.measure.condition)
        job_low, job_high = job.measure.window(job.period, now)
        if high is None:
            low, high = job_low, job_high
        else:
            low = None if job_low is None or low is None else min(low, job_low)
            high = max(high, job_high)
    where = Q(**{f"{field}__lt": high})
    if low is not None:
        where &= Q(**{f"{field}__gte": low})
    if len(conditions) == 1:
        where &= next(iter(conditions))
    return where


CACHED_SOURCES = (LEAD, TOUCH, HANDOFF, DEAL, QUOTE)
CACHE_VERSION = 3  # raise when a measure's SQL changes meaning, so no cached value outlives it


def compute_measures(
    names: Iterable[str],
    periods: Sequence[Period],
    *,
    scope: Scope,
    now: dt.datetime,
    fresh: bool = False,
    _marks: dict[tuple, str] | None = None,
) -> list[dict[str, Number]]:
    """The raw measures for each period, in one query per source table and timestamp window, plus one for
    hand-entered values.

    With the cache on (KPI_CACHE_SECONDS), measures of leads, touches, handoffs, deals and quotes of periods that are over
    come from it, and so do the days before today of a period still running, for the counts and sums that add
    up day by day (a median or a distinct count over the period is always computed whole): only today's rows are
    read for those. `fresh` neither reads nor fills the cache: every period is computed whole (drill-downs,
    snapshots). A cached value is keyed by the generations of its days, read first (one query for all of them, `_marks`),
    so it never holds fewer writes than its key says.
    """
    names = list(dict.fromkeys(names))
    cached_names = [
        n for n in names if n not in MANUAL_MEASURES and MEASURES_BY_NAME[n].source in CACHED_SOURCES
    ]
    split_names = [n for n in cached_names if MEASURES_BY_NAME[n].splits_by_day]
    rest = [MEASURES_BY_NAME[n] for n in names if n not in cached_names and n not in MANUAL_MEASURES]
    use_cache = not fresh and bool(settings.KPI_CACHE_SECONDS) and bool(cached_names)
    today = local_today(now)
    closed = [i for i, p in enumerate(periods) if use_cache and p.is_over(now)]
    heads = {
        i: Period(CUSTOM, period.start, today)
        for i, period in enumerate(periods)
        if use_cache and i not in closed and split_names and period.start < today < period.end
    }
    if _marks is None and (closed or heads):
        wanted = [(tuple(cached_names), periods[i]) for i in closed]
        wanted += [(tuple(split_names), head) for head in heads.values()]
        _marks = _generations(wanted, now)
    keys = {
        i: _cache_key(cached_names, periods[i], scope, _marks[tuple(cached_names), periods[i]])
        for i in closed
    }
    hits = cache.get_many(list(keys.values())) if keys else {}

    results: list[dict[str, Number]] = [{} for _ in periods]
    jobs: list[_Job] = []
    for i, period in enumerate(periods):
        jobs += [_Job(i, measure, period) for measure in rest]
        if keys.get(i) in hits:
            results[i].update(hits[keys[i]])
            continue
        whole = cached_names
        if i in heads:
            tail = Period(CUSTOM, today, period.end)
            jobs += [_Job(i, MEASURES_BY_NAME[n].from_day_on(), tail, add=True) for n in split_names]
            whole = [n for n in cached_names if n not in split_names]
        jobs += [_Job(i, MEASURES_BY_NAME[n], period) for n in whole]

    # The whole days of running periods are closed ranges: cached like any period that is over.
    head_values = (
        compute_measures(split_names, list(heads.values()), scope=scope, now=now, _marks=_marks)
        if heads
        else []
    )
    for i, values in zip(heads, head_values, strict=True):
        results[i].update(values)
    _run(jobs, results, scope, now)
    # Never cache what a replica read: it may be a moment behind a write that has just invalidated the cache,
    # and the stale numbers would then outlive the invalidation.
    if reading_from_replica():
        keys = {}
    if to_store := {keys[i]: {n: results[i][n] for n in cached_names} for i in keys if keys[i] not in hits}:
        cache.set_many(to_store, settings.KPI_CACHE_SECONDS)

    manual = [n for n in names if n in MANUAL_MEASURES]
    if manual:
        _read_manual(manual, periods, results)
    return results


def _cache_key(names: list[str], period: Period, scope: Scope, mark: str) -> str:
    digest = hashlib.sha256(",".join(sorted(names)).encode()).hexdigest()[:12]
    return (
        f"kpi:{CACHE_VERSION}:{digest}:{scope.team_id}:{scope.owner_id}:{period.kind}:{period.start}:{period.end}"
        f":{mark}"
    )


def _day(bound: dt.datetime | dt.date, *, up: bool = False) -> dt.date:
    """The local day a window's bound falls on; `up`, for an exclusive end: the day after, unless at midnight."""
    if not isinstance(bound, dt.datetime):
        return bound
    local = bound.astimezone(KPI_TIME_ZONE)
    return local.date() + dt.timedelta(days=1) if up and local.time() != dt.time.min else local.date()


def _generations(wanted: list[tuple[tuple[str, ...], Period]], now: dt.datetime) -> dict[tuple, str]:
    """For each (measures, period), the generations of the days of each table those measures read for it, in one
    query: the sum and the highest. Every committed write raises the sum (a generation only grows); the highest
    also tells a write rolled back after it was read from a later one that makes the same sum."""
    aggregates = {}
    for n, (names, period) in enumerate(wanted):
        by_source: dict[str, list[tuple]] = defaultdict(list)
        for name in names:
            by_source[MEASURES_BY_NAME[name].source].append(MEASURES_BY_NAME[name].window(period, now))
        where = Q()
        for source, bounds in by_source.items():
            days = Q(source=source, day__lt=max(_day(high, up=True) for _low, high in bounds))
            if None not in (lows := [low for low, _high in bounds]):
                days &= Q(day__gte=min(_day(low) for low in lows))
            where = where | days if where else days
        aggregates[f"s{n}"] = Sum("generation", filter=where, default=0)
        aggregates[f"m{n}"] = Max("generation", filter=where, default=0)
    row = KpiDay.objects.aggregate(**aggregates)
    return {key: f"{row[f's{n}']}.{row[f'm{n}']}" for n, key in enumerate(wanted)}


def _run(jobs: list[_Job], results: list[dict[str, Number]], scope: Scope, now: dt.datetime) -> None:
    """Compute the jobs into `results`: one query per table, timestamp and window, and apart for today's rows of
    running periods, so each query reads one index range (a lifetime measure's window would otherwise widen a
    period's range to the whole table, a median over the period today's range to the whole period)."""
    groups: dict[tuple, list[_Job]] = defaultdict(list)
    for job in jobs:
        groups[(job.measure.source, job.measure.date_field, job.measure.window, job.add)].append(job)
    for (source, *_rest), group in groups.items():
        values = _visitors_from_rollup(group)
        if values is None:
            values = _aggregate(source, group, scope, now)
        for job in group:
            value = values[job.key]
            if job.add:
                value = (results[job.index].get(job.measure.name) or 0) + (value or 0)
            results[job.index][job.measure.name] = value


def _aggregate(source: str, jobs: list[_Job], scope: Scope, now: dt.datetime) -> dict[str, Number]:
    """One query for the jobs of one group. Each distinct aggregate once: for everyone, a measure and its
    unscoped twin (leads and leads_all…) are the same SQL. When every job counts the same rows, their condition
    is the WHERE clause and the aggregates have no FILTER: a FILTER naming a column outside the index (a deal's
    status, for won revenue over the partial index of won deals) rules out an index-only scan."""
    conditions = {job.key: job.measure.row_condition(job.period, now, scope) for job in jobs}
    shared = set(conditions.values())
    where = next(iter(shared)) if len(shared) == 1 else _rows_for(jobs, now)
    aggregates: dict[str, Aggregate] = {}
    first_of: dict[Aggregate, str] = {}
    same_as: dict[str, str] = {}
    for job in jobs:
        aggregate = job.measure.aggregate(Q() if len(shared) == 1 else conditions[job.key])
        if (first := first_of.setdefault(aggregate, job.key)) == job.key:
            aggregates[job.key] = aggregate
        else:
            same_as[job.key] = first
    row = _model(source).objects.filter(where).aggregate(**aggregates)
    row.update({key: row[first] for key, first in same_as.items()})
    return {key: _plain(value) for key, value in row.items()}


def _read_manual(names: list[str], periods: Sequence[Period], results: list[dict[str, Number]]) -> None:
    """Hand-entered values: for each period, the latest entry whose period began before this one ended."""
    last_end = max(period.end for period in periods)
    entries = list(
        ManualKpiValue.objects.filter(kpi__in=names, period_start__lt=last_end)
        .order_by("kpi", "-period_start")
        .values_list("kpi", "period_start", "value")
    )
    for index, period in enumerate(periods):
        for name in names:
            results[index][name] = next(
                (float(v) for k, start, v in entries if k == name and start < period.end), None
            )


def _visitors_from_rollup(jobs: list[_Job]) -> dict[str, Number] | None:
    """Unique visitors of whole weeks, months and quarters, summed from the counts a trigger keeps on PostgreSQL
    (kpis.models.VisitorCount, a few rows per period); None when it does not apply (SQLite, a custom range, or
    other touch measures asked at the same time), so the page views are counted instead."""
    if connection.vendor != "postgresql" or any(job.measure.name != "visitors" for job in jobs):
        return None
    periods = [job.period for job in jobs]
    if any(period.kind not in KINDS or Period.of(period.kind, period.start) != period for period in periods):
        return None
    wanted = Q()
    for period in periods:
        wanted |= Q(kind=period.kind, start=period.start)
    counts = {
        (kind, start): n
        for kind, start, n in VisitorCount.objects.filter(wanted)
        .values("kind", "start")
        .annotate(n=Sum("visitors"))
        .values_list("kind", "start", "n")
    }
    return {job.key: int(counts.get((job.period.kind, job.period.start), 0)) for job in jobs}


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
