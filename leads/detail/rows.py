"""Several short reads of one page in one statement.

A record's page shows a handful of short lists (a lead's handoffs, lifecycle changes, merges, …) and a few totals;
one query each is what makes such a page slow to reach. `read_together` sends them as one UNION ALL: each branch
is an ordinary queryset (its filters, joins, order and limit as the ORM writes them) whose row is packed into one
JSON object (JSONB_BUILD_OBJECT on PostgreSQL, JSON_OBJECT on SQLite, through Django's JSONObject), so that
branches of different shapes share one result.

A `Rows` branch comes back as model instances holding the fields it named, in its queryset's order; a name
`relation__field` also fills the related instance (as `select_related` would, one level deep). Fields it did not
name are deferred: reading one costs a query, which the pages' pinned query counts catch. A `Totals` branch comes
back as one dict of aggregates over its queryset (like `.aggregate()`), with the defaults it gives for no rows.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import Expression, F, Func, Model, QuerySet, Value
from django.db.models.functions import JSONObject
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

PAYLOAD = "payload"


class Packed(JSONObject):
    """JSONObject without its SQLite feature probe: the probe is a query of its own, once per connection, which
    would make the first page drawn in a process cost more than the next (SQLite has had JSON_OBJECT built in
    since 3.38)."""

    def as_sqlite(self, compiler, connection, **extra_context):
        return Func.as_sql(self, compiler, connection, **extra_context)


@dataclass(frozen=True)
class Rows:
    """Model instances of `queryset` with `fields` (names, or `relation__field` for the related instance's), and
    `extra` expressions set as attributes (a window total, an annotation)."""

    queryset: QuerySet
    fields: tuple[str, ...]
    extra: Mapping[str, Expression] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        """The fields asked for, and the key of each relation whose fields are (the related instance needs it)."""
        names = list(self.fields)
        for name in self.fields:
            head, sep, _tail = name.partition("__")
            if sep and head not in names:
                names.append(head)
        return names

    def packed(self) -> QuerySet:
        for name in self._ordering():
            if name != "pk" and name not in self.fields:
                raise ValueError(f"{self.queryset.model.__name__} rows are ordered by {name!r}: ask for it")
        return self.queryset.values(**{PAYLOAD: Packed(**{n: F(n) for n in self.names}, **self.extra)})

    def build(self, data: dict, vendor: str, db: str) -> Model:
        model = self.queryset.model
        own: dict[str, Any] = {}
        related: dict[str, dict[str, Any]] = defaultdict(dict)
        for name in self.names:
            head, sep, tail = name.partition("__")
            if sep:
                target = model._meta.get_field(head).related_model._meta.get_field(tail)
                related[head][target.attname] = _from_json(target, data.get(name), vendor)
            else:
                target = model._meta.get_field(name)
                own[target.attname] = _from_json(target, data.get(name), vendor)
        instance = _instance(model, own, db)
        for head, values in related.items():
            relation = model._meta.get_field(head)
            key = data.get(head)
            if key is not None:
                values[relation.related_model._meta.pk.attname] = key
            relation.set_cached_value(  # type: ignore[union-attr]
                instance, None if key is None else _instance(relation.related_model, values, db)
            )
        for name in self.extra:
            setattr(instance, name, data.get(name))
        return instance

    def sort(self, instances: list) -> None:
        """Put the rows in the queryset's order: a UNION ALL keeps no branch's ORDER BY (NULLs as PostgreSQL
        orders them: last going up, first going down)."""
        for item in reversed(self._ordering(raw=True)):
            descending, name = item.startswith("-"), item.lstrip("-")
            meta = self.queryset.model._meta
            attname = meta.pk.attname if name == "pk" else meta.get_field(name).attname
            present = [i for i in instances if getattr(i, attname) is not None]
            missing = [i for i in instances if getattr(i, attname) is None]
            present.sort(key=lambda i: getattr(i, attname), reverse=descending)
            instances[:] = missing + present if descending else present + missing

    def _ordering(self, raw: bool = False) -> list:
        query = self.queryset.query
        ordering = query.order_by or (self.queryset.model._meta.ordering if query.default_ordering else [])
        for item in ordering:
            if not isinstance(item, str):
                raise TypeError(f"read_together sorts by field names only, not {item!r}")
        return list(ordering) if raw else [item.lstrip("-") for item in ordering]


@dataclass(frozen=True)
class Totals:
    """Aggregates over `queryset` as one dict, e.g. `Totals(qs, {"n": Count("pk"), "best": Max("total_score")})`;
    `defaults` stand in when the branch can match nothing at all (`.none()`)."""

    queryset: QuerySet
    aggregates: Mapping[str, Expression]
    defaults: Mapping[str, Any] = field(default_factory=dict)

    def packed(self) -> QuerySet:
        # Grouped by a constant, which the ORM leaves out of GROUP BY: one row over the whole set.
        return (
            self.queryset.order_by()
            .values(_all=Value(1))
            .annotate(**{PAYLOAD: Packed(**self.aggregates)})
            .values(PAYLOAD)
        )

    def build(self, data: dict, vendor: str, db: str) -> dict[str, Any]:
        return {name: data.get(name) for name in self.aggregates}

    def sort(self, rows: list) -> None:
        pass

    def empty(self) -> dict[str, Any]:
        return {name: self.defaults.get(name) for name in self.aggregates}


Branch = Rows | Totals


def read_together(**branches: Branch) -> dict[str, list]:
    """Run every branch in one statement; per branch name, its instances (Rows) or its one dict (in a list: Totals).
    A branch that can match nothing (`.none()`, an empty `__in`) costs nothing."""
    result: dict[str, list] = {name: [] for name in branches}
    if not branches:
        return result
    db = next(iter(branches.values())).queryset.db
    connection = connections[db]
    parts: list[str] = []
    params: list[Any] = []
    payload = connection.ops.quote_name(PAYLOAD)
    for name, branch in branches.items():
        if not name.isidentifier():
            raise ValueError(f"a branch name is an identifier, not {name!r}")
        try:
            sql, branch_params = branch.packed().query.get_compiler(using=db).as_sql()
        except EmptyResultSet:
            continue
        # A subquery in FROM may carry its ORDER BY and LIMIT on both databases (SQLite refuses them on a
        # compound statement's own members).
        parts.append(f"SELECT '{name}' AS kind, b.{payload} AS {payload} FROM ({sql}) b")
        params.extend(branch_params)
    if parts:
        with connection.cursor() as cursor:
            cursor.execute(" UNION ALL ".join(parts), params)
            rows = cursor.fetchall()
        for kind, data in rows:
            if isinstance(data, str | bytes):
                data = json.loads(data)
            result[kind].append(branches[kind].build(data, connection.vendor, db))
    for name, branch in branches.items():
        if isinstance(branch, Totals) and not result[name]:
            result[name].append(branch.empty())
        branch.sort(result[name])
    return result


def _instance(model: type[Model], values: dict[str, Any], db: str) -> Model:
    names = [f.attname for f in model._meta.concrete_fields if f.attname in values]
    return model.from_db(db, names, [values[n] for n in names])


def _from_json(model_field: Any, value: Any, vendor: str) -> Any:
    """A column's value as JSON carried it, back to what the ORM would have given."""
    if value is None:
        return None
    kind = model_field.get_internal_type()
    if kind == "DateTimeField":
        moment = value if isinstance(value, dt.datetime) else parse_datetime(value)
        if moment is not None and timezone.is_naive(moment):  # SQLite keeps UTC without an offset
            moment = timezone.make_aware(moment, dt.UTC)
        return moment
    if kind == "DateField":
        return parse_date(value) if isinstance(value, str) else value
    if kind == "DecimalField":
        return Decimal(str(value))
    if kind == "FloatField":
        return float(value)
    if kind == "BooleanField":
        return bool(value)
    if kind == "JSONField" and vendor == "sqlite" and isinstance(value, str):
        return json.loads(value)  # SQLite's JSON_OBJECT takes a stored JSON text as a string
    return value
