"""A deal moved to another stage in one PostgreSQL statement (the board's drag, at any column size).

One statement is its own transaction: it locks the deal's row, reads the stage it is in, works out the card's
place in the new column (the top, or next to the card it was dropped by), and — only when the move may happen —
writes the event to the outbox, the StageChange row and the deal, all or nothing. It answers with the deal as it
was locked (and its stage), and as it was written, so the caller decides what a refusal means without reading
again. The KPI day marks are the tables' own triggers (kpis.changes): they fire in this statement as in any other.

The lock reads the deal alone, the stage after it: a join under FOR UPDATE would be re-checked against the old
stage when a concurrent move changes the row meanwhile, and the row would vanish (pipeline.services.deals._lock).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from django.db import connection

from pipeline.models import Deal, Stage, StageChange
from pipeline.services.positions import GAP
from salesmarketing.models import DomainEvent


@dataclass(frozen=True)
class Moved:
    locked: Deal  # as it was when locked, with its stage
    written: (
        Deal | None
    )  # as written; None when nothing was (a refusal, or a move this statement does not make)
    event_id: int | None


def _columns(model) -> list[str]:
    return [f.column for f in model._meta.concrete_fields]


def _select(alias: str, columns: list[str]) -> str:
    qn = connection.ops.quote_name
    return ", ".join(f"{alias}.{qn(c)}" for c in columns)


def _sql() -> str:
    qn = connection.ops.quote_name
    deal, stage = qn(Deal._meta.db_table), qn(Stage._meta.db_table)
    deal_cols, stage_cols = _columns(Deal), _columns(Stage)
    open_ = "d.status = 'open'"
    # Python's floor division, which PostgreSQL's integer division is not for negative positions.
    middle = "floor((nb.position + {other})::numeric / 2)::bigint"
    return f"""
WITH locked AS (
    SELECT {_select("d", deal_cols)} FROM {deal} d WHERE d.id = %(deal)s FOR UPDATE
), current_stage AS (
    SELECT {_select("s", stage_cols)} FROM {stage} s JOIN locked l ON s.id = l.stage_id
), neighbour AS (
    SELECT n.id, n.position FROM {deal} n
    WHERE n.id = %(neighbour)s::bigint AND n.stage_id = %(stage)s AND n.id <> %(deal)s
), spot AS (
    SELECT CASE
        WHEN nb.id IS NULL THEN COALESCE(
            (SELECT MIN(c.position) FROM {deal} c WHERE c.stage_id = %(stage)s AND c.id <> %(deal)s) - {GAP}, 0)
        WHEN %(before)s THEN (SELECT CASE
            WHEN x.position IS NULL THEN nb.position - {GAP}
            WHEN nb.position - x.position >= 2 THEN {middle.format(other="x.position")}
        END FROM (
            SELECT (SELECT c.position FROM {deal} c
                    WHERE c.stage_id = %(stage)s AND c.id <> %(deal)s AND (c.position, c.id) < (nb.position, nb.id)
                    ORDER BY c.position DESC, c.id DESC LIMIT 1) AS position
        ) x)
        ELSE (SELECT CASE
            WHEN x.position IS NULL THEN nb.position + {GAP}
            WHEN x.position - nb.position >= 2 THEN {middle.format(other="x.position")}
        END FROM (
            SELECT (SELECT c.position FROM {deal} c
                    WHERE c.stage_id = %(stage)s AND c.id <> %(deal)s AND (c.position, c.id) > (nb.position, nb.id)
                    ORDER BY c.position, c.id LIMIT 1) AS position
        ) x)
    END AS position
    FROM (VALUES (1)) one (x) LEFT JOIN neighbour nb ON true
), go AS (
    SELECT l.id, l.stage_id, l.owner_id, l.team_id, l.stage_changed_at, sp.position,
           -- read before the lock: a move that waited for another one does not start before that one ended
           COALESCE(%(at)s::timestamptz, GREATEST(%(now)s::timestamptz, l.stage_changed_at)) AS moved_at
    FROM locked l, current_stage s, spot sp
    WHERE s.pipeline_id = %(pipeline)s AND l.stage_id <> %(stage)s AND sp.position IS NOT NULL
      AND (%(version)s::integer IS NULL OR l.version = %(version)s::integer)
), event AS (
    INSERT INTO {qn(DomainEvent._meta.db_table)} (uuid, kind, subject_type, subject_id, payload, occurred_at)
    SELECT %(uuid)s::uuid, %(kind)s, %(subject_type)s, g.id,
           jsonb_build_object('deal_id', g.id, 'owner_id', g.owner_id, 'team_id', g.team_id,
                              'from_stage_id', g.stage_id) || %(payload)s::jsonb,
           %(now)s::timestamptz
    FROM go g
    RETURNING id
), change AS (
    INSERT INTO {qn(StageChange._meta.db_table)}
        (deal_id, from_stage_id, to_stage_id, changed_by_id, changed_at, seconds_in_from_stage)
    SELECT g.id, g.stage_id, %(stage)s, %(by)s::bigint, g.moved_at,
           GREATEST(0, floor(extract(epoch FROM g.moved_at - g.stage_changed_at)))::bigint
    FROM go g
), written AS (
    UPDATE {deal} d SET
        stage_id = %(stage)s, probability = %(probability)s, stage_changed_at = g.moved_at,
        position = g.position, status = 'open',
        closed_at = CASE WHEN {open_} THEN d.closed_at END, won_amount = CASE WHEN {open_} THEN d.won_amount END,
        loss_cause = CASE WHEN {open_} THEN d.loss_cause ELSE '' END,
        loss_side = CASE WHEN {open_} THEN d.loss_side ELSE '' END,
        loss_note = CASE WHEN {open_} THEN d.loss_note ELSE '' END,
        version = d.version + 1, updated_at = %(now)s::timestamptz
    FROM go g WHERE d.id = g.id
    RETURNING {_select("d", deal_cols)}
)
SELECT {_select("l", deal_cols)}, {_select("s", stage_cols)}, {_select("w", deal_cols)}, e.id
FROM locked l JOIN current_stage s ON true LEFT JOIN written w ON true LEFT JOIN event e ON true
"""


def _instance(model, values: tuple[Any, ...]):
    """A model instance from its columns as the driver gave them (JSON comes as text: from_db_value reads it)."""
    fields = model._meta.concrete_fields
    converted = [
        field.from_db_value(value, None, connection)
        if value is not None and hasattr(field, "from_db_value")
        else value
        for field, value in zip(fields, values, strict=True)
    ]
    return model.from_db(connection.alias, [f.attname for f in fields], converted)


def move_in_one_statement(
    *,
    deal_id: int,
    stage: Stage,
    neighbour_id: int | None,
    before: bool,
    version: int | None,
    by_id: int | None,
    at: dt.datetime | None,
    now: dt.datetime,
    event: dict[str, Any],
) -> Moved | None:
    """Move the deal to `stage` (another stage of its pipeline) at the top of the column, or just above
    (`before`) or below the card `neighbour_id` when that card is there, with `event` (salesmarketing.events
    .event_rows: its payload is completed with the deal's ids) — if the deal is still in the pipeline, in
    another stage, at `version` (when given), and the column has room at that place. It happens `at` (a
    backdated move), else `now` — or when the deal's last move did, if that was later (one this move waited
    for). None: no such deal."""
    params = {
        "deal": deal_id,
        "stage": stage.pk,
        "pipeline": stage.pipeline_id,
        "probability": stage.probability,
        "neighbour": neighbour_id,
        "before": before,
        "version": version,
        "by": by_id,
        "at": at,
        "now": now,
        "uuid": event["uuid"],
        "kind": event["kind"],
        "subject_type": event["subject_type"],
        "payload": json.dumps(event["payload"]),
    }
    with connection.cursor() as cursor:
        cursor.execute(_sql(), params)
        row = cursor.fetchone()
    if row is None:
        return None
    n, m = len(Deal._meta.concrete_fields), len(Stage._meta.concrete_fields)
    locked = _instance(Deal, row[:n])
    locked.stage = _instance(Stage, row[n : n + m])
    written = _instance(Deal, row[n + m : 2 * n + m]) if row[n + m] is not None else None
    return Moved(locked=locked, written=written, event_id=row[-1])
