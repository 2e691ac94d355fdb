"""Two SQL building blocks the KPI formulas need and Django does not ship: a median aggregate and the seconds
between two timestamps, on PostgreSQL and on SQLite alike."""

from __future__ import annotations

import statistics

from django.db.models import Aggregate, FloatField, Func


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
