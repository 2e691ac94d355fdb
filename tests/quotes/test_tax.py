"""The tax engine against hand-computed totals: tax once per rate per document, one rounding mode."""

from __future__ import annotations

from decimal import Decimal

import pytest

from quotes.tax import (
    DiscountKind,
    Line,
    Rounding,
    TaxCategory,
    compute,
    corporate_number_check_digit,
    discount_percent,
    is_valid_registration_number,
    line_amount,
)

S, R, E = TaxCategory.STANDARD, TaxCategory.REDUCED, TaxCategory.EXEMPT
PCT, AMT = DiscountKind.PERCENT, DiscountKind.AMOUNT

MIXED = [Line(3, 12_345, S), Line(2, 1_080, R), Line(1, 5_000, E)]

# (lines, rounding, per rate [(category, taxable, tax)], subtotal, tax, total) — computed by hand.
CASES = [
    pytest.param(
        # 37,035 × 10 % = 3,703.5; 2,160 × 8 % = 172.8; 5,000 exempt
        MIXED,
        Rounding.FLOOR,
        [(S, 37_035, 3_703), (R, 2_160, 172), (E, 5_000, 0)],
        44_195,
        3_875,
        48_070,
        id="mixed-10-8-exempt-floor",
    ),
    pytest.param(
        MIXED,
        Rounding.HALF_UP,
        [(S, 37_035, 3_704), (R, 2_160, 173), (E, 5_000, 0)],
        44_195,
        3_877,
        48_072,
        id="mixed-10-8-exempt-half-up",
    ),
    pytest.param(
        MIXED,
        Rounding.CEILING,
        [(S, 37_035, 3_704), (R, 2_160, 173), (E, 5_000, 0)],
        44_195,
        3_877,
        48_072,
        id="mixed-10-8-exempt-ceiling",
    ),
    pytest.param(
        # Tax per line would be 10 + 10 = 20 (10.5 floored twice); once on the document's 210 it is 21.
        [Line(1, 105, S), Line(1, 105, S)],
        Rounding.FLOOR,
        [(S, 210, 21)],
        210,
        21,
        231,
        id="once-per-rate-not-per-line",
    ),
    pytest.param(
        # 1,005 × 10 % = 100.5 exactly: the ¥0.5 boundary
        [Line(1, 1_005, S)],
        Rounding.FLOOR,
        [(S, 1_005, 100)],
        1_005,
        100,
        1_105,
        id="half-yen-floor",
    ),
    pytest.param(
        [Line(1, 1_005, S)], Rounding.HALF_UP, [(S, 1_005, 101)], 1_005, 101, 1_106, id="half-yen-half-up"
    ),
    pytest.param(
        [Line(1, 1_005, S)], Rounding.CEILING, [(S, 1_005, 101)], 1_005, 101, 1_106, id="half-yen-ceiling"
    ),
    pytest.param(
        # 1,004 × 10 % = 100.4 and 1,006 × 8 % = 80.48: below the boundary, half up rounds down
        [Line(1, 1_004, S), Line(1, 1_006, R)],
        Rounding.HALF_UP,
        [(S, 1_004, 100), (R, 1_006, 80)],
        2_010,
        180,
        2_190,
        id="just-below-half-half-up",
    ),
    pytest.param(
        # 1,007 × 8 % = 80.56: above the boundary
        [Line(1, 1_007, R)],
        Rounding.HALF_UP,
        [(R, 1_007, 81)],
        1_007,
        81,
        1_088,
        id="reduced-above-half-half-up",
    ),
    pytest.param(
        # 10 × 9,800 = 98,000 − 15 % (14,700) = 83,300; 500,000 − 50,000 = 450,000; 533,300 × 10 % = 53,330
        [Line(10, 9_800, S, PCT, 15), Line(1, 500_000, S, AMT, 50_000)],
        Rounding.FLOOR,
        [(S, 533_300, 53_330)],
        533_300,
        53_330,
        586_630,
        id="percent-and-amount-discounts",
    ),
    pytest.param(
        # 3 × 333 = 999 − 10 % = 899.1 → the line floors to 899; 899 × 8 % = 71.92 → 71
        [Line(3, 333, R, PCT, 10)],
        Rounding.FLOOR,
        [(R, 899, 71)],
        899,
        71,
        970,
        id="fractional-discount-floor",
    ),
    pytest.param(
        # ceiling: the line 899.1 → 900; 900 × 8 % = 72
        [Line(3, 333, R, PCT, 10)],
        Rounding.CEILING,
        [(R, 900, 72)],
        900,
        72,
        972,
        id="fractional-discount-ceiling",
    ),
    pytest.param(
        # 1.5 months × 33,333 = 49,999.5 → 49,999; × 10 % = 4,999.9 → 4,999
        [Line(Decimal("1.5"), 33_333, S)],
        Rounding.FLOOR,
        [(S, 49_999, 4_999)],
        49_999,
        4_999,
        54_998,
        id="fractional-quantity",
    ),
    pytest.param(
        [Line(2, 50_000, E), Line(1, 1_000, E, AMT, 1_000)],
        Rounding.FLOOR,
        [(E, 100_000, 0)],
        100_000,
        0,
        100_000,
        id="exempt-only-and-a-free-line",
    ),
    pytest.param([], Rounding.FLOOR, [], 0, 0, 0, id="no-lines"),
]


@pytest.mark.parametrize(("lines", "rounding", "rates", "subtotal", "tax", "total"), CASES)
def test_totals_match_hand_computed(lines, rounding, rates, subtotal, tax, total):
    totals = compute(lines, rounding=rounding)

    assert [(r.category, r.taxable, r.tax) for r in totals.rates] == [
        (category, Decimal(taxable), Decimal(rate_tax)) for category, taxable, rate_tax in rates
    ]
    assert (totals.subtotal, totals.tax, totals.total) == (Decimal(subtotal), Decimal(tax), Decimal(total))


def test_rates_are_ten_eight_and_zero_percent():
    totals = compute(MIXED)

    assert [(r.category, r.rate) for r in totals.rates] == [(S, 10), (R, 8), (E, 0)]


def test_a_discount_larger_than_the_line_leaves_it_at_zero():
    assert line_amount(quantity=1, unit_price=1_000, discount_kind=AMT, discount_value=1_500) == 0


def test_discount_percent_of_an_amount_discount():
    assert discount_percent(quantity=4, unit_price=25_000, discount_kind=AMT, discount_value=20_000) == 20


def test_frozen_copy_is_strings():
    frozen = compute(MIXED).as_dict()

    assert frozen["total"] == "48070"
    assert frozen["rates"][0] == {"category": "standard", "rate": "10", "taxable": "37035", "tax": "3703"}


# 法人番号 with their check digits: 国税庁 (7000012050002), トヨタ自動車 (1180301018771).
@pytest.mark.parametrize("number", ["T7000012050002", "T1180301018771"])
def test_valid_registration_numbers(number):
    assert is_valid_registration_number(number)


@pytest.mark.parametrize(
    "number",
    [
        "T7000012050003",  # check digit wrong
        "T2180301018771",  # check digit wrong
        "7000012050002",  # no T
        "t7000012050002",  # lower-case t
        "T700001205000",  # 12 digits
        "T70000120500021",  # 14 digits
        "T70000120500O2",  # a letter O
        "",
    ],
)
def test_invalid_registration_numbers(number):
    assert not is_valid_registration_number(number)


def test_check_digit_of_a_sum_divisible_by_nine_is_nine():
    # 9 × 1 from the lowest digit: Σ = 9 → 9 − 0 = 9
    assert corporate_number_check_digit("000000000009") == 9
