"""`{% load custom_fields %}{{ lead.custom|custom_value:definition }}`: a custom field's value as a person reads it."""

from django import template

from leads.custom_fields.selectors import custom_fields, value_display, values_shown

register = template.Library()


@register.filter
def custom_value(custom, definition) -> str:
    return value_display(definition, (custom or {}).get(definition.key))


@register.simple_tag
def custom_values(record, object_type: str) -> list[tuple[str, str]]:
    """`{% custom_values lead "lead" as rows %}`: (label, value) of the record's custom fields that have a value,
    for its page (one query: the record type's definitions)."""
    return values_shown(custom_fields(object_type=object_type).all, getattr(record, "custom", None) or {})
