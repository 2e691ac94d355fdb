"""The ledger: each conversion's credit per campaign under the three models, recomputed per lead in SQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import connection, transaction

from campaigns.attribution.sql import (
    LEAD_CREATION_GRACE_SECONDS,
    LeadSelection,
    deal_models,
    local_date,
    plus_seconds,
    quote,
    typed_null,
    writer_lock,
)
from campaigns.models import AttributionCredit, AttributionDirtyDay
from leads.choices import TouchType
from leads.models import Handoff, Lead, Touch

# --- The ledger ---------------------------------------------------------------------------------------------


def _ledger_insert_sql(selection: LeadSelection) -> tuple[str, list]:
    touch, lead, handoff = (quote(m._meta.db_table) for m in (Touch, Lead, Handoff))
    credit = quote(AttributionCredit._meta.db_table)
    where, where_params = selection.sql("l.id")
    where = f"({where}) AND l.merged_into_id IS NULL"  # a merged lead converts as its survivor (leads.merge)
    where_t, where_t_params = selection.sql("t.lead_id")
    lc_at = plus_seconds("l.created_at", LEAD_CREATION_GRACE_SECONDS)
    params: list = []

    # Conversions: (kind, lead, deal, handoff, when it happened, journey cutoff, lead-creation cutoff, amount).
    branches = [
        f"SELECT 'visit' AS kind, l.id AS lead_id, {typed_null('bigint')} AS deal_id, "
        f"{typed_null('bigint')} AS handoff_id, MIN(t.occurred_at) AS at, {typed_null('timestamptz')} AS cutoff, "
        f"{typed_null('timestamptz')} AS lc_at, 0.0 AS amount FROM {lead} l "
        f"JOIN {touch} t ON t.lead_id = l.id AND t.type = '{TouchType.PAGE_VIEW}' AND {where_t} "
        f"WHERE {where} GROUP BY l.id",
        f"SELECT 'lead', l.id, NULL, NULL, l.created_at, {lc_at}, {lc_at}, 0.0 FROM {lead} l WHERE {where}",
        f"SELECT 'mql', l.id, NULL, NULL, l.mql_at, l.mql_at, {lc_at}, 0.0 FROM {lead} l "
        f"WHERE {where} AND l.mql_at IS NOT NULL",
        f"SELECT 'sql', l.id, NULL, h.id, h.decided_at, h.mql_at, {lc_at}, 0.0 FROM {handoff} h "
        f"JOIN {lead} l ON l.id = h.lead_id WHERE {where} AND h.state = '{Handoff.State.ACCEPTED}' "
        f"AND h.decided_at IS NOT NULL",
    ]
    params += where_t_params + where_params * 4
    for deals in deal_models():
        deal = quote(deals._meta.db_table)
        branches += [
            f"SELECT 'deal', l.id, d.id, NULL, d.created_at, d.created_at, {lc_at}, 0.0 FROM {deal} d "
            f"JOIN {lead} l ON l.id = d.contact_id WHERE {where}",
            f"SELECT 'won', l.id, d.id, NULL, d.closed_at, d.created_at, {lc_at}, d.won_amount FROM {deal} d "
            f"JOIN {lead} l ON l.id = d.contact_id WHERE {where} AND d.status = 'won' "
            f"AND d.closed_at IS NOT NULL AND d.won_amount IS NOT NULL",
        ]
        params += where_params * 2
    conversion = "kind, lead_id, deal_id, handoff_id"
    day, day_params = local_date("at")
    c_day, c_day_params = local_date("c.at")
    cols = ", ".join(
        quote(c)
        for c in (
            "kind",
            "lead_id",
            "deal_id",
            "handoff_id",
            "campaign_id",
            "date",
            "first",
            "last",
            "w",
            "amount",
        )
    )
    sql = f"""
        WITH conv AS ({" UNION ALL ".join(branches)}),
        journey AS (
            SELECT c.kind, c.lead_id, c.deal_id, c.handoff_id, c.at, c.amount, t.campaign_id,
                   ROW_NUMBER() OVER (PARTITION BY c.kind, c.lead_id, c.deal_id, c.handoff_id
                                      ORDER BY t.occurred_at, t.id) AS pos,
                   COUNT(*) OVER (PARTITION BY c.kind, c.lead_id, c.deal_id, c.handoff_id) AS n,
                   CASE WHEN t.occurred_at <= c.lc_at THEN 1 ELSE 0 END AS before_lc
            FROM conv c
            -- The batch's own filter on the touches too: it lets the planner read them by lead through the index
            -- instead of hashing every campaign touch in the table.
            JOIN {touch} t ON t.lead_id = c.lead_id AND {where_t} AND t.campaign_id IS NOT NULL
                AND t.occurred_at <= c.cutoff
            WHERE c.kind <> 'visit'
        ),
        marked AS (
            SELECT journey.*,
                   MAX(CASE WHEN before_lc = 1 THEN pos END) OVER (PARTITION BY {conversion}) AS lc_pos
            FROM journey
        ),
        weighted AS (
            SELECT {conversion}, at, amount, campaign_id, pos, n,
                   (CASE WHEN pos = 1 THEN 30 ELSE 0 END) + (CASE WHEN pos = lc_pos THEN 30 ELSE 0 END)
                     + (CASE WHEN pos = n THEN 30 ELSE 0 END) AS key_weight,
                   n - 1 - (CASE WHEN n > 1 THEN 1 ELSE 0 END)
                     - (CASE WHEN lc_pos > 1 AND lc_pos < n THEN 1 ELSE 0 END) AS between_count,
                   CASE WHEN lc_pos IS NULL THEN 60 ELSE 90 END AS key_total
            FROM marked
        )
        INSERT INTO {credit} ({cols})
        SELECT {conversion}, campaign_id, {day},
               SUM(CASE WHEN pos = 1 THEN 1.0 ELSE 0.0 END),
               SUM(CASE WHEN pos = n THEN 1.0 ELSE 0.0 END),
               SUM((CASE WHEN key_weight > 0 THEN 1.0 * key_weight ELSE 10.0 / between_count END)
                   / (key_total + CASE WHEN between_count > 0 THEN 10 ELSE 0 END)),
               MAX(amount)
        FROM weighted
        GROUP BY {conversion}, campaign_id, at
        UNION ALL
        SELECT c.kind, c.lead_id, c.deal_id, c.handoff_id, NULL, {c_day}, 1.0, 1.0, 1.0, c.amount
        FROM conv c
        WHERE c.kind = 'visit' OR NOT EXISTS (
            SELECT 1 FROM {touch} t
            WHERE t.lead_id = c.lead_id AND t.campaign_id IS NOT NULL AND t.occurred_at <= c.cutoff
        )
    """
    return sql, params + where_t_params + day_params + c_day_params


def attribution_refresh(*, selection: LeadSelection, rebuild: bool = False) -> set[dt.date]:
    """Recompute the ledger of these leads (delete and insert) and mark the days concerned dirty, in one
    transaction. Returns the dirty days. Idempotent.

    An incremental refresh compares the rows before and after, so only days whose credits changed are rolled up
    again. A rebuild batch (an id range that no other batch overlaps, so batches run side by side) marks every
    day it deleted or inserted credits on instead, without reading the rows."""
    if selection.empty:
        return set()
    read = _ledger_days if rebuild else _ledger_rows
    with transaction.atomic():
        writer_lock(shared=rebuild)
        credits = AttributionCredit.objects.filter(selection.q("lead_id"))
        before = read(credits)
        credits.delete()  # nothing points at ledger rows, so this is one DELETE statement
        sql, params = _ledger_insert_sql(selection)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
        after = read(credits)
        # Only days whose credits changed need their roll-ups recomputed: a lead touched today usually changes
        # nothing of the days it converted on long ago.
        days = before | after if rebuild else {row[-1] for row in before ^ after}
        days_mark_dirty(days)
    return days


def _ledger_days(credits) -> set[dt.date]:
    return set(credits.order_by().values_list("date", flat=True).distinct())


def _ledger_rows(credits) -> set[tuple]:
    """The ledger rows of a batch as comparable tuples (a few per lead)."""
    return {
        (*row[:-4], round(row[-4], 9), round(row[-3], 9), round(row[-2], 9), row[-1])
        for row in credits.values_list(
            "kind", "lead_id", "deal_id", "handoff_id", "campaign_id", "amount", "first", "last", "w", "date"
        )
    }


def days_mark_dirty(days: Iterable[dt.date]) -> None:
    AttributionDirtyDay.objects.bulk_create(
        [AttributionDirtyDay(date=d) for d in sorted(set(days))], ignore_conflicts=True, batch_size=500
    )
