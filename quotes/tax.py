"""Japanese consumption tax for a quote, as a qualified invoice (適格請求書) computes it.

Pure functions, no database: the engine the services, the pages and the PDF share.

- A line's amount is quantity × unit price − its discount (a percentage of that, or an amount), in integer yen
  (a fractional quantity or a percentage discount is rounded with the document's rounding mode).
- The lines are summed per tax category (standard 10 %, reduced 8 %, exempt); the consumption tax is computed
  ONCE per rate per document on that sum — never per line and then added up — with the one rounding mode of the
  document (切り捨て, floor, by default; 四捨五入, round half up; 切り上げ, ceiling).
- Totals: the subtotal without tax, the tax, and the total with tax; all integer yen (Decimal inside).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _

YEN = Decimal(1)
ZERO = Decimal(0)
HUNDRED = Decimal(100)


class TaxCategory(models.TextChoices):
    STANDARD = "standard", _("Standard rate (10%)")
    REDUCED = "reduced", _("Reduced rate (8%)")
    EXEMPT = "exempt", _("Exempt (no tax)")


# The rate of each category, in percent. Exempt lines (非課税) carry no tax and show on their own line.
RATES: dict[str, Decimal] = {
    TaxCategory.STANDARD: Decimal(10),
    TaxCategory.REDUCED: Decimal(8),
    TaxCategory.EXEMPT: ZERO,
}


class Rounding(models.TextChoices):
    FLOOR = "floor", _("Round down (切り捨て)")
    HALF_UP = "half_up", _("Round half up (四捨五入)")
    CEILING = "ceiling", _("Round up (切り上げ)")


_DECIMAL_ROUNDING = {
    Rounding.FLOOR: ROUND_FLOOR,
    Rounding.HALF_UP: ROUND_HALF_UP,
    Rounding.CEILING: ROUND_CEILING,
}


class DiscountKind(models.TextChoices):
    NONE = "none", _("No discount")
    PERCENT = "percent", _("Percent")
    AMOUNT = "amount", _("Amount (JPY)")


def round_yen(value: Decimal, rounding: str = Rounding.FLOOR) -> Decimal:
    """`value` as integer yen, with the document's rounding mode."""
    return value.quantize(YEN, rounding=_DECIMAL_ROUNDING[Rounding(rounding)])


def _decimal(value: Decimal | int | str) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def line_discount(
    *,
    quantity: Decimal | int | str,
    unit_price: Decimal | int | str,
    discount_kind: str = DiscountKind.NONE,
    discount_value: Decimal | int | str = 0,
) -> Decimal:
    """The discount of a line, before rounding: a percentage of quantity × unit price, or an amount."""
    gross = _decimal(quantity) * _decimal(unit_price)
    value = _decimal(discount_value)
    if discount_kind == DiscountKind.PERCENT:
        return gross * value / HUNDRED
    if discount_kind == DiscountKind.AMOUNT:
        return value
    return ZERO


def line_amount(
    *,
    quantity: Decimal | int | str,
    unit_price: Decimal | int | str,
    discount_kind: str = DiscountKind.NONE,
    discount_value: Decimal | int | str = 0,
    rounding: str = Rounding.FLOOR,
) -> Decimal:
    """quantity × unit price − discount, in integer yen (never below zero)."""
    gross = _decimal(quantity) * _decimal(unit_price)
    net = gross - line_discount(
        quantity=quantity, unit_price=unit_price, discount_kind=discount_kind, discount_value=discount_value
    )
    return max(round_yen(net, rounding), ZERO)


def discount_percent(
    *,
    quantity: Decimal | int | str,
    unit_price: Decimal | int | str,
    discount_kind: str = DiscountKind.NONE,
    discount_value: Decimal | int | str = 0,
) -> Decimal:
    """A line's discount as a percentage of its gross (what the approval threshold compares)."""
    gross = _decimal(quantity) * _decimal(unit_price)
    if gross <= 0:
        return ZERO
    return (
        line_discount(
            quantity=quantity,
            unit_price=unit_price,
            discount_kind=discount_kind,
            discount_value=discount_value,
        )
        * HUNDRED
        / gross
    )


@dataclass(frozen=True)
class Line:
    quantity: Decimal | int | str
    unit_price: Decimal | int | str
    tax_category: str = TaxCategory.STANDARD
    discount_kind: str = DiscountKind.NONE
    discount_value: Decimal | int | str = 0


@dataclass(frozen=True)
class RateSummary:
    """One tax rate of a document: the lines' sum at that rate (税抜) and its tax, computed once."""

    category: str
    rate: Decimal
    taxable: Decimal
    tax: Decimal

    @property
    def total(self) -> Decimal:
        return self.taxable + self.tax

    @property
    def label(self) -> str:
        return str(TaxCategory(self.category).label)


@dataclass(frozen=True)
class Totals:
    lines: list[Decimal]
    rates: list[RateSummary] = field(default_factory=list)
    rounding: str = Rounding.FLOOR

    @property
    def subtotal(self) -> Decimal:
        return sum((rate.taxable for rate in self.rates), ZERO)

    @property
    def tax(self) -> Decimal:
        return sum((rate.tax for rate in self.rates), ZERO)

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.tax

    def as_dict(self) -> dict:
        """A JSON-ready copy (a quote freezes it when issued)."""
        return {
            "rounding": str(self.rounding),
            "lines": [str(amount) for amount in self.lines],
            "rates": [
                {
                    "category": str(r.category),
                    "rate": str(r.rate),
                    "taxable": str(r.taxable),
                    "tax": str(r.tax),
                }
                for r in self.rates
            ],
            "subtotal": str(self.subtotal),
            "tax": str(self.tax),
            "total": str(self.total),
        }


def compute(lines: Iterable[Line], *, rounding: str = Rounding.FLOOR) -> Totals:
    """The document's totals: the lines' amounts, per rate (in the order 10 %, 8 %, exempt; only the rates the
    document uses) the sum and its tax computed once, rounded once with `rounding`."""
    amounts: list[Decimal] = []
    by_category: dict[str, Decimal] = {}
    for line in lines:
        amount = line_amount(
            quantity=line.quantity,
            unit_price=line.unit_price,
            discount_kind=line.discount_kind,
            discount_value=line.discount_value,
            rounding=rounding,
        )
        amounts.append(amount)
        category = TaxCategory(line.tax_category)
        by_category[category] = by_category.get(category, ZERO) + amount
    rates = [
        RateSummary(
            category=category,
            rate=RATES[category],
            taxable=by_category[category],
            tax=round_yen(by_category[category] * RATES[category] / HUNDRED, rounding),
        )
        for category in TaxCategory
        if category in by_category
    ]
    return Totals(lines=amounts, rates=rates, rounding=Rounding(rounding))


# 適格請求書発行事業者の登録番号: "T" and a 法人番号 (13 digits, the first its check digit).
_REGISTRATION = re.compile(r"T(\d{13})")


def corporate_number_check_digit(base12: str) -> int:
    """The check digit of a 法人番号 from its 12 other digits: 9 − (Σ Pn × Qn) mod 9, where Pn is the n-th digit
    counted from the lowest and Qn is 1 for odd n and 2 for even n."""
    if len(base12) != 12 or not base12.isdigit():
        raise ValueError("a corporate number's base is 12 digits")
    total = sum(int(digit) * (1 if n % 2 else 2) for n, digit in enumerate(reversed(base12), start=1))
    return 9 - total % 9


def is_valid_registration_number(value: str) -> bool:
    """Whether `value` is a qualified invoice issuer's registration number: "T" + 13 digits, check digit right."""
    match = _REGISTRATION.fullmatch(value or "")
    if match is None:
        return False
    digits = match.group(1)
    return int(digits[0]) == corporate_number_check_digit(digits[1:])
