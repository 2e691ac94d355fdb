"""SQL helpers for the attribution work: the same statements on PostgreSQL and SQLite."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection
from django.db.models import Q
from django.utils import timezone

from campaigns.models import ConversionKind
from leads.choices import LifecycleStage
from salesmarketing import hooks

LEAD_CREATION_GRACE_SECONDS = 300
REFRESH_BATCH_SIZE = 1000  # lead ids per incremental task
REBUILD_BATCH_SIZE = 5000  # lead id range per rebuild task
ROLLUP_CHUNK_DAYS = 31  # dirty days recomputed per transaction
LOCK_KEY = 727_001  # pg_advisory_xact_lock key: one attribution writer at a time

KIND_COLUMNS = {  # AttributionDay column prefix per credited conversion
    ConversionKind.LEAD: "leads",
    ConversionKind.MQL: "mqls",
    ConversionKind.SQL: "sqls",
    ConversionKind.DEAL: "deals",
    ConversionKind.WON: "won",
}
MODELS = ("first", "last", "w")
NURTURE_STAGES = [LifecycleStage.SUBSCRIBER, LifecycleStage.LEAD, LifecycleStage.RECYCLED]
SCORED_STAGES = [*NURTURE_STAGES, LifecycleStage.MQL]


# --- SQL helpers (PostgreSQL and SQLite) ----------------------------------------------------------------------


def quote(name: str) -> str:
    return connection.ops.quote_name(name)


def ids_in(column: str, ids: Iterable) -> tuple[str, list]:
    """`column` is one of `ids`, with a single parameter on either database."""
    values = list(ids)
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", [values]
    return f"{column} IN (SELECT value FROM json_each(%s))", [json.dumps([str(v) for v in values])]


def dates_in(column: str, dates: Iterable[dt.date]) -> tuple[str, list]:
    values = sorted(set(dates))
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s::date[])", [values]
    return f"{column} IN (SELECT value FROM json_each(%s))", [json.dumps([d.isoformat() for d in values])]


def local_date(expression: str) -> tuple[str, list]:
    """The local calendar day (settings.TIME_ZONE) of a timestamp column."""
    sql, params = connection.ops.datetime_cast_date_sql(expression, (), timezone.get_current_timezone_name())
    return sql, list(params)


def plus_seconds(expression: str, seconds: int) -> str:
    if connection.vendor == "postgresql":
        return f"({expression} + interval '{int(seconds)} seconds')"
    # Django stores SQLite datetimes as 'YYYY-MM-DD HH:MM:SS.ffffff' text, which compares in time order.
    return f"strftime('%%Y-%%m-%%d %%H:%%M:%%f', {expression}, '+{int(seconds)} seconds')"


def typed_null(sql_type: str) -> str:
    """A typed NULL: PostgreSQL resolves UNION column types branch by branch and cannot match text to bigint."""
    return f"CAST(NULL AS {sql_type})" if connection.vendor == "postgresql" else "NULL"


def writer_lock(*, shared: bool = False) -> None:
    """Serialize attribution writers (SQLite transactions are serialized already). The batches of a rebuild,
    whose id ranges never overlap, share it with each other (`shared`); every other writer waits for them."""
    if connection.vendor == "postgresql":
        function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {function}(%s)", [LOCK_KEY])


def deal_models() -> list:
    """The deal model(s) whose deals are conversions: pipeline, campaigns' peer, hands them over through the DEALS
    hook (salesmarketing.hooks), so neither app imports the other."""
    return [deals.model for deals in hooks.call(hooks.DEALS)]


@dataclass(frozen=True)
class LeadSelection:
    """Which leads to recompute: explicit ids (incremental) or an id range (rebuild)."""

    ids: tuple[int, ...] = ()
    first_id: int | None = None
    last_id: int | None = None

    def sql(self, column: str) -> tuple[str, list]:
        if self.first_id is not None:
            return f"{column} BETWEEN %s AND %s", [self.first_id, self.last_id]
        return ids_in(column, self.ids)

    def q(self, field: str = "lead_id") -> Q:
        if self.first_id is not None:
            return Q(**{f"{field}__gte": self.first_id, f"{field}__lte": self.last_id})
        return Q(**{f"{field}__in": self.ids})

    @property
    def empty(self) -> bool:
        return self.first_id is None and not self.ids
