"""The forecast by month of expected close: weighted, commit and best case; won counts as closed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, Q, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from pipeline.models import COMMIT_PROBABILITY, Deal
from pipeline.selectors.access import WEIGHTED_SUM, ZERO, BoardFilters, filtered_deals
from salesmarketing.models import User
from salesmarketing.replica import reads_from_replica


@dataclass
class ForecastRow:
    month: dt.date | None  # None: open deals whose expected close date is before the first month shown
    count: int = 0
    pipeline: Decimal = ZERO  # open amount
    weighted_open: Decimal = ZERO  # Σ amount × probability of open deals
    commit_open: Decimal = ZERO  # open deals at or above the commit probability
    won: Decimal = ZERO  # closed: won amounts, by the month they closed
    won_count: int = 0
    bar: tuple[float, float, float] = (
        0.0,
        0.0,
        0.0,
    )  # won / commit / rest of best case, % of the largest month

    @property
    def weighted(self) -> Decimal:
        return self.won + self.weighted_open

    @property
    def commit(self) -> Decimal:
        return self.won + self.commit_open

    @property
    def best_case(self) -> Decimal:
        return self.won + self.pipeline


@dataclass
class Forecast:
    start: dt.date
    months: int
    overdue: ForecastRow
    rows: list[ForecastRow]
    total: ForecastRow
    commit_probability: int = COMMIT_PROBABILITY


def add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


@reads_from_replica()
def forecast(*, viewer: User, filters: BoardFilters, start: dt.date, months: int) -> Forecast:
    """Expected revenue by month of expected close: weighted (amount × probability), commit (probability ≥ the
    commit threshold) and best case (every open deal); won deals count as closed in the month they closed;
    lost deals never count. Three aggregate queries."""
    start = start.replace(day=1)
    end = add_months(start, months)
    deals = filtered_deals(
        viewer=viewer, filters=BoardFilters(scope=filters.scope, owner_id=filters.owner_id, q=filters.q)
    )
    open_deals = deals.filter(status=Deal.Status.OPEN).order_by()
    open_sums = {
        "n": Count("pk"),
        "pipeline": Sum("amount"),
        "weighted_sum": Sum(F("amount") * F("probability"), output_field=WEIGHTED_SUM),
        "commit": Sum("amount", filter=Q(probability__gte=COMMIT_PROBABILITY)),
    }
    by_month = (
        open_deals.filter(expected_close_date__gte=start, expected_close_date__lt=end)
        .annotate(month=TruncMonth("expected_close_date"))
        .values("month")
        .annotate(**open_sums)
    )
    overdue_sums = open_deals.filter(expected_close_date__lt=start).aggregate(**open_sums)
    tz = timezone.get_current_timezone()
    start_at = dt.datetime.combine(start, dt.time.min, tzinfo=tz)
    end_at = dt.datetime.combine(end, dt.time.min, tzinfo=tz)
    won_by_month = (
        deals.filter(status=Deal.Status.WON, closed_at__gte=start_at, closed_at__lt=end_at)
        .order_by()
        .annotate(month=TruncMonth("closed_at"))
        .values("month")
        .annotate(won=Sum("won_amount"), n=Count("pk"))
    )

    rows = {add_months(start, i): ForecastRow(month=add_months(start, i)) for i in range(months)}

    def fill(row: ForecastRow, sums: Mapping[str, Any]) -> None:
        row.count = sums["n"] or 0
        row.pipeline = sums["pipeline"] or ZERO
        row.weighted_open = (sums["weighted_sum"] or ZERO) / 100
        row.commit_open = sums["commit"] or ZERO

    for sums in by_month:
        fill(rows[_as_date(sums["month"])], sums)
    for sums in won_by_month:
        row = rows[_as_date(sums["month"])]
        row.won, row.won_count = sums["won"] or ZERO, sums["n"]
    overdue = ForecastRow(month=None)
    fill(overdue, overdue_sums)

    total = ForecastRow(month=None)
    for row in [overdue, *rows.values()]:
        total.count += row.count
        total.pipeline += row.pipeline
        total.weighted_open += row.weighted_open
        total.commit_open += row.commit_open
        total.won += row.won
        total.won_count += row.won_count
    scale = max([r.best_case for r in [overdue, *rows.values()]] + [ZERO])
    if scale:
        for row in [overdue, *rows.values()]:
            row.bar = (
                float(row.won / scale * 100),
                float(row.commit_open / scale * 100),
                float((row.pipeline - row.commit_open) / scale * 100),
            )
    return Forecast(start=start, months=months, overdue=overdue, rows=list(rows.values()), total=total)


def _as_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        value = timezone.localtime(value) if timezone.is_aware(value) else value
        return value.date().replace(day=1)
    return value.replace(day=1)
