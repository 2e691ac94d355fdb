"""Compute KPIs for one or many periods in a fixed number of queries.

One aggregate query per source table (leads, touches, handoffs, deals, campaign costs) holds every measure of
that table for every period asked, as conditional aggregates; one more query reads the hand-entered values.
So a dashboard with eight periods of trend costs the same six queries as a single number.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence

from django.db.models import Q
from django.utils import timezone

from kpis.periods import Period
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


def compute_measures(
    names: Iterable[str], periods: Sequence[Period], *, scope: Scope, now: dt.datetime
) -> list[dict[str, Number]]:
    """The raw measures for each period: one query per source table, plus one for hand-entered values."""
    results: list[dict[str, Number]] = [{} for _ in periods]
    by_source: dict[str, list[Measure]] = defaultdict(list)
    manual: list[str] = []
    for name in dict.fromkeys(names):
        if name in MANUAL_MEASURES:
            manual.append(name)
        else:
            by_source[MEASURES_BY_NAME[name].source].append(MEASURES_BY_NAME[name])

    for source, measures in by_source.items():
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
) -> list[dict[str, Number]]:
    """Every KPI (or the given ones) for each period, in the order of `periods`: [{key: value}, …]."""
    from kpis.registry import KPIS

    kpis = list(kpis) if kpis is not None else list(KPIS)
    scope = scope or Scope()
    now = now or timezone.now()
    if not periods:
        return []
    names = [name for kpi in kpis for name in kpi.measures]
    raw = compute_measures(names, periods, scope=scope, now=now)
    return [{kpi.key: kpi.round(kpi.formula(measures)) for kpi in kpis} for measures in raw]


def compute_one(period: Period, **kwargs) -> dict[str, Number]:
    return compute([period], **kwargs)[0]
