"""Form fields for amounts: typed and shown with thousands separators ("2,900,000"), in every language."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from django import forms

# What people type around a number: separators (ASCII and full-width), spaces, and the yen sign or 円.
_NOISE = re.compile(r"[,，\s¥￥円]")


class GroupedNumberInput(forms.TextInput):
    """A text box (type=number refuses "2,900,000") that shows its number grouped, without trailing zeros."""

    def __init__(self, attrs: dict | None = None):
        super().__init__({"inputmode": "decimal", "autocomplete": "off", **(attrs or {})})

    def format_value(self, value):
        if value is None or value == "":
            return None
        try:
            number = Decimal(_NOISE.sub("", str(value)))
        except InvalidOperation:
            return str(value)  # what was typed, shown back next to its error
        return f"{number.normalize():,f}"


class GroupedDecimalField(forms.DecimalField):
    """A DecimalField that reads "2,900,000", "2900000", "¥2,900,000" and "2,900,000円" alike."""

    widget = GroupedNumberInput

    def to_python(self, value):
        if isinstance(value, str):
            value = _NOISE.sub("", value)
        return super().to_python(value)


class YenField(GroupedDecimalField):
    """Whole yen."""

    def __init__(self, **kwargs):
        kwargs.setdefault("decimal_places", 0)
        kwargs.setdefault("max_digits", 14)
        kwargs.setdefault("widget", GroupedNumberInput(attrs={"inputmode": "numeric"}))
        super().__init__(**kwargs)
