"""Daily roll-ups of the ledger (AttributionDay, SegmentDay) for dirty days, their months and weeks
(AttributionMonth, AttributionWeek), and the score bands."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from campaigns.attribution.sql import (
    KIND_COLUMNS,
    MODELS,
    NURTURE_STAGES,
    ROLLUP_CHUNK_DAYS,
    SCORED_STAGES,
    dates_in,
    local_date,
    quote,
    writer_lock,
)
from campaigns.models import (
    NUMBER_COLUMNS,
    AttributionCredit,
    AttributionDay,
    AttributionDirtyDay,
    AttributionMonth,
    AttributionState,
    AttributionWeek,
    ConversionKind,
    Dimension,
    SegmentDay,
)
from campaigns.segments import SCORE_BANDS, seniority_sql, size_sql, warming_range
from leads.models import Company, Lead, ScoringConfig, Visitor

# --- Roll-ups -----------------------------------------------------------------------------------------------


def _attribution_day_sql(days: Sequence[dt.date]) -> tuple[str, list]:
    credit = quote(AttributionCredit._meta.db_table)
    target = quote(AttributionDay._meta.db_table)
    columns, sums = ["date", "campaign_id"], []
    for kind, prefix in KIND_COLUMNS.items():
        for model in MODELS:
            columns.append(f"{prefix}_{model}")
            sums.append(f"SUM(CASE WHEN kind = '{kind}' THEN {quote(model)} ELSE 0 END)")
    for model in MODELS:
        columns.append(f"revenue_{model}")
        sums.append(f"SUM(CASE WHEN kind = '{ConversionKind.WON}' THEN {quote(model)} * amount ELSE 0 END)")
    where, params = dates_in("date", days)
    sql = f"""
        INSERT INTO {target} ({", ".join(quote(c) for c in columns)})
        SELECT date, campaign_id, {", ".join(sums)}
        FROM {credit}
        WHERE {where} AND kind <> '{ConversionKind.VISIT}'
        GROUP BY date, campaign_id
    """
    return sql, params


def month_start_sql(expression: str) -> str:
    """The first day of the calendar month of a date column."""
    if connection.vendor == "postgresql":
        return f"CAST(date_trunc('month', {expression}) AS date)"
    return f"date({expression}, 'start of month')"


def week_start_sql(expression: str) -> str:
    """The Monday of the ISO week of a date column."""
    if connection.vendor == "postgresql":
        return f"CAST(date_trunc('week', {expression}) AS date)"
    return f"date({expression}, 'weekday 0', '-6 days')"


def _week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def _next_month(day: dt.date) -> dt.date:
    return dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _attribution_span_sql(
    model: type[AttributionMonth] | type[AttributionWeek], starts: Sequence[dt.date]
) -> tuple[str, list]:
    """These months' AttributionMonth rows (or weeks' AttributionWeek rows): their AttributionDay rows added up."""
    weekly = model is AttributionWeek
    day, target = quote(AttributionDay._meta.db_table), quote(model._meta.db_table)
    columns = ", ".join(quote(c) for c in NUMBER_COLUMNS)
    start = week_start_sql("date") if weekly else month_start_sql("date")
    where, params = dates_in(start, starts)
    sql = f"""
        INSERT INTO {target} ({"week" if weekly else "month"}, campaign_id, {columns})
        SELECT {start}, campaign_id, {", ".join(f"SUM({quote(c)})" for c in NUMBER_COLUMNS)}
        FROM {day}
        WHERE date >= %s AND date < %s AND {where}
        GROUP BY {start}, campaign_id
    """
    last = max(starts)
    after = last + dt.timedelta(days=7) if weekly else _next_month(last)
    return sql, [min(starts), after, *params]


def _segment_day_sql(days: Sequence[dt.date]) -> tuple[str, list]:
    credit, lead, company, visitor, target = (
        quote(m._meta.db_table) for m in (AttributionCredit, Lead, Company, Visitor, SegmentDay)
    )
    seniority, seniority_params = seniority_sql("l.title")
    value = (
        f"CASE dims.dim WHEN '{Dimension.PERSONA}' THEN COALESCE(CAST(l.persona_id AS VARCHAR(20)), '') "
        f"WHEN '{Dimension.AWARENESS}' THEN COALESCE(l.awareness_stage, '') "
        f"WHEN '{Dimension.SENIORITY}' THEN {seniority} "
        f"WHEN '{Dimension.INDUSTRY}' THEN COALESCE(co.industry, '') "
        f"ELSE {size_sql('co.employee_count')} END"
    )
    dims = " UNION ALL ".join(f"SELECT '{d}' AS dim" for d in Dimension.values)
    credited_days, credited_params = dates_in("date", days)
    all_days, all_days_params = dates_in("x.date", days)
    visitor_day, visitor_day_params = local_date("v.first_seen_at")
    tz = timezone.get_current_timezone()
    # Raw SQL parameters: SQLite compares naive UTC text, so adapt the bounds the way the ORM would.
    lo, hi = (
        connection.ops.adapt_datetimefield_value(dt.datetime.combine(day, dt.time.min, tzinfo=tz))
        for day in (min(days), max(days) + dt.timedelta(days=1))
    )
    sql = f"""
        INSERT INTO {target} (date, step, dimension, value, people)
        SELECT x.date, x.step, x.dimension, x.value, SUM(x.people)
        FROM (
            SELECT c.date AS date, c.kind AS step, dims.dim AS dimension, {value} AS value, 1 AS people
            FROM (SELECT DISTINCT date, kind, lead_id, deal_id, handoff_id FROM {credit} WHERE {credited_days}) c
            JOIN {lead} l ON l.id = c.lead_id
            LEFT JOIN {company} co ON co.id = l.company_id
            CROSS JOIN ({dims}) dims
            UNION ALL
            SELECT a.date, '{ConversionKind.VISIT}', dims.dim, '', a.people
            FROM (
                SELECT {visitor_day} AS date, COUNT(*) AS people FROM {visitor} v
                WHERE v.lead_id IS NULL AND v.first_seen_at >= %s AND v.first_seen_at < %s
                GROUP BY 1
            ) a
            CROSS JOIN ({dims}) dims
        ) x
        WHERE {all_days}
        GROUP BY x.date, x.step, x.dimension, x.value
    """
    # In the order the placeholders appear in the text: the value CASE comes before the subquery it reads.
    params = [*seniority_params, *credited_params, *visitor_day_params, lo, hi, *all_days_params]
    return sql, params


def rollups_refresh(*, limit_chunks: int | None = None) -> int:
    """Recompute AttributionDay and SegmentDay for the dirty days, a month of days per transaction, and the
    AttributionMonth and AttributionWeek rows of their months and weeks. Returns how many days were recomputed. Idempotent: a day is rebuilt from the ledger, then taken off the dirty list."""
    done = 0
    chunks = 0
    while limit_chunks is None or chunks < limit_chunks:
        with transaction.atomic():
            writer_lock()
            days = list(
                AttributionDirtyDay.objects.order_by("date").values_list("date", flat=True)[
                    :ROLLUP_CHUNK_DAYS
                ]
            )
            if not days:
                break
            # The months and weeks of these days are added up again from their days, in the same transaction: a
            # month or week always equals its days, whichever of them were recomputed.
            months = sorted({day.replace(day=1) for day in days})
            weeks = sorted({_week_start(day) for day in days})
            AttributionDay.objects.filter(date__in=days).delete()
            SegmentDay.objects.filter(date__in=days).delete()
            AttributionMonth.objects.filter(month__in=months).delete()
            AttributionWeek.objects.filter(week__in=weeks).delete()
            with connection.cursor() as cursor:
                for sql, params in (
                    _attribution_day_sql(days),
                    _segment_day_sql(days),
                    _attribution_span_sql(AttributionMonth, months),
                    _attribution_span_sql(AttributionWeek, weeks),
                ):
                    cursor.execute(sql, params)
            AttributionDirtyDay.objects.filter(date__in=days).delete()
            AttributionState.objects.update_or_create(pk=1, defaults={"rolled_up_at": timezone.now()})
        done += len(days)
        chunks += 1
    return done


def score_bands_refresh(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Count leads in nurture and MQLs per score band, and the leads warming up under the current threshold (two
    aggregates), and keep them on the state row."""

    def band(lo: int, hi: int | None) -> Q:
        condition = Q(total_score__gte=lo) if lo else Q()  # the first band takes negative scores too
        return condition & Q(total_score__lt=hi) if hi is not None else condition

    bands = Lead.objects.filter(lifecycle_stage__in=SCORED_STAGES).aggregate(
        **{str(lo): Count("id", filter=band(lo, hi)) for lo, hi in SCORE_BANDS}
    )
    low, high = warming_range(ScoringConfig.get().total_threshold)
    bands["warming"] = Lead.objects.filter(
        lifecycle_stage__in=NURTURE_STAGES, total_score__gte=low, total_score__lt=high
    ).count()
    bands["warming_from"], bands["warming_to"] = low, high
    AttributionState.objects.update_or_create(
        pk=1, defaults={"score_bands": bands, "score_bands_at": now or timezone.now()}
    )
    return bands
