"""Custom fields over the JSON API: the `custom` object of leads, companies and deals holds the values of the
fields flagged "API", keyed by the field's key. Writes are checked by type (422 at ["body", "custom", key]); a
key of a field not offered to the API is refused."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Field

from leads.models import FieldDefinition

CUSTOM_DESCRIPTION = (
    "Custom fields by key (see the custom-fields settings page): text, number, date (YYYY-MM-DD), choice, a list "
    'for multiple choice, true/false. Only the keys sent change; null or "" removes a value.'
)


def custom_in() -> Any:
    return Field(None, description=CUSTOM_DESCRIPTION, examples=[{"budget": 5000000, "timing": "2026-10-01"}])


def api_keys(request: HttpRequest | None, object_type: str) -> frozenset[str]:
    """The keys of the record type's live fields flagged "API": one query per request and record type."""
    cache: dict[str, frozenset[str]] = getattr(request, "_custom_api_keys", None) or {}
    if object_type not in cache:
        cache[object_type] = frozenset(
            FieldDefinition.objects.live().of(object_type).filter(in_api=True).values_list("key", flat=True)
        )
        if request is not None:
            request._custom_api_keys = cache  # type: ignore[attr-defined]
    return cache[object_type]


def custom_out(
    request: HttpRequest | None, object_type: str, custom: dict[str, Any] | None
) -> dict[str, Any]:
    """The record's values of the fields offered to the API."""
    keys = api_keys(request, object_type)
    return {key: value for key, value in (custom or {}).items() if key in keys}
