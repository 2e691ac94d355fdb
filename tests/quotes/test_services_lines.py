"""A deal's line items: the deal's amount follows their total (tax excluded) through pipeline's own write."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from quotes import services
from quotes.tax import DiscountKind, TaxCategory
from tests.quotes.factories import add_line, make_product

pytestmark = pytest.mark.django_db


def test_the_deal_amount_is_the_items_total_without_tax(deal, owner):
    product = make_product(unit_price=3_000, tax_category=TaxCategory.REDUCED)
    services.line_item_add(deal=deal, by=owner, product=product, quantity=10)
    add_line(deal, owner, unit_price=200_000, discount_kind=DiscountKind.PERCENT, discount_value=10)

    deal.refresh_from_db()
    assert deal.amount == Decimal(30_000 + 180_000)
    assert deal.version == 3  # two writes through pipeline.services.deal_update


def test_a_product_line_takes_its_name_unit_price_and_tax(deal, owner):
    product = make_product(
        name_ja="勤怠クラウド", unit="month", unit_price=5_500, tax_category=TaxCategory.EXEMPT
    )

    item = services.line_item_add(deal=deal, by=owner, product=product, quantity=12)

    assert (item.description, item.unit, item.unit_price, item.tax_category) == (
        "勤怠クラウド",
        "month",
        Decimal(5_500),
        TaxCategory.EXEMPT,
    )


def test_changing_and_removing_items_updates_the_amount_and_the_last_removal_leaves_it(deal, owner):
    first = add_line(deal, owner, unit_price=100_000)
    second = add_line(deal, owner, unit_price=50_000)
    services.line_item_update(item=first, by=owner, quantity=3)
    deal.refresh_from_db()
    assert deal.amount == 350_000

    services.line_item_remove(item=second, by=owner)
    deal.refresh_from_db()
    assert deal.amount == 300_000

    services.line_item_remove(item=first, by=owner)
    deal.refresh_from_db()
    assert deal.amount == 300_000  # without items the amount is typed by hand again, from where it was


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"quantity": 0}, "quantity"),
        ({"unit_price": -1}, "unit_price"),
        ({"discount_kind": DiscountKind.PERCENT, "discount_value": 101}, "discount_value"),
        ({"description": " "}, "description"),
        ({"unit": "barrel"}, "unit"),
        ({"tax_category": "luxury"}, "tax_category"),
        ({"quantity": "abc"}, "quantity"),
    ],
)
def test_invalid_lines_are_refused_next_to_their_field(deal, owner, fields, field):
    with pytest.raises(ValidationError) as error:
        add_line(deal, owner, **fields)

    assert field in error.value.message_dict


def test_an_inactive_product_cannot_be_added(deal, owner):
    product = make_product(active=False)

    with pytest.raises(ValidationError):
        services.line_item_add(deal=deal, by=owner, product=product)


def test_product_codes_are_unique(db):
    make_product(code="SKU-1")

    with pytest.raises(ValidationError) as error:
        make_product(code="SKU-1")
    assert "code" in error.value.message_dict
