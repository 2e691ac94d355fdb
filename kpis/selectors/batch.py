"""Several querysets read in one statement: one round trip to the database for a page's many short lists.

Each queryset is compiled as Django would run it (its joins, `select_related`, annotations, ordering and slice),
then wrapped so that every row comes back as one JSON array tagged with its list: `SELECT i, json_array(t.*)
FROM (<the queryset's SQL>) t UNION ALL …`. The values are turned back into what the database driver would have
returned and handed to Django's own converters and model loading, so a list reads exactly as the queryset itself
would: model instances with their `select_related` objects and annotations, or dicts for `.values()`.

PostgreSQL (`json_build_array`) and SQLite (`json_array`, its JSON1 functions) alike.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from contextlib import suppress
from decimal import Decimal
from itertools import chain
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import F, QuerySet, Window
from django.db.models.functions import RowNumber
from django.db.models.query import ModelIterable, ValuesIterable, get_related_populators
from django.utils.dateparse import parse_date, parse_datetime, parse_duration, parse_time

# The row's position in its list: the queryset's ordering as a window, since rows of a UNION ALL (or of a
# subquery) come back in no promised order.
POSITION = "batch_position"
# json_build_array takes at most 100 arguments: wider rows are built as arrays of arrays.
CHUNK = 90


def _with_position(queryset: QuerySet) -> QuerySet:
    """The queryset with POSITION numbering its rows in its own order (the slice is taken after the window)."""
    query = queryset.query
    order_by = query.order_by or (query.get_meta().ordering if query.default_ordering else ())
    if query.group_by is not None or not order_by:
        return queryset  # grouped or unordered: the caller sorts these few rows
    low, high = query.low_mark, query.high_mark
    unsliced = queryset.all()
    unsliced.query.clear_limits()
    ordering: list[Any] = [
        F(o[1:]).desc() if isinstance(o, str) and o.startswith("-") else o for o in order_by
    ]
    ordered = unsliced.annotate(**{POSITION: Window(RowNumber(), order_by=ordering)})
    ordered.query.set_limits(low, high)
    return ordered


def _pg_native(value: Any, internal_type: str) -> Any:
    """A JSON value as psycopg would have returned the column (Django's converters take it from there)."""
    if value is None:
        return None
    if internal_type == "DateTimeField":
        return parse_datetime(value)
    if internal_type == "DateField":
        return parse_date(value)
    if internal_type == "TimeField":
        return parse_time(value)
    if internal_type == "DurationField":
        return parse_duration(value)
    if internal_type == "UUIDField":
        return uuid.UUID(value)
    if internal_type == "DecimalField":
        return Decimal(value)
    if isinstance(value, Decimal):
        return float(value)
    return value


# Columns whose JSON value is already what psycopg would return (integers, strings, booleans: JSON only decodes a
# number with a fraction as a Decimal), so _pg_native is skipped for them: hundreds of rows of ids and counts.
_AS_DECODED = frozenset(
    {
        "AutoField",
        "BigAutoField",
        "SmallAutoField",
        "IntegerField",
        "BigIntegerField",
        "SmallIntegerField",
        "PositiveIntegerField",
        "PositiveBigIntegerField",
        "PositiveSmallIntegerField",
        "ForeignKey",
        "OneToOneField",
        "CharField",
        "TextField",
        "EmailField",
        "SlugField",
        "URLField",
        "BooleanField",
    }
)


class _Part:
    def __init__(self, name: str, queryset: QuerySet, connection) -> None:
        self.name = name
        self.queryset = queryset
        self.iterable = queryset._iterable_class
        if self.iterable not in (ModelIterable, ValuesIterable):
            raise TypeError(f"{name}: only model and .values() querysets can be batched")
        if queryset.query.distinct or queryset.query.combinator:
            raise TypeError(f"{name}: a distinct or combined queryset cannot be numbered in its order")
        self.compiler = _with_position(queryset).query.get_compiler(using=connection.alias)
        self.sql, self.params = self.compiler.as_sql(with_col_aliases=True)
        self.select = self.compiler.select[: self.compiler.col_count]
        self.types = [expression.output_field.get_internal_type() for expression, _sql, _alias in self.select]
        self.native = [(i, t) for i, t in enumerate(self.types) if t not in _AS_DECODED]

    def wrapped(self, index: int, connection) -> tuple[str, tuple]:
        array = "json_build_array" if connection.vendor == "postgresql" else "json_array"
        columns = [f"t.{connection.ops.quote_name(alias)}" for _expression, _sql, alias in self.select]
        if connection.vendor == "postgresql":
            # jsonb as its text, as Django reads it (nested, its numbers would meet the Decimal decoding below)
            columns = [
                f"{c}::text" if t == "JSONField" else c for c, t in zip(columns, self.types, strict=True)
            ]
        chunks = [f"{array}({', '.join(columns[i : i + CHUNK])})" for i in range(0, len(columns), CHUNK)]
        row = f"{array}({', '.join(chunks)})"
        if connection.vendor == "postgresql":
            row += (
                "::text"  # decoded here, so that numbers keep their digits (psycopg would make them floats)
            )
        return f"SELECT {index}, {row} FROM ({self.sql}) t", tuple(self.params)

    def load(self, rows: list[list[Any]], connection) -> list:
        if connection.vendor == "postgresql" and self.native:
            for row in rows:
                for i, internal_type in self.native:
                    row[i] = _pg_native(row[i], internal_type)
        converted = self.compiler.results_iter(results=[rows])
        query = self.compiler.query
        if self.iterable is ValuesIterable:
            names = list(
                query.selected or [*query.extra_select, *query.values_select, *query.annotation_select]
            )
            items: list = [dict(zip(names, row, strict=False)) for row in converted]
            if POSITION in query.annotation_select:
                items.sort(key=lambda item: item.pop(POSITION))
            return items
        return self._instances(converted)

    def _instances(self, rows: Iterable) -> list:
        klass_info, annotation_col_map = self.compiler.klass_info, self.compiler.annotation_col_map
        model_cls, select_fields = klass_info["model"], klass_info["select_fields"]
        start, end = select_fields[0], select_fields[-1] + 1
        init_list = [column[0].target.attname for column in self.select[start:end]]
        db = self.compiler.using
        # (the stubs describe a later Django's signature)
        populators = get_related_populators(klass_info, self.compiler.select, db)  # type: ignore[call-arg]
        objects = []
        for row in rows:
            obj = model_cls.from_db(db, init_list, row[start:end])
            for populator in populators:
                populator.populate(row, obj)
            for attr, position in (annotation_col_map or {}).items():
                setattr(obj, attr, row[position])
            objects.append(obj)
        if annotation_col_map and POSITION in annotation_col_map:
            objects.sort(key=lambda o: getattr(o, POSITION))
            for obj in objects:
                delattr(obj, POSITION)
        return objects


def fetch(querysets: Mapping[str, QuerySet]) -> dict[str, list]:
    """Each queryset's rows (model instances, or dicts for `.values()`), read in one statement.

    Every queryset must read from the same database. An ordered queryset keeps its order; a grouped one (an
    aggregate over `.values()`) comes back in no particular order. One that can match nothing costs nothing.
    """
    aliases = {qs.db for qs in querysets.values()}
    if len(aliases) > 1:
        raise ValueError(f"querysets read from different databases: {sorted(aliases)}")
    results: dict[str, list] = {name: [] for name in querysets}
    if not aliases:
        return results
    connection = connections[aliases.pop()]
    parts: list[_Part] = []
    for name, queryset in querysets.items():
        with suppress(EmptyResultSet):  # one that matches nothing is left empty
            parts.append(_Part(name, queryset, connection))
    if not parts:
        return results
    statements: list[str] = []
    params: list[Any] = []
    for index, part in enumerate(parts):
        sql, part_params = part.wrapped(index, connection)
        statements.append(sql)
        params.extend(part_params)
    rows: dict[int, list[list[Any]]] = {index: [] for index in range(len(parts))}
    decode = json.JSONDecoder(parse_float=Decimal).decode if connection.vendor == "postgresql" else json.loads
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(statements), params)
        for index, text in cursor.fetchall():
            rows[index].append(list(chain.from_iterable(decode(text))))
    for index, part in enumerate(parts):
        results[part.name] = part.load(rows[index], connection)
    return results
