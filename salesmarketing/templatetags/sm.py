"""Formatting for money, percentages and missing values in the viewer's language."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template
from django.utils import timezone
from django.utils.formats import date_format, get_format, number_format
from django.utils.translation import get_language, gettext

register = template.Library()

DASH = "—"


def _to_decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


@register.filter
def yen(value) -> str:
    """1234567 → '1,234,567円' in Japanese, '¥1,234,567' in English; None → '—'."""
    amount = _to_decimal(value)
    if amount is None:
        return DASH
    text = _grouped(amount, 0)
    if (get_language() or "ja").startswith("ja"):
        return f"{text}円"
    return f"¥{text}"


@register.filter
def pct(value, decimals: int = 1) -> str:
    """A ratio (0.256) as a percentage ('25.6%'); None → '—'."""
    ratio = _to_decimal(value)
    if ratio is None:
        return DASH
    return f"{_grouped(ratio * 100, int(decimals))}%"


@register.filter
def num(value, decimals: int = 0) -> str:
    """A grouped number ('12,345'); None → '—'."""
    number = _to_decimal(value)
    if number is None:
        return DASH
    return _grouped(number, int(decimals))


@register.filter
def qty(value) -> str:
    """A quantity as people write it: '40', '1.5', '0.25' (no trailing zeros), grouped; None → '—'."""
    number = _to_decimal(value)
    if number is None:
        return DASH
    places = max(0, -number.normalize().as_tuple().exponent)  # type: ignore[operator]
    return _grouped(number, min(places, 2))


def _grouped(number: Decimal, decimals: int) -> str:
    """Rounded half up (number_format alone would cut the digits off: 66.666 → 66.6), then grouped. Groups of
    three (Japanese and English) by Python's own formatting, with the language's separators: number_format's
    string work, a thousand times over on a long table, was a fifth of its rendering."""
    rounded = number.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    lang = get_language()
    if get_format("NUMBER_GROUPING", lang) != 3:
        return number_format(rounded, decimal_pos=decimals, use_l10n=True, force_grouping=True)
    text = format(rounded if rounded else rounded.copy_abs(), f",.{decimals}f")  # "0", never "-0"
    thousand, point = get_format("THOUSAND_SEPARATOR", lang), get_format("DECIMAL_SEPARATOR", lang)
    if (thousand, point) != (",", "."):
        text = text.replace(",", "\0").replace(".", point).replace("\0", thousand)
    return text


@register.filter
def hours_minutes(value) -> str:
    """2.5 → '2h 30m' ('2時間30分' in Japanese); the sign is dropped (the caller says 'left' or 'over')."""
    hours = _to_decimal(value)
    if hours is None:
        return DASH
    total_minutes = int(abs(hours) * 60)
    h, m = divmod(total_minutes, 60)
    if h:
        return gettext("%(h)sh %(m)sm") % {"h": h, "m": m}
    return gettext("%(m)sm") % {"m": m}


@register.filter
def link_url(value) -> str:
    """The URL if it is safe in an href (http, https, or a path on this site), else ''.

    Stored URLs can come from imports, integrations or old data that no form validated; a `javascript:` or
    `data:` URL in an href would run when clicked."""
    url = str(value or "").strip()
    if url.startswith("/") and not url.startswith("//") and "\\" not in url:
        return url
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    return url if scheme in ("http", "https") and url[len(scheme) :].startswith("://") else ""


@register.filter
def date_short(value) -> str:
    """A date (or a moment's local date) in the viewer's style: 2026/12/03 · Dec 3, 2026; None → '—'."""
    if not value:
        return DASH
    if isinstance(value, dt.datetime):
        value = timezone.localtime(value) if timezone.is_aware(value) else value
    return date_format(value, "SHORT_DATE_FORMAT")


@register.filter
def datetime_short(value) -> str:
    """A moment in local time in the viewer's style: 2026/12/03 17:13 · Dec 3, 2026 17:13; None → '—'."""
    if not value:
        return DASH
    if isinstance(value, dt.datetime) and timezone.is_aware(value):
        value = timezone.localtime(value)
    return date_format(value, "SHORT_DATETIME_FORMAT")
