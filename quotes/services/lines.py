"""Products and a deal's line items. A deal with items has their total (tax excluded) as its amount."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Q, QuerySet
from django.utils.translation import gettext as _

from pipeline import services as pipeline_services
from pipeline.models import Deal
from quotes.models import DealLineItem, Issuer, Product, Unit
from quotes.tax import DiscountKind, Line, Rounding, TaxCategory, compute
from salesmarketing.models import User


def _decimal(field: str, value: Any, *, places: int = 0, minimum: Decimal = Decimal(0)) -> Decimal:
    try:
        number = Decimal(str(value).replace(",", "").strip())
    except (InvalidOperation, ValueError):
        raise ValidationError({field: _("Enter a number.")}) from None
    if not number.is_finite() or number != number.quantize(Decimal(1).scaleb(-places)):
        raise ValidationError({field: _("Enter a number with at most %(n)s decimals.") % {"n": places}})
    if number < minimum:
        raise ValidationError({field: _("Enter a number of at least %(n)s.") % {"n": minimum}})
    if number >= Decimal(10) ** 12:
        raise ValidationError({field: _("The number is too large.")})
    return number


def line_values(
    *,
    description: str,
    quantity: Any,
    unit: str,
    unit_price: Any,
    tax_category: str,
    discount_kind: str = DiscountKind.NONE,
    discount_value: Any = 0,
) -> dict[str, Any]:
    """A line's fields, checked (the rules of the lines' check constraints, as messages next to the fields)."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {"description": (description or "").strip()}
    if not values["description"]:
        errors["description"] = _("Enter a description.")
    for field, value, places, minimum in (
        ("quantity", quantity, 2, Decimal("0.01")),
        ("unit_price", unit_price, 0, Decimal(0)),
        ("discount_value", discount_value or 0, 2, Decimal(0)),
    ):
        try:
            values[field] = _decimal(field, value, places=places, minimum=minimum)
        except ValidationError as error:
            errors.update({key: msgs[0] for key, msgs in error.message_dict.items()})
    if unit not in Unit.values:
        errors["unit"] = _("Choose a unit.")
    if tax_category not in TaxCategory.values:
        errors["tax_category"] = _("Choose a tax category.")
    if discount_kind not in DiscountKind.values:
        errors["discount_kind"] = _("Choose a kind of discount.")
    if errors:
        raise ValidationError(errors)
    if discount_kind == DiscountKind.NONE:
        values["discount_value"] = Decimal(0)
    elif discount_kind == DiscountKind.PERCENT and values["discount_value"] > 100:
        raise ValidationError({"discount_value": _("A discount is at most 100%.")})
    values.update(unit=unit, tax_category=tax_category, discount_kind=discount_kind)
    return values


@transaction.atomic
def product_save(*, product: Product | None = None, **fields: Any) -> Product:
    """Create or change a product (code, names, unit price, unit, tax category, active)."""
    product = product or Product()
    code = (fields.get("code", product.code) or "").strip()
    if not code:
        raise ValidationError({"code": _("Enter a code.")})
    if Product.objects.filter(code=code).exclude(pk=product.pk).exists():
        raise ValidationError({"code": _("Another product has this code.")})
    for key, value in fields.items():
        setattr(product, key, value.strip() if isinstance(value, str) else value)
    product.code = code
    product.unit_price = _decimal("unit_price", product.unit_price)
    if not product.name_ja:
        raise ValidationError({"name_ja": _("Enter a name.")})
    if product.unit not in Unit.values:
        raise ValidationError({"unit": _("Choose a unit.")})
    if product.tax_category not in TaxCategory.values:
        raise ValidationError({"tax_category": _("Choose a tax category.")})
    product.save()
    return product


def issuers_for(deal: Deal) -> QuerySet[Issuer]:
    """The deal's team's issuer and the company-wide default, the team's first."""
    condition = Q(is_default=True)
    if deal.team_id is not None:
        condition |= Q(team_id=deal.team_id)
    # A team's own issuer (is_default False) sorts before the default.
    return Issuer.objects.filter(condition).order_by("is_default")


def issuer_for(deal: Deal) -> Issuer | None:
    """The deal's team's issuer, else the company-wide default (None when neither is set up); one query."""
    return issuers_for(deal).first()


def deal_lines_total(deal: Deal) -> Decimal:
    """The deal's items' total, tax excluded, rounded as its issuer rounds (floor without an issuer)."""
    issuer = issuer_for(deal)
    rounding = issuer.rounding if issuer else Rounding.FLOOR
    lines = [
        Line(i.quantity, i.unit_price, i.tax_category, i.discount_kind, i.discount_value)
        for i in DealLineItem.objects.filter(deal=deal)
    ]
    return compute(lines, rounding=rounding).subtotal


def _sync_amount(*, deal: Deal, by: User | None) -> Deal:
    """A deal with items takes their total as its amount (through pipeline's own write); without items the
    amount stays as it was, typed by hand again from then on."""
    if not DealLineItem.objects.filter(deal=deal).exists():
        return deal
    return pipeline_services.deal_update(deal=deal, by=by, amount=deal_lines_total(deal), amount_derived=True)


def deal_amount_derived(*, deal: Deal) -> str:
    """DEAL_AMOUNT_DERIVED (salesmarketing.hooks): a deal with line items has their total as its amount, never a
    typed one. A deal read with its `item_count` (DEAL_ITEM_COUNT: the deal page's own query) is answered without a
    query."""
    count = getattr(deal, "item_count", None)
    has_items = count > 0 if count is not None else DealLineItem.objects.filter(deal_id=deal.pk).exists()
    if has_items:
        return _("The amount is the total of the deal's line items: change the items to change it.")
    return ""


@transaction.atomic
def line_item_add(
    *,
    deal: Deal,
    by: User | None,
    product: Product | None = None,
    description: str = "",
    quantity: Any = 1,
    unit: str | None = None,
    unit_price: Any = None,
    tax_category: str | None = None,
    discount_kind: str = DiscountKind.NONE,
    discount_value: Any = 0,
) -> DealLineItem:
    """Add a line to a deal: a product (its name, unit, price and tax unless given) or free text."""
    if product is not None and not product.active:
        raise ValidationError({"product": _("This product is no longer sold.")})
    values = line_values(
        description=description or (product.name_ja if product else ""),
        quantity=quantity,
        unit=unit or (product.unit if product else Unit.SET),
        unit_price=unit_price if unit_price not in (None, "") else (product.unit_price if product else ""),
        tax_category=tax_category or (product.tax_category if product else TaxCategory.STANDARD),
        discount_kind=discount_kind,
        discount_value=discount_value,
    )
    last = DealLineItem.objects.filter(deal=deal).aggregate(last=Max("position"))["last"]
    item = DealLineItem.objects.create(
        deal=deal, product=product, position=0 if last is None else last + 1, **values
    )
    _sync_amount(deal=deal, by=by)
    return item


@transaction.atomic
def line_item_update(*, item: DealLineItem, by: User | None, **fields: Any) -> DealLineItem:
    """Change a line's description, quantity, unit, price, tax category or discount."""
    current = {
        key: getattr(item, key)
        for key in (
            "description",
            "quantity",
            "unit",
            "unit_price",
            "tax_category",
            "discount_kind",
            "discount_value",
        )
    }
    values = line_values(**{**current, **fields})
    for key, value in values.items():
        setattr(item, key, value)
    item.save()
    _sync_amount(deal=item.deal, by=by)
    return item


@transaction.atomic
def line_item_remove(*, item: DealLineItem, by: User | None) -> None:
    deal = item.deal
    item.delete()
    _sync_amount(deal=deal, by=by)
