"""Reads of custom fields: a record type's definitions (one query), a value as shown, and the list filters'
conditions on the `custom` column."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext as _

from leads.models import CustomFieldType, FieldDefinition


@dataclass
class CustomFields:
    """The live definitions of one record type, and those of each place they show in."""

    all: list[FieldDefinition] = field(default_factory=list)

    def _where(self, place: str) -> list[FieldDefinition]:
        return [d for d in self.all if getattr(d, place)]

    @property
    def form(self) -> list[FieldDefinition]:
        return self._where("in_form")

    @property
    def columns(self) -> list[FieldDefinition]:
        """Those shown as list columns ("list column")."""
        return self._where("in_list")

    @property
    def filter(self) -> list[FieldDefinition]:
        return self._where("in_filter")

    @property
    def export(self) -> list[FieldDefinition]:
        return self._where("in_export")

    @property
    def api(self) -> list[FieldDefinition]:
        return self._where("in_api")

    @property
    def segment(self) -> list[FieldDefinition]:
        return self._where("in_segment")

    def get(self, key: str) -> FieldDefinition | None:
        return next((d for d in self.all if d.key == key), None)


def custom_fields(*, object_type: str) -> CustomFields:
    """The record type's live (not archived) definitions, in their order: one query."""
    return CustomFields(all=list(FieldDefinition.objects.live().of(object_type).order_by("position", "pk")))


def definitions_all(*, object_type: str | None = None) -> list[FieldDefinition]:
    """Every definition, archived ones last (the settings page)."""
    qs: QuerySet[FieldDefinition] = FieldDefinition.objects.all()
    if object_type:
        qs = qs.filter(object_type=object_type)
    return list(qs.order_by("object_type", "archived_at", "position", "pk"))


def value_display(definition: FieldDefinition, value: Any) -> str:
    """A stored value as a person reads it: a date in the language's format, a number grouped, yes/no."""
    if value is None or value == "" or value == []:
        return ""
    kind = definition.field_type
    if kind == CustomFieldType.BOOLEAN:
        return _("Yes") if value is True else _("No") if value is False else str(value)
    if kind == CustomFieldType.NUMBER and isinstance(value, int | float) and not isinstance(value, bool):
        return number_format(value, force_grouping=True)
    if kind == CustomFieldType.DATE and isinstance(value, str):
        try:
            return date_format(dt.date.fromisoformat(value), "SHORT_DATE_FORMAT")
        except ValueError:
            return value
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


def values_shown(definitions: list[FieldDefinition], custom: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, value) of each definition with a value, for a record's page."""
    rows = []
    for definition in definitions:
        shown = value_display(definition, (custom or {}).get(definition.key))
        if shown:
            rows.append((definition.label, shown))
    return rows


def contains(key: str, value: Any, column: str = "custom") -> Q:
    """`custom @> {"key": value}` on PostgreSQL (the GIN index's lookup); a key transform elsewhere. For a list
    value it means "holds each of these". `column`: the JSON column's lookup path ("company__custom" from a
    lead)."""
    if connection.vendor == "postgresql":
        return Q(**{f"{column}__contains": {key: value}})
    if isinstance(value, list):
        condition = Q()
        for item in value:
            condition &= Q(**{f"{column}__{key}__icontains": f'"{item}"'})
        return condition
    return Q(**{f"{column}__{key}": value})


@dataclass(frozen=True)
class CustomFilter:
    """One custom field's filter from the lead list: an exact value (text, choice, multiple choice, yes/no) or a
    range (number, date)."""

    key: str
    value: Any = None
    low: Any = None
    high: Any = None


def custom_filter_q(filters: list[CustomFilter]) -> Q:
    condition = Q()
    for item in filters:
        if item.value is not None:
            condition &= contains(item.key, item.value)
        if item.low is not None:
            condition &= Q(**{f"custom__{item.key}__gte": item.low})
        if item.high is not None:
            condition &= Q(**{f"custom__{item.key}__lte": item.high})
    return condition
