"""Small formatting helpers for the campaign pages."""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.translation import gettext as _

from campaigns.models import AttributionModel
from salesmarketing.templatetags.sm import DASH, num

register = template.Library()


@register.filter
def credit(value) -> str:
    """Credited conversions: whole numbers as they are, W-shaped fractions with one decimal ('12.3')."""
    if value is None:
        return DASH
    value = float(value)
    if 0 < value < 0.05:
        return "<0.1"
    if abs(value - round(value)) < 0.05:
        return num(round(value))
    return num(round(value, 1), 1)  # round first: number_format truncates


@register.simple_tag(takes_context=True)
def credit_note(context, value) -> str:
    """The chosen model's credit beside a whole count, when the model is not first touch (whose credit is the
    count). A tag, not an included template: the campaign list shows three a row."""
    if context.get("model") == AttributionModel.FIRST:
        return ""
    return format_html(
        '<span class="credit-note" data-credit>{}</span>',
        _("%(model)s credit %(credit)s") % {"model": context.get("model_label"), "credit": credit(value)},
    )


@register.filter
def share_width(value, total) -> str:
    """A bar width in percent for inline bars (0–100, '0' when the total is missing)."""
    try:
        value, total = float(value or 0), float(total or 0)
    except (TypeError, ValueError):
        return "0"
    if total <= 0:
        return "0"
    return f"{max(0.0, min(100.0, 100 * value / total)):.1f}"


@register.filter
def index(sequence, i):
    try:
        return sequence[int(i)]
    except (IndexError, TypeError, ValueError, KeyError):
        return None


@register.simple_tag
def sort_link(current: str, key: str, default_desc: bool = True) -> str:
    """The sort value a column header links to: its default direction, or the reverse when already sorted."""
    if current.lstrip("-") == key:
        return key if current.startswith("-") else f"-{key}"
    return f"-{key}" if default_desc else key


@register.simple_tag
def sort_mark(current: str, key: str) -> str:
    if current.lstrip("-") != key:
        return ""
    return "▼" if current.startswith("-") else "▲"


@register.filter
def index_key(mapping, key):
    """mapping[key] in a template (None when missing)."""
    try:
        return mapping.get(key)
    except AttributeError:
        return None
