"""Set-based writes the ORM does not offer in one statement, on PostgreSQL and SQLite (≥ 3.35) alike.

- `insert_ignore_returning`: a multi-row `INSERT … ON CONFLICT DO NOTHING RETURNING …`, so a caller learns
  exactly which rows went in (and, by difference, which were already there) without a query per row.
- `update_by_pk`: one `UPDATE … SET f = CASE pk WHEN … END` for many rows with different values.
- `not_waiting_on_bulk_locks`: realtime tasks give up on rows that a bulk write holds, and retry later.
- `events_insert`: a set of domain events (salesmarketing.events) in one `insert_ignore_returning`.

Both size their statements by the database's real bind-parameter limit, so a batch of 1,000 rows is one
statement on either database (Django's own bulk helpers cap SQLite at 999 parameters, which would make the
number of queries grow with the batch).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from celery import Task
from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import OperationalError, connection, models
from django.db.models import Case, Lookup, Value, When
from django.utils import timezone

from salesmarketing.events import event_rows, events_recorded
from salesmarketing.models import DomainEvent

# Values of these field types go to the driver as they are; everything else is prepared by its field.
_PLAIN_TYPES = {
    "AutoField",
    "BigAutoField",
    "BigIntegerField",
    "BooleanField",
    "CharField",
    "EmailField",
    "ForeignKey",
    "IntegerField",
    "PositiveIntegerField",
    "PositiveSmallIntegerField",
    "SlugField",
    "SmallIntegerField",
    "TextField",
    "URLField",
}


def max_query_params() -> int:
    """How many bind parameters one statement may carry on the current database."""
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        try:
            return connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        except AttributeError:  # Python < 3.11
            return connection.features.max_query_params or 999
    return connection.features.max_query_params or 65535


def insert_ignore_returning(
    model: type[models.Model], rows: Sequence[Mapping[str, Any]], returning: Sequence[str]
) -> list[tuple]:
    """Insert `rows` (field attname → value; a missing field takes its default, auto_now fields take now).

    A row that would break a unique constraint is skipped, not an error. Returns the `returning` columns
    (attnames) of the rows actually inserted, in no particular order.
    """
    if not rows:
        return []
    opts = model._meta
    fields = [
        f for f in opts.local_concrete_fields if not f.generated and not (f.primary_key and f.db_returning)
    ]
    now = timezone.now()
    defaults: dict[str, Any] = {}
    for field in fields:
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            defaults[field.attname] = now
        else:  # the declared default, "" for text, None otherwise (the database then says what is missing)
            defaults[field.attname] = field.get_default()
    columns = [[row[f.attname] if f.attname in row else defaults[f.attname] for row in rows] for f in fields]
    quote = connection.ops.quote_name
    head = f"INSERT INTO {quote(opts.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
    tail = " ON CONFLICT DO NOTHING RETURNING " + ", ".join(
        quote(opts.get_field(n).column) for n in returning
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The rows travel as one JSON document that PostgreSQL turns back into typed rows: one parameter
            # whatever the number of rows, so no time goes on tens of thousands of placeholders.
            names = [f.column for f in fields]
            document = [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]
            cursor.execute(
                head
                + f"SELECT {', '.join(map(quote, names))} "
                + f"FROM json_populate_recordset(NULL::{quote(opts.db_table)}, %s)"
                + tail,
                [json.dumps(document, ensure_ascii=False, separators=(",", ":"), default=_json_default)],
            )
            return [tuple(r) for r in cursor.fetchall()]
        preparers = [None if f.get_internal_type() in _PLAIN_TYPES else f.get_db_prep_save for f in fields]
        for index, prepare in enumerate(preparers):
            if prepare is not None:
                columns[index] = [prepare(value, connection) for value in columns[index]]
        placeholder = "(" + ", ".join(["%s"] * len(fields)) + ")"
        per_statement = max(1, min(len(rows), max_query_params() // len(fields)))
        inserted: list[tuple] = []
        for start in range(0, len(rows), per_statement):
            stop = min(start + per_statement, len(rows))
            params = [column[i] for i in range(start, stop) for column in columns]
            cursor.execute(head + "VALUES " + ", ".join([placeholder] * (stop - start)) + tail, params)
            inserted.extend(tuple(r) for r in cursor.fetchall())
        return inserted


def _json_default(value: Any) -> Any:
    """What json.dumps cannot write itself: dates and times as ISO 8601 (PostgreSQL reads the offset), the
    rest (Decimal, UUID …) as text, which PostgreSQL casts to the column's type."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value)


class AnyOf(Lookup):
    """`filter(AnyOf(F("field"), values))`: `field = ANY(%s)` with one array parameter on PostgreSQL (so a
    thousand values are not a thousand placeholders), `field IN (…)` elsewhere."""

    lookup_name = "any_of"
    prepare_rhs = False

    def get_prep_lookup(self):
        return list(self.rhs)

    def as_sql(self, compiler, connection):
        lhs_sql, lhs_params = self.process_lhs(compiler, connection)
        values = list(self.rhs)
        if not values:
            raise EmptyResultSet
        if connection.vendor == "postgresql":
            return f"{lhs_sql} = ANY(%s)", [*lhs_params, values]
        return f"{lhs_sql} IN ({', '.join(['%s'] * len(values))})", [*lhs_params, *values]


def update_by_pk(
    model: type[models.Model],
    changes: Mapping[int, Mapping[str, Any]],
    *,
    extra: Mapping[str, Any] | None = None,
) -> int:
    """Give each row (by pk) its own new values in one UPDATE: `{pk: {attname: value}}`.

    A field a row does not mention, or gives as None, keeps its value (this helper never writes NULL).
    `extra` sets the same value on every changed row (e.g. `updated_at`). Returns the number of rows updated.
    """
    changes = {pk: {k: v for k, v in values.items() if v is not None} for pk, values in changes.items()}
    changes = {pk: values for pk, values in changes.items() if values}
    if not changes:
        return 0
    opts = model._meta
    fields = [
        opts.get_field(name) for name in sorted({name for values in changes.values() for name in values})
    ]
    if connection.vendor == "postgresql":
        # The new values travel as one JSON document joined on the pk: PostgreSQL matches each row once
        # (a hash join), where a CASE with a branch per row would be tested row by row.
        quote = connection.ops.quote_name
        pk = quote(opts.pk.column)
        columns = ", ".join(f"{quote(f.column)} {f.cast_db_type(connection)}" for f in fields)
        sets = [f"{quote(f.column)} = COALESCE(v.{quote(f.column)}, t.{quote(f.column)})" for f in fields]
        params: list[Any] = []
        for name, value in (extra or {}).items():
            sets.append(f"{quote(opts.get_field(name).column)} = %s")
            params.append(value)
        document = [
            {opts.pk.column: key, **{f.column: values.get(f.attname) for f in fields}}
            for key, values in changes.items()
        ]
        params.append(json.dumps(document, ensure_ascii=False, separators=(",", ":"), default=_json_default))
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {quote(opts.db_table)} AS t SET {', '.join(sets)} "
                f"FROM json_to_recordset(%s) AS v({pk} {opts.pk.cast_db_type(connection)}, {columns}) "
                f"WHERE t.{pk} = v.{pk}",
                params,
            )
            return cursor.rowcount
    pks = sorted(changes)
    # Each changed value costs two parameters (the pk and the value), each row one more for the IN list.
    per_statement = max(1, max_query_params() // (2 * len(fields) + 1 + len(extra or {})))
    updated = 0
    for start in range(0, len(pks), per_statement):
        chunk = pks[start : start + per_statement]
        assignments: dict[str, Any] = dict(extra or {})
        for field in fields:
            whens = [
                When(pk=pk, then=Value(changes[pk][field.attname], output_field=field))
                for pk in chunk
                if field.attname in changes[pk]
            ]
            if whens:
                assignments[field.attname] = Case(*whens, default=models.F(field.attname), output_field=field)
        updated += model._default_manager.filter(pk__in=chunk).update(**assignments)
    return updated


# A realtime task that stepped back from a held row is tried again this soon, up to this many times (each try
# waits up to REALTIME_LOCK_TIMEOUT_MS): the wait ends soon after the holder commits, with no backoff added on top.
LOCK_RETRY_SECONDS = 0.1
LOCK_RETRIES = 30
# The options of a task that runs under not_waiting_on_bulk_locks: bound (to retry itself), redelivered when its
# worker dies, and any other error retried with backoff.
STEPS_BACK_FROM_LOCKS: dict[str, Any] = {
    "bind": True,
    "acks_late": True,
    "ignore_result": True,
    "autoretry_for": (Exception,),
    "retry_backoff": True,
    "max_retries": 5,
}


@contextmanager
def not_waiting_on_bulk_locks(task: Task) -> Iterator[None]:
    """Realtime work gives up on a row that other work holds (a rescore step, a batch's scoring or assignment in
    a niced worker, which the CPU can leave holding it for seconds) instead of holding a realtime worker: after
    REALTIME_LOCK_TIMEOUT_MS PostgreSQL raises LockNotAvailable, the task's transaction rolls back and `task` is
    retried after LOCK_RETRY_SECONDS, so the worker meanwhile serves the other leads' events. Other errors keep
    the task's own retry policy."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('lock_timeout', %s, false)", [f"{settings.REALTIME_LOCK_TIMEOUT_MS}ms"]
        )
    try:
        yield
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) != "55P03":  # lock_not_available
            raise
        raise task.retry(exc=exc, countdown=LOCK_RETRY_SECONDS, max_retries=LOCK_RETRIES) from exc
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")


def events_insert(
    *,
    kind: str,
    subject_type: str,
    payloads: Iterable[tuple[int, Mapping[str, Any]]],
    at: dt.datetime | None = None,
) -> int:
    """Record a domain event per (subject id, payload) in the caller's transaction, in one INSERT whatever their
    number (a batch's new leads, a rescore's MQLs), fanned out after commit (salesmarketing.events)."""
    rows = event_rows(kind=kind, subject_type=subject_type, payloads=payloads, at=at)
    if not rows:
        return 0
    ids = [row[0] for row in insert_ignore_returning(DomainEvent, rows, returning=("id",))]
    events_recorded(ids)
    return len(ids)
