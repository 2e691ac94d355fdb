"""Compute KPIs for one or many periods in at most two statements.

One aggregate per source table (leads, touches, handoffs, deals, quotes, lifecycle changes, campaign costs) and
timestamp window holds every measure of that table placed by that timestamp, for every period asked, as
conditional aggregates (FILTER);
the aggregates, the visitors roll-up and the hand-entered values go to the database as ONE statement, each a
one-row derived table (salesmarketing.sql.one_statement), so each still reads its own index range but the page
waits for one round trip. So a dashboard with eight periods of trend, or the weekly review's week, last week and
month and quarter to date (`evaluate`, each period with its own KPIs), costs the same as a single number.

Periods that are over keep their measures from leads, touches, handoffs, deals, quotes, lifecycle changes and
campaign costs in the cache, and so do the whole days of a running period for counts and sums, so a running quarter
reads today's rows, not the quarter's; its medians and distinct counts are kept until a write in the period.
Each cached value's key holds the generations of the days it counts (kpis.models.KpiDay and the KpiMark rows
appended since, by triggers on those tables in the transaction of every write, kpis.changes): a write, today's or
a late one (a deal reopened, a page view backdated, an import), changes its days' generations, so the next read
recomputes just the periods it falls in.
One statement reads the generations, before the rest; KPI_CACHE_SECONDS only bounds how long an unread value is
kept. Costs are cached like the rest (a cost entered for a past day marks that day, however late); hand-entered
values are always read fresh.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import operator
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, connections, router
from django.db.models import Aggregate, Q, Sum
from django.utils import timezone

from campaigns.models import CampaignCost
from kpis.changes import whose
from kpis.models import KpiDay, KpiMark, ManualKpiValue, VisitorCount
from kpis.periods import CUSTOM, KINDS, KPI_TIME_ZONE, Period, local_today
from kpis.registry.base import Kpi, Number
from kpis.registry.definitions import KPIS
from kpis.registry.measures import (
    COST,
    DEAL,
    HANDOFF,
    LEAD,
    LIFECYCLE,
    MANUAL_MEASURES,
    MEASURES_BY_NAME,
    QUOTE,
    TOUCH,
    Measure,
    Scope,
)
from leads.models import Handoff, Lead, LifecycleChange, Touch
from pipeline.models import Deal
from quotes.models import Quote
from salesmarketing.replica import one_database_for_reads
from salesmarketing.sql import OneRow, aggregates_row, one_statement, scalars_row


def _model(source: str):
    return {
        LEAD: Lead,
        TOUCH: Touch,
        HANDOFF: Handoff,
        DEAL: Deal,
        QUOTE: Quote,
        LIFECYCLE: LifecycleChange,
        COST: CampaignCost,
    }[source]


@dataclass(frozen=True)
class _Job:
    """One measure over one period, for result `slot`; `today` marks the rows of a running period from today on,
    read apart from the rest (its days before today come from the cache)."""

    slot: int
    measure: Measure
    period: Period
    today: bool = False

    @property
    def key(self) -> str:
        return f"{self.measure.name}__{self.slot}"


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
    elif Q() not in conditions:
        # Only rows some measure counts (deals won or lost, by their close): an index on the condition's column
        # reads those instead of every row of the table in the window.
        where &= functools.reduce(operator.or_, conditions)
    return where


CACHED_SOURCES = (LEAD, TOUCH, HANDOFF, DEAL, QUOTE, LIFECYCLE, COST)
CACHE_VERSION = 3  # raise when a measure's SQL changes meaning, so no cached value outlives it


@dataclass(frozen=True)
class Ask:
    """One period to evaluate: its KPIs (every one when None), and `fresh` to compute it whole, past the cache
    (drill-downs, snapshots)."""

    period: Period
    kpis: Sequence[Kpi] | None = None
    fresh: bool = False


def compute_measures(
    names: Iterable[str],
    periods: Sequence[Period],
    *,
    scope: Scope,
    now: dt.datetime,
    fresh: bool = False,
) -> list[dict[str, Number]]:
    """The raw measures for each period (see _measure_asks)."""
    names = list(names)
    return _measure_asks([(names, period, fresh) for period in periods], scope=scope, now=now)


@dataclass
class _Plan:
    """How one asked period is read: which measures may come from the cache, which are always computed, and for a
    running period the days before today (`head`), cached apart and read into result slot `head_slot`."""

    slot: int
    period: Period
    cached: list[str]
    split: list[str]
    rest: list[Measure]
    manual: list[str]
    closed: bool = False
    head: Period | None = None
    head_slot: int = -1
    key: str = ""  # the cache key of the closed period's, or of the head's, measures
    # A running period's measures computed over the whole period whose rows do not depend on the clock (medians,
    # distinct counts, windows that end with the period): cached under the generations of the period's days
    # until a write in the period changes one, as a closed period's are.
    live: list[str] = field(default_factory=list)
    live_key: str = ""

    @property
    def key_slot(self) -> int:
        return self.head_slot if self.head is not None else self.slot

    @property
    def key_names(self) -> list[str]:
        return self.split if self.head is not None else self.cached

    @property
    def whole(self) -> list[str]:
        """The cacheable measures computed over the whole period, not as the days before today plus today."""
        return [n for n in self.cached if n not in self.split] if self.head is not None else self.cached


def _plans(
    asks: Sequence[tuple[list[str], Period, bool]], now: dt.datetime
) -> tuple[list[_Plan], list[tuple[tuple[str, ...], Period]]]:
    """Each ask's plan, and the (measures, period) whose days' generations key a cached value."""
    today = local_today(now)
    caching = bool(settings.KPI_CACHE_SECONDS)
    plans: list[_Plan] = []
    wanted: list[tuple[tuple[str, ...], Period]] = []
    for slot, (asked, period, fresh) in enumerate(asks):
        names = list(dict.fromkeys(asked))
        cached = [
            n for n in names if n not in MANUAL_MEASURES and MEASURES_BY_NAME[n].source in CACHED_SOURCES
        ]
        plan = _Plan(
            slot=slot,
            period=period,
            cached=cached,
            split=[n for n in cached if MEASURES_BY_NAME[n].splits_by_day],
            rest=[MEASURES_BY_NAME[n] for n in names if n not in cached and n not in MANUAL_MEASURES],
            manual=[n for n in names if n in MANUAL_MEASURES],
        )
        if caching and not fresh and cached:
            if period.is_over(now):
                plan.closed = True
                wanted.append((tuple(cached), period))
            else:
                if plan.split and period.start < today < period.end:
                    plan.head = Period(CUSTOM, period.start, today)
                    plan.head_slot = len(asks) + len(wanted)
                    wanted.append((tuple(plan.split), plan.head))
                plan.live = [n for n in plan.whole if not MEASURES_BY_NAME[n].moves_with_now]
                if plan.live:
                    wanted.append((tuple(plan.live), period))
        plans.append(plan)
    return plans, wanted


@one_database_for_reads()
def _measure_asks(
    asks: Sequence[tuple[list[str], Period, bool]], *, scope: Scope, now: dt.datetime
) -> list[dict[str, Number]]:
    """The raw measures for each (measure names, period, fresh) asked, in at most two statements whatever the
    periods and measures: the generations of the days the cache keys values by, when some may come from the
    cache; then one statement for everything else (every table's aggregates, the visitors roll-up, the
    hand-entered values).

    With the cache on (KPI_CACHE_SECONDS), measures of leads, touches, handoffs, deals, quotes and lifecycle changes
    of periods that are over come from it, and so do the days before today of a period still running, for the
    counts and sums that add up day by day: only today's rows are read for those. A median or a distinct count over
    a running period is computed whole, then kept under the generations of the period's days until a write in the
    period changes one (unless what it counts moves with the clock: an SLA falls due without a write). A `fresh`
    ask neither reads nor fills the cache: it is computed whole. A cached value is keyed by the generations of its
    days, read first from the same database (`one_database_for_reads`), so it never holds fewer writes than its key
    says, whether the primary or a replica (which only moves forward) was read.
    """
    plans, wanted = _plans(asks, now)
    marks = _generations(wanted, now, scope) if wanted else {}
    keyed = [plan for plan in plans if plan.closed or plan.head is not None]
    for plan in keyed:
        period = plan.head or plan.period
        plan.key = _cache_key(plan.key_names, period, scope, marks[tuple(plan.key_names), period])
    live = [plan for plan in plans if plan.live]
    for plan in live:
        plan.live_key = _cache_key(plan.live, plan.period, scope, marks[tuple(plan.live), plan.period])
    keys = [plan.key for plan in keyed] + [plan.live_key for plan in live]
    hits = cache.get_many(keys) if keys else {}

    slots: list[dict[str, Number]] = [{} for _ in range(len(asks) + len(wanted))]
    jobs: list[_Job] = []
    today = local_today(now)
    for plan in plans:
        jobs += _plan_jobs(plan, hits, slots, today)
    manual = [(plan.slot, name, plan.period) for plan in plans for name in plan.manual]

    _run(jobs, manual, slots, scope, now)
    for plan in plans:
        if plan.head is not None:  # the days before today plus today's
            for name in plan.split:
                before, since = slots[plan.head_slot].get(name), slots[plan.slot].get(name)
                slots[plan.slot][name] = (before or 0) + (since or 0)

    stored = {
        plan.key: {n: slots[plan.key_slot][n] for n in plan.key_names}
        for plan in keyed
        if plan.key not in hits
    } | {
        plan.live_key: {n: slots[plan.slot][n] for n in plan.live}
        for plan in live
        if plan.live_key not in hits
    }
    if stored:
        cache.set_many(stored, settings.KPI_CACHE_SECONDS)
    return slots[: len(asks)]


def _plan_jobs(plan: _Plan, hits: dict, slots: list[dict[str, Number]], today: dt.date) -> list[_Job]:
    """What one plan still has to read, its cache hits put in its slots."""
    jobs = [_Job(plan.slot, measure, plan.period) for measure in plan.rest]
    if plan.key in hits:
        slots[plan.key_slot].update(hits[plan.key])
    elif plan.head is not None:
        jobs += [_Job(plan.head_slot, MEASURES_BY_NAME[n], plan.head) for n in plan.split]
    if plan.head is not None:  # today's rows on their own: added to the days before
        tail = Period(CUSTOM, today, plan.period.end)
        jobs += [_Job(plan.slot, MEASURES_BY_NAME[n].from_day_on(), tail, today=True) for n in plan.split]
    whole = [] if plan.closed and plan.key in hits else plan.whole
    if plan.live_key in hits:
        slots[plan.slot].update(hits[plan.live_key])
        whole = [n for n in whole if n not in plan.live]
    return jobs + [_Job(plan.slot, MEASURES_BY_NAME[n], plan.period) for n in whole]


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


def _generations(
    wanted: list[tuple[tuple[str, ...], Period]], now: dt.datetime, scope: Scope
) -> dict[tuple, str]:
    """For each (measures, period), the generations of the days of each table those measures read for it, in one
    query: the sum and the highest. Every committed write raises the sum (a generation only grows); the highest
    also tells a write rolled back after it was read from a later one that makes the same sum. A team's or an
    owner's measures read the days of the table's changes of whose its rows are too (kpis.changes.whose).

    Each (measures, period) reads each of its tables over one range of days, and the tables' days do not overlap,
    so its sum is the sum of its tables' and its highest the highest of theirs: the query sums each range of days
    once per table (grouped by table: a plain range test per row, and a range several periods share is summed
    once), and the tables' figures are added up here.

    Written as SQL: the same aggregate built with the ORM took ten times longer to compile than to run."""
    using = router.db_for_read(KpiDay)
    db = connections[using]
    source, day, generation = (db.ops.quote_name(name) for name in ("source", "day", "generation"))
    # The folded days and the marks appended since (kpis.changes): a mark adds to its day's sum and highest.
    table = "({}) generations".format(
        " UNION ALL ".join(
            f"SELECT {source}, {day}, {generation} FROM {db.ops.quote_name(model._meta.db_table)}"
            for model in (KpiDay, KpiMark)
        )
    )
    # per (measures, period): {table: (first day or None, day after the last)}
    reads: list[dict[str, tuple[dt.date | None, dt.date]]] = []
    for names, period in wanted:
        by_source: dict[str, list[tuple]] = defaultdict(list)
        for name in names:
            measure = MEASURES_BY_NAME[name]
            window = measure.window(period, now)
            by_source[measure.source].append(window)
            if measure.scoped and not scope.is_everyone:
                by_source[whose(measure.source)].append(window)
        reads.append(
            {
                table_source: (
                    None
                    if None in (lows := [low for low, _high in bounds])
                    else min(_day(low) for low in lows),
                    max(_day(high, up=True) for _low, high in bounds),
                )
                for table_source, bounds in by_source.items()
            }
        )
    ranges = list(dict.fromkeys(days for read in reads for days in read.values()))
    columns: list[str] = []
    params: list[Any] = []
    for low, high in ranges:
        term = f"{day} < %s" + ("" if low is None else f" AND {day} >= %s")
        term_params = [db.ops.adapt_datefield_value(high)]
        if low is not None:
            term_params.append(db.ops.adapt_datefield_value(low))
        columns += [f"SUM({generation}) FILTER (WHERE {term})", f"MAX({generation}) FILTER (WHERE {term})"]
        params += term_params * 2
    sources = sorted({table_source for read in reads for table_source in read})
    with db.cursor() as cursor:
        cursor.execute(
            f"SELECT {source}, {', '.join(columns)} FROM {table} "
            f"WHERE {source} IN ({', '.join(['%s'] * len(sources))}) GROUP BY {source}",
            [*params, *sources],
        )
        figures = {row[0]: row[1:] for row in cursor.fetchall()}
    column_of = {days: 2 * n for n, days in enumerate(ranges)}
    marks = {}
    for key, read in zip(wanted, reads, strict=True):
        total = highest = 0
        for table_source, days in read.items():
            row = figures.get(table_source)
            if row is not None:
                total += int(row[column_of[days]] or 0)
                highest = max(highest, int(row[column_of[days] + 1] or 0))
        marks[key] = f"{total}.{highest}"
    return marks


def _run(
    jobs: list[_Job],
    manual: list[tuple[int, str, Period]],
    slots: list[dict[str, Number]],
    scope: Scope,
    now: dt.datetime,
) -> None:
    """Compute the jobs and the hand-entered values into their slots, in one statement: one aggregate per table,
    timestamp and window, and apart for today's rows of running periods, so each reads one index range (a lifetime
    measure's window would otherwise widen a period's range to the whole table, a median over the period today's
    range to the whole period)."""
    groups: dict[tuple, list[_Job]] = defaultdict(list)
    for job in jobs:
        groups[(job.measure.source, job.measure.date_field, job.measure.window, job.today)].append(job)
    rows: list[OneRow] = []
    aliases: list[dict[str, str]] = []  # per row: job key → column
    for n, ((source, *_rest), group) in enumerate(groups.items()):
        row, columns = _visitors_from_rollup(group, n) or _aggregate(source, group, n, scope, now)
        rows.append(row)
        aliases.append(columns)
    if manual:
        rows.append(_manual(manual))
    values = one_statement(rows)
    for group, columns in zip(groups.values(), aliases, strict=True):
        for job in group:
            slots[job.slot][job.measure.name] = _plain(values[columns[job.key]])
    for slot, name, period in manual:
        value = values[_manual_alias(name, period)]
        slots[slot][name] = None if value is None else float(value)


def _aggregate(
    source: str, jobs: list[_Job], n: int, scope: Scope, now: dt.datetime
) -> tuple[OneRow, dict[str, str]]:
    """The aggregate of one group, as row `n` of the statement. Each distinct aggregate once: for everyone, a
    measure and its unscoped twin (leads and leads_all…) are the same SQL. When every job counts the same rows,
    their condition is the WHERE clause and the aggregates have no FILTER: a FILTER naming a column outside the
    index (a deal's status, for won revenue over the partial index of won deals) rules out an index-only scan."""
    conditions = {job.key: job.measure.row_condition(job.period, now, scope) for job in jobs}
    shared = set(conditions.values())
    where = next(iter(shared)) if len(shared) == 1 else _rows_for(jobs, now)
    aggregates: dict[str, Aggregate] = {}
    first_of: dict[Aggregate, str] = {}
    columns: dict[str, str] = {}
    for job in jobs:
        aggregate = job.measure.aggregate(Q() if len(shared) == 1 else conditions[job.key])
        if (first := first_of.setdefault(aggregate, f"g{n}_{len(aggregates)}")) not in aggregates:
            aggregates[first] = aggregate
        columns[job.key] = first
    return aggregates_row(_model(source).objects.filter(where), aggregates), columns


def _manual_alias(name: str, period: Period) -> str:
    return f"manual_{name}_{period.end:%Y%m%d}"


def _manual(asked: list[tuple[int, str, Period]]) -> OneRow:
    """Hand-entered values: for each period, the latest entry whose period began before this one ended."""
    latest = {
        _manual_alias(name, period): ManualKpiValue.objects.filter(kpi=name, period_start__lt=period.end)
        .order_by("-period_start")
        .values("value")[:1]
        for _slot, name, period in asked
    }
    return scalars_row(latest, using=ManualKpiValue.objects.all().db)


def _visitors_from_rollup(jobs: list[_Job], n: int) -> tuple[OneRow, dict[str, str]] | None:
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
    aggregates: dict[str, Aggregate] = {}
    columns: dict[str, str] = {}
    for job in jobs:
        column = f"g{n}_{job.period.kind}_{job.period.start:%Y%m%d}"
        aggregates[column] = Sum(
            "visitors", filter=Q(kind=job.period.kind, start=job.period.start), default=0
        )
        columns[job.key] = column
    return aggregates_row(VisitorCount.objects.filter(wanted), aggregates), columns


def _plain(value) -> Number:
    """Decimal sums become int or float, so values serialise to JSON as they are."""
    if value is None or isinstance(value, int | float):
        return value
    as_float = float(value)
    return int(as_float) if as_float.is_integer() else as_float


def evaluate(
    asks: Sequence[Ask], *, scope: Scope | None = None, now: dt.datetime | None = None
) -> list[dict[str, Number]]:
    """The KPIs of each asked period, in the order asked: [{key: value}, …]. Periods of different kinds, each
    with its own KPIs and freshness (the weekly review's week, last week, month and quarter to date), cost the
    same two statements as one."""
    scope = scope or Scope()
    now = now or timezone.now()
    if not asks:
        return []
    chosen = [list(ask.kpis) if ask.kpis is not None else list(KPIS) for ask in asks]
    raw = _measure_asks(
        [
            ([name for kpi in kpis for name in kpi.measures], ask.period, ask.fresh)
            for ask, kpis in zip(asks, chosen, strict=True)
        ],
        scope=scope,
        now=now,
    )
    return [
        {kpi.key: kpi.round(kpi.formula(measures)) for kpi in kpis}
        for kpis, measures in zip(chosen, raw, strict=True)
    ]


def compute(
    periods: Sequence[Period],
    *,
    scope: Scope | None = None,
    kpis: Sequence[Kpi] | None = None,
    now: dt.datetime | None = None,
    fresh: bool = False,
) -> list[dict[str, Number]]:
    """Every KPI (or the given ones) for each period, in the order of `periods`: [{key: value}, …]."""
    return evaluate([Ask(period, kpis, fresh) for period in periods], scope=scope, now=now)


def compute_one(period: Period, **kwargs) -> dict[str, Number]:
    return compute([period], **kwargs)[0]
