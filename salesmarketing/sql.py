"""Several one-row queries (aggregates, scalar subqueries) sent as one statement: a page that needs a dozen
numbers from a dozen index ranges makes one round trip to the database, not a dozen. On PostgreSQL and SQLite alike.

    row = one_statement([aggregates_row(Deal.objects.filter(...), {"won": Count(...)}), scalars_row({...})])
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connections
from django.db.models import Aggregate, Lookup, QuerySet


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


class InFirst(Lookup):
    """`filter(InFirst(F("pk"), few.values("pk")[:n]))`: the rows whose key is one of a subquery's few rows, read
    by the key's index whatever the table's size. PostgreSQL plans `pk IN (subquery)` as a hash semi-join, which
    reads the whole table to keep the subquery's few rows; `pk = ANY(ARRAY(subquery))` runs the subquery first and
    then looks each key up. `pk IN (subquery)` elsewhere."""

    lookup_name = "in_first"

    def as_sql(self, compiler, connection):
        lhs_sql, lhs_params = self.process_lhs(compiler, connection)
        rhs_sql, rhs_params = self.process_rhs(compiler, connection)
        if connection.vendor == "postgresql":
            return f"{lhs_sql} = ANY(ARRAY{rhs_sql})", [*lhs_params, *rhs_params]
        return f"{lhs_sql} IN {rhs_sql}", [*lhs_params, *rhs_params]


# PostgreSQL returns at most 1,664 columns and SQLite 2,000 by default: a statement stops short of either, and more
# columns (a trend of many periods) take another statement.
MAX_COLUMNS = 1000


def one_statement(rows: Sequence[OneRow]) -> dict[str, Any]:
    """Several one-row queries as one statement (each a derived table of one row, cross-joined): one round trip
    to the database for what would otherwise be one per query, each still reading its own index range. Returns
    every column by its alias; the aliases must differ between the rows."""
    result: dict[str, Any] = {}
    batch: list[OneRow] = []
    for row in rows:
        if batch and sum(len(r.aliases) for r in batch) + len(row.aliases) > MAX_COLUMNS:
            result |= _one_statement(batch)
            batch = []
        batch.append(row)
    if batch:
        result |= _one_statement(batch)
    if len(result) != sum(len(row.aliases) for row in rows):
        raise ValueError("two one-row queries share a column alias")
    return result


def _one_statement(rows: list[OneRow]) -> dict[str, Any]:
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
    return result


def rows_row(querysets: Mapping[str, QuerySet], *, using: str) -> OneRow:
    """Each `values()` queryset's rows, as one column of JSON turned into a list of dicts: lists of different
    shapes from different tables in one statement, where UNION ALL would need one shape. JSON carries numbers and
    strings: dates come back as ISO strings, decimals as floats."""
    connection = connections[using]
    quote = connection.ops.quote_name
    columns, params, names = [], [], []
    for alias, queryset in querysets.items():
        compiler = queryset.query.get_compiler(using, elide_empty=False)
        sql, sub_params = compiler.as_sql()
        names.append([name for _expression, _sql, name in compiler.select])
        if None in names[-1]:
            raise ValueError("rows_row takes values() querysets, whose columns have names")
        cells = ", ".join(f"t.{quote(name)}" for name in names[-1])
        if connection.vendor == "postgresql":
            rows = f"COALESCE(json_agg(json_build_array({cells})), '[]'::json)"
        else:
            rows = f"json_group_array(json_array({cells}))"
        columns.append(f"(SELECT {rows} FROM ({sql}) t) AS {quote(alias)}")
        params += sub_params

    def convert(values: list) -> list:
        lists = [json.loads(value) if isinstance(value, str | bytes) else value for value in values]
        return [
            [dict(zip(keys, row, strict=True)) for row in rows]
            for keys, rows in zip(names, lists, strict=True)
        ]

    return OneRow(f"SELECT {', '.join(columns)}", tuple(params), list(querysets), using, convert)
