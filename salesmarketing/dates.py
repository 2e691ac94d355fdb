"""The one range of dates and times the app accepts from anyone: 1900-01-01 to 2100-12-31.

Python and PostgreSQL both hold years 1 to 9999, but the edges break later, far from the input: an activity at
0001-01-01 00:00 Tokyo time is a BC timestamp in UTC that psycopg cannot read back (every page showing it answers
500 from then on), and the month or week after 9999-12 does not exist. So every date a person or a program gives
us — a form field, an API schema, a CSV row, an event, a period in a query string — is checked against this range
where it comes in, with a message on the field:

- forms use `DateField` / `DateTimeField` below (ModelForms through `Meta.field_classes`; the admin's forms
  through `limit_admin_dates()`, called once the admin has registered every model);
- ninja / pydantic schemas use the `InRangeDate` / `InRangeDatetime` types;
- imports and other parsers call `check_date()` (ValueError) or `parse_date()` / `parse_month()`;
- a page whose query string holds an unusable date or period raises `InvalidDateInput`, a `BadRequest`:
  `salesmarketing.views.bad_request` answers 400 with the message in the normal layout.

tests/reliability/test_date_ranges.py walks every form, admin form and API input schema to keep new fields in range.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, TypeVar

from django import forms
from django.core.exceptions import BadRequest, ValidationError
from django.db import models
from django.utils.translation import gettext as _
from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

DATE_MIN = dt.date(1900, 1, 1)
DATE_MAX = dt.date(2100, 12, 31)

_MONTH_RE = re.compile(r"^(\d{4})-(\d{1,2})$")
D = TypeVar("D", dt.date, dt.datetime)


class InvalidDateInput(BadRequest, ValueError):
    """A date, month, week or period in a request that cannot be read or lies outside DATE_MIN..DATE_MAX.

    Its message is meant for the user. Raised out of a page view it answers 400 (see `views.bad_request`)."""


def in_range(value: dt.date | dt.datetime) -> bool:
    """Whether the day of `value` (a datetime's own day, in its own time zone) is within the range."""
    day = value.date() if isinstance(value, dt.datetime) else value
    return DATE_MIN <= day <= DATE_MAX


def range_message() -> str:
    return _("Enter a date between %(min)s and %(max)s.") % {
        "min": DATE_MIN.isoformat(),
        "max": DATE_MAX.isoformat(),
    }


def period_range_message() -> str:
    return _("Choose a period between %(min)s and %(max)s.") % {
        "min": DATE_MIN.isoformat(),
        "max": DATE_MAX.isoformat(),
    }


def check_date(value: D) -> D:
    """`value` unchanged, or a ValueError (with the user-facing message) when it is out of range."""
    if not in_range(value):
        raise ValueError(range_message())
    return value


def validate_date_range(value: dt.date | dt.datetime | None) -> None:
    """Django validator for model and form fields."""
    if value is not None and not in_range(value):
        raise ValidationError(range_message(), code="date_range")


# --- forms ---------------------------------------------------------------------------------------------


def _limit_widget(widget: forms.Widget) -> dict[str, str]:
    # A browser's date picker then refuses the out-of-range days too (the server checks them anyway).
    input_type = getattr(widget, "input_type", "")
    if input_type == "date":
        return {"min": DATE_MIN.isoformat(), "max": DATE_MAX.isoformat()}
    if input_type == "datetime-local":
        return {"min": f"{DATE_MIN.isoformat()}T00:00", "max": f"{DATE_MAX.isoformat()}T23:59"}
    return {}


class DateField(forms.DateField):
    """A form date limited to DATE_MIN..DATE_MAX."""

    default_validators = [validate_date_range]

    def widget_attrs(self, widget: forms.Widget) -> dict[str, str]:
        return {**super().widget_attrs(widget), **_limit_widget(widget)}


class DateTimeField(forms.DateTimeField):
    """A form date and time limited to DATE_MIN..DATE_MAX."""

    default_validators = [validate_date_range]

    def widget_attrs(self, widget: forms.Widget) -> dict[str, str]:
        return {**super().widget_attrs(widget), **_limit_widget(widget)}


class SplitDateTimeField(forms.SplitDateTimeField):
    """The admin's date + time pair, limited to DATE_MIN..DATE_MAX (validators run on the combined value)."""

    default_validators = [validate_date_range]


def limit_admin_dates(site) -> None:
    """Make every registered ModelAdmin's date and datetime fields use the range-limited form fields, keeping
    the admin's own widgets. Called from SalesmarketingConfig.ready(), after django.contrib.admin (first in
    INSTALLED_APPS) has imported every app's admin module; a ModelAdmin copies Django's defaults when it is
    registered, so its own copy is the one to change."""
    for model_admin in site._registry.values():
        overrides = model_admin.formfield_overrides
        overrides.setdefault(models.DateField, {})["form_class"] = DateField
        overrides.setdefault(models.DateTimeField, {})["form_class"] = SplitDateTimeField


# --- API schemas (pydantic) ------------------------------------------------------------------------------


def _check_for_schema(value: D) -> D:
    if not in_range(value):
        raise PydanticCustomError("date_range", range_message())
    return value


InRangeDate = Annotated[dt.date, AfterValidator(_check_for_schema)]
InRangeDatetime = Annotated[dt.datetime, AfterValidator(_check_for_schema)]


# --- query strings ---------------------------------------------------------------------------------------


def parse_date(text: str) -> dt.date:
    """A YYYY-MM-DD date from a request, or InvalidDateInput."""
    try:
        day = dt.date.fromisoformat((text or "").strip())
    except ValueError:
        raise InvalidDateInput(_("“%(text)s” is not a date (YYYY-MM-DD).") % {"text": text}) from None
    if not in_range(day):
        raise InvalidDateInput(range_message())
    return day


def parse_month(text: str) -> dt.date:
    """The first day of a YYYY-MM month from a request, or InvalidDateInput."""
    match = _MONTH_RE.match((text or "").strip())
    if not match or not 1 <= int(match[2]) <= 12:
        raise InvalidDateInput(_("“%(text)s” is not a month (YYYY-MM).") % {"text": text})
    if not DATE_MIN.year <= int(match[1]) <= DATE_MAX.year:  # year 0 is not even a Python date
        raise InvalidDateInput(period_range_message())
    return dt.date(int(match[1]), int(match[2]), 1)
