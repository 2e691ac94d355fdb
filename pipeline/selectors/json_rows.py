"""Child rows read inside their parent's query, as a JSON array (PostgreSQL `json_agg`, SQLite
`json_group_array`), then made model instances again: a page shows a deal with its stages, activities, to-dos and
history from one statement instead of one per list.

Only what the page shows comes back; the rows are ordinary model instances (`Model.from_db`), with their users and
stages attached, so templates and properties (`get_type_display`, `is_done`) work unchanged. A field left out is
deferred (reading it would cost a query, which the page's pinned query count would catch).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast

from django.db import connection, models
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime


@dataclass(frozen=True)
class Related:
    """A to-one relation read along with each row: `prefix` names its columns in the row's JSON object."""

    prefix: str
    model: type[models.Model]
    fk_column: str  # the row's column pointing at it
    fields: Sequence[str]


@dataclass(frozen=True)
class JsonRows:
    """The rows of `model` matching `where` (SQL over alias `t`, may refer to the outer query), newest first by
    `order` and cut at `limit`, with `related` to-one rows joined in."""

    model: type[models.Model]
    where: str
    order: str = ""
    limit: int | None = None
    related: Sequence[Related] = field(default_factory=tuple)

    def expression(self) -> RawSQL:
        """The rows as a JSON array in one text column (an annotation of the parent's query)."""
        qn = connection.ops.quote_name
        pairs: list[tuple[str, str]] = [
            (f.attname, f"t.{qn(cast(str, f.column))}") for f in self.model._meta.concrete_fields
        ]
        json_keys = {f.attname for f in self.model._meta.concrete_fields if isinstance(f, models.JSONField)}
        joins = []
        for n, rel in enumerate(self.related):
            alias = f"r{n}"
            joins.append(
                f"LEFT JOIN {qn(rel.model._meta.db_table)} {alias} "
                f"ON {alias}.{qn(cast(str, _pk(rel.model).column))} "
                f"= t.{qn(rel.fk_column)}"
            )
            for name in rel.fields:
                f = _field(rel.model, name)
                pairs.append((f"{rel.prefix}__{f.attname}", f"{alias}.{qn(cast(str, f.column))}"))
                if isinstance(f, models.JSONField):
                    json_keys.add(f"{rel.prefix}__{f.attname}")
        inner = (
            f"SELECT {', '.join(f'{expr} AS {qn(key)}' for key, expr in pairs)} "
            f"FROM {qn(self.model._meta.db_table)} t {' '.join(joins)} WHERE {self.where}"
        )
        if self.order:
            inner += f" ORDER BY {self.order}"
        if self.limit is not None:
            inner += f" LIMIT {int(self.limit)}"
        keys = [key for key, _expr in pairs]
        if connection.vendor == "postgresql":
            obj = "json_build_object(" + ", ".join(f"'{k}', j.{qn(k)}" for k in keys) + ")"
            sql = f"(SELECT COALESCE(json_agg({obj}), '[]')::text FROM ({inner}) j)"
        else:
            # SQLite keeps JSON columns as text: json() makes them JSON inside the object, not a string.
            obj = (
                "json_object("
                + ", ".join(
                    f"'{k}', json(j.{qn(k)})" if k in json_keys else f"'{k}', j.{qn(k)}" for k in keys
                )
                + ")"
            )
            sql = f"(SELECT json_group_array(json({obj})) FROM ({inner}) j)"
        return RawSQL(sql, [])

    def load(self, text: str | None) -> list[Any]:
        """The rows back as model instances, with their related rows attached (None where the link is empty)."""
        rows = json.loads(text or "[]", parse_float=Decimal)
        fields = self.model._meta.concrete_fields
        out = []
        for row in rows:
            obj = self.model.from_db(
                connection.alias, [f.attname for f in fields], [_python(f, row[f.attname]) for f in fields]
            )
            for rel in self.related:
                pk_name = _pk(rel.model).attname
                if row.get(f"{rel.prefix}__{pk_name}") is None:
                    value = None
                else:
                    rel_fields = [_field(rel.model, name) for name in rel.fields]
                    value = rel.model.from_db(
                        connection.alias,
                        [f.attname for f in rel_fields],
                        [_python(f, row[f"{rel.prefix}__{f.attname}"]) for f in rel_fields],
                    )
                setattr(obj, rel.prefix, value)
            out.append(obj)
        return out


def _field(model: type[models.Model], name: str) -> models.Field:
    return cast(models.Field, model._meta.get_field(name))


def _pk(model: type[models.Model]) -> models.Field:
    pk = model._meta.pk
    assert pk is not None
    return pk


def _python(f: models.Field, value: Any) -> Any:
    """A JSON value as the model field's Python value (dates and times come back as ISO text)."""
    if value is None:
        return None
    if isinstance(f, models.DateTimeField):
        parsed = parse_datetime(value)
        if parsed is not None and timezone.is_naive(parsed):
            parsed = timezone.make_aware(parsed, dt.UTC)  # SQLite keeps UTC without an offset
        return parsed
    if isinstance(f, models.DateField):
        return parse_date(value)
    if isinstance(f, models.BooleanField):
        return bool(value)
    if isinstance(f, models.DecimalField):
        return Decimal(str(value))
    if isinstance(f, models.JSONField):
        return value
    return f.to_python(value)
