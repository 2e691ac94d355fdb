"""One style per language for dates, date-times and yen, on pages and in inputs."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import translation

from pipeline.forms import CloseWonForm
from salesmarketing.fields import GroupedDecimalField, YenField
from salesmarketing.templatetags.sm import date_short, datetime_short, qty, yen

TOKYO = dt.timezone(dt.timedelta(hours=9))
MOMENT = dt.datetime(2026, 12, 3, 8, 13, tzinfo=dt.UTC)  # 17:13 in Tokyo


@pytest.mark.parametrize(
    ("lang", "date", "moment", "amount"),
    [
        ("ja", "2026/12/03", "2026/12/03 17:13", "2,900,000円"),
        ("en", "Dec 3, 2026", "Dec 3, 2026 17:13", "¥2,900,000"),
    ],
)
def test_one_date_datetime_and_yen_style_per_language(lang, date, moment, amount):
    with translation.override(lang):
        assert date_short(dt.date(2026, 12, 3)) == date
        assert date_short(MOMENT) == date
        assert datetime_short(MOMENT) == moment
        assert yen(2900000) == amount
        # The format names that templates already use follow the same styles.
        rendered = Template('{{ d|date:"SHORT_DATE_FORMAT" }}|{{ m|date:"SHORT_DATETIME_FORMAT" }}').render(
            Context({"d": dt.date(2026, 12, 3), "m": MOMENT.astimezone(TOKYO)})
        )
        assert rendered == f"{date}|{moment}"


def test_a_missing_date_shows_a_dash():
    assert date_short(None) == "—" and datetime_short(None) == "—"


@pytest.mark.parametrize("typed", ["2,900,000", "2900000", "¥2,900,000", "2,900,000円", " 2，900，000 "])
def test_a_yen_field_reads_amounts_with_or_without_separators(typed):
    assert YenField().clean(typed) == Decimal("2900000")


def test_a_yen_field_still_refuses_what_is_not_a_whole_amount():
    from django.core.exceptions import ValidationError

    for bad in ("abc", "2,900,000.5"):
        with pytest.raises(ValidationError):
            YenField().clean(bad)


def test_the_won_amount_is_prefilled_with_separators():
    html = str(CloseWonForm(initial={"amount": Decimal("2900000")})["amount"])
    assert 'value="2,900,000"' in html and 'type="text"' in html and 'inputmode="numeric"' in html
    bound = CloseWonForm(data={"amount": "2,900,000"})
    assert bound.is_valid() and bound.cleaned_data["amount"] == Decimal("2900000")


def test_a_target_shows_separators_without_trailing_zeros():
    field = GroupedDecimalField(max_digits=16, decimal_places=2)
    assert field.widget.format_value("14000000.00") == "14,000,000"
    assert field.widget.format_value(Decimal("3200000")) == "3,200,000"
    assert field.widget.format_value("25.5") == "25.5"
    assert field.clean("14,000,000") == Decimal("14000000")


@pytest.mark.parametrize(
    ("value", "shown"),
    [(Decimal("40.00"), "40"), (Decimal("1.50"), "1.5"), (Decimal("0.25"), "0.25"), (Decimal("12000"), "12,000"),
     (None, "—")],
)  # fmt: skip
def test_a_quantity_shows_without_trailing_zeros(value, shown):
    with translation.override("ja"):
        assert qty(value) == shown
