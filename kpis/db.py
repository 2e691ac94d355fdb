"""SQL building blocks the KPI engine needs and Django does not ship, on PostgreSQL and on SQLite alike: a median
aggregate, the seconds between two timestamps, and several one-row queries (aggregates, scalar subqueries) sent as
one statement."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connections
from django.db.models import Aggregate, FloatField, Func, QuerySet


class Median(Aggregate):
    """The median of a numeric expression (NULLs ignored; None for no rows).

    PostgreSQL: `percentile_cont(0.5) WITHIN GROUP (ORDER BY …)`, which takes a FILTER clause like any aggregate.
    SQLite has no percentile function, so `kpi_median` is registered on every SQLite connection (see
    `register_sqlite_functions`): the same single query, computed by SQLite calling back into Python.
    """

    function = "KPI_MEDIAN"
    name = "Median"
    output_field = FloatField()

    def as_postgresql(self, compiler, connection, **extra_context):
        # Aggregate.as_sql wraps `self.template` in the FILTER clause, so swap the template on a copy.
        clone = self.copy()
        clone.template = "percentile_cont(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
        return clone.as_sql(compiler, connection, **extra_context)


class SecondsBetween(Func):
    """`end - start` in seconds, as a float (NULL when either is NULL)."""

    arity = 2
    output_field = FloatField()

    def __init__(self, end, start, **extra):
        super().__init__(end, start, **extra)

    def as_postgresql(self, compiler, connection, **extra_context):
        return Func.as_sql(
            self,
            compiler,
            connection,
            template="EXTRACT(EPOCH FROM (%(expressions)s))::double precision",
            arg_joiner=" - ",
        )

    def as_sqlite(self, compiler, connection, **extra_context):
        (end_sql, end_params), (start_sql, start_params) = (
            compiler.compile(expression) for expression in self.get_source_expressions()
        )
        return f"((julianday({end_sql}) - julianday({start_sql})) * 86400.0)", (*end_params, *start_params)

    def as_sql(self, compiler, connection, **extra_context):  # other backends: let the database subtract
        return Func.as_sql(self, compiler, connection, arg_joiner=" - ", template="(%(expressions)s)")


class _SqliteMedian:
    """The aggregate SQLite calls row by row (sqlite3.Connection.create_aggregate protocol)."""

    def __init__(self) -> None:
        self.values: list[float] = []

    def step(self, value) -> None:
        if value is not None:
            self.values.append(float(value))

    def finalize(self) -> float | None:
        return statistics.median(self.values) if self.values else None


def register_sqlite_functions(sender, connection, **kwargs) -> None:
    """`connection_created` receiver: teach SQLite connections the KPI_MEDIAN aggregate."""
    if connection.vendor == "sqlite":
        connection.connection.create_aggregate("KPI_MEDIAN", 1, _SqliteMedian)


# --- several one-row queries in one statement -------------------------------------------------------------


@dataclass
class OneRow:
    """A query that returns exactly one row, compiled: its SQL, its columns and how to convert their values."""

    sql: str
    params: tuple
    aliases: list[str]
    using: str
    convert: Callable[[list], list]


def aggregates_row(queryset: QuerySet, aggregates: Mapping[str, Aggregate]) -> OneRow:
    """`queryset.aggregate(**aggregates)`, compiled rather than run (the plain case of Django's
    Query.get_aggregation: a filtered queryset without annotations, grouping, slicing or DISTINCT). An aggregate
    without GROUP BY always makes one row, whatever the rows."""
    query = queryset.query.chain()
    if query.annotations or query.group_by is not None or query.is_sliced or query.distinct:
        raise ValueError("aggregates_row takes a filtered queryset only")
    using = queryset.db
    resolved = {
        alias: aggregate.resolve_expression(query, allow_joins=True, reuse=None, summarize=True)
        for alias, aggregate in aggregates.items()
    }
    query.select = ()
    query.selected = None
    query.default_cols = False
    query.extra = {}
    query.annotations = resolved
    query.set_annotation_mask(resolved)
    query.clear_ordering(force=True)
    # A WHERE that can match nothing compiles to a false predicate instead of skipping the query.
    compiler = query.get_compiler(using, elide_empty=False)
    sql, params = compiler.as_sql()
    converters = compiler.get_converters(list(query.annotation_select.values()))

    def convert(values: list) -> list:
        return next(compiler.apply_converters([values], converters)) if converters else values

    return OneRow(sql, tuple(params), list(query.annotation_select), using, convert)


def scalars_row(querysets: Mapping[str, QuerySet], *, using: str) -> OneRow:
    """One row of scalar subqueries, each a queryset of one column and at most one row (NULL when none)."""
    columns, params = [], []
    for alias, queryset in querysets.items():
        sql, sub_params = queryset.query.get_compiler(using, elide_empty=False).as_sql()
        columns.append(f"({sql}) AS {connections[using].ops.quote_name(alias)}")
        params += sub_params
    return OneRow(
        f"SELECT {', '.join(columns)}", tuple(params), list(querysets), using, lambda values: values
    )


def one_statement(rows: Sequence[OneRow]) -> dict[str, Any]:
    """Several one-row queries as one statement (each a derived table of one row, cross-joined): one round trip
    to the database for what would otherwise be one per query, each still reading its own index range. Returns
    every column by its alias; the aliases must differ between the rows."""
    if not rows:
        return {}
    using = rows[0].using
    quote = connections[using].ops.quote_name
    tables = [f"({row.sql}) {quote(f'r{n}')}" for n, row in enumerate(rows)]
    sql = "SELECT * FROM " + " CROSS JOIN ".join(tables)
    params = tuple(param for row in rows for param in row.params)
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        values = list(cursor.fetchone())
    result: dict[str, Any] = {}
    start = 0
    for row in rows:
        end = start + len(row.aliases)
        result.update(zip(row.aliases, row.convert(values[start:end]), strict=True))
        start = end
    if len(result) != len(values):
        raise ValueError("two one-row queries share a column alias")
    return result
