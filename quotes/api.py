"""Products, a deal's line items and quotes over the JSON API, with the `deals:write` scope the deals use:
everything the pages do.

A key acting as a user reads and changes the items and quotes of the deals that user may act on, as in the app
(marketing reads only; products are changed by managers and admins); a key without a user acts for the
integration and reaches every deal. Quotes are made, issued, approved and sent by people, so those writes need a
user's key. 404 for a deal, item or quote the key cannot see; 422 naming the field for bad values; 409 for a
transition the quote's status does not allow.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest
from ninja import Field, Router, Schema
from ninja.errors import HttpError
from ninja.responses import Status

from pipeline.models import Deal
from quotes import selectors, services
from quotes.documents import quote_document
from quotes.models import DealLineItem, Product, Quote
from quotes.tax import line_amount
from salesmarketing.api import acting_user, field_invalid, require_scope, service_invalid
from salesmarketing.dates import InRangeDate
from salesmarketing.models import ApiKey, User

router = Router(tags=["quotes"])


class ErrorOut(Schema):
    detail: str


class ProductOut(Schema):
    id: int
    code: str
    name_ja: str
    name_en: str
    unit_price: int
    unit: str
    tax_category: str
    active: bool


class QuoteLineOut(Schema):
    description: str
    quantity: str
    unit: str
    unit_price: int
    tax_category: str
    discount_kind: str
    discount_value: str
    amount: int


class RateOut(Schema):
    category: str
    rate: str
    taxable: int
    tax: int


class QuoteOut(Schema):
    id: int
    deal_id: int
    number: str
    revision: int
    status: str
    issue_date: dt.date
    valid_until: dt.date
    addressee_name: str
    addressee_kind: str
    subject: str
    language: str
    subtotal: int
    tax: int
    total: int
    rates: list[RateOut]
    lines: list[QuoteLineOut]


class ProductIn(Schema):
    code: str = Field(..., max_length=40)
    name_ja: str = Field(..., max_length=200)
    name_en: str = Field("", max_length=200)
    unit_price: int = Field(..., ge=0, lt=10**12)
    unit: str
    tax_category: str
    active: bool = True


class ProductPatch(Schema):
    code: str | None = Field(None, max_length=40)
    name_ja: str | None = Field(None, max_length=200)
    name_en: str | None = Field(None, max_length=200)
    unit_price: int | None = Field(None, ge=0, lt=10**12)
    unit: str | None = None
    tax_category: str | None = None
    active: bool | None = None


class ItemOut(Schema):
    id: int
    deal_id: int
    position: int
    product_id: int | None
    description: str
    quantity: str
    unit: str
    unit_price: int
    tax_category: str
    discount_kind: str
    discount_value: str
    amount: int


class ItemIn(Schema):
    product_id: int | None = Field(
        None, ge=1, le=2**63 - 1, description="A product: its name, unit, price and tax unless given."
    )
    description: str = Field("", max_length=300)
    quantity: Decimal = Decimal(1)
    unit: str | None = None
    unit_price: int | None = Field(None, ge=0, lt=10**12)
    tax_category: str | None = None
    discount_kind: str = "none"
    discount_value: Decimal = Decimal(0)


class ItemPatch(Schema):
    description: str | None = Field(None, max_length=300)
    quantity: Decimal | None = None
    unit: str | None = None
    unit_price: int | None = Field(None, ge=0, lt=10**12)
    tax_category: str | None = None
    discount_kind: str | None = None
    discount_value: Decimal | None = None


class QuoteHeader(Schema):
    valid_until: InRangeDate | None = None
    addressee_kind: str | None = None
    addressee_name: str | None = Field(None, max_length=200)
    subject: str | None = Field(None, max_length=200)
    delivery_terms: str | None = Field(None, max_length=200)
    payment_terms: str | None = Field(None, max_length=200)
    notes: str | None = Field(None, max_length=2000)
    language: Literal["ja", "en"] | None = None


class QuoteAction(Schema):
    comment: str = Field("", max_length=1000, description="approve: the approver's comment.")
    email: bool = Field(False, description="send: e-mail the PDF to the deal's contact.")


QUOTE_ACTIONS = {
    "refresh": services.quote_refresh_lines,
    "issue": services.quote_issue,
    "revise": services.quote_revise,
    "accept": services.quote_accept,
    "decline": services.quote_decline,
    "retry_email": services.quote_email_retry,
}


def _acting(request: HttpRequest) -> User | None:
    return acting_user(require_scope(request, ApiKey.Scope.DEALS_WRITE))


def _deals(request: HttpRequest):
    """The deals the key reads: an integration every deal, a user those they read in the app."""
    user = _acting(request)
    return Deal.objects.all() if user is None else Deal.objects.readable_by(user)


def _writable_deals(user: User | None):
    """The deals whose items and quotes the key changes (marketing reads only: none)."""
    if user is None:
        return Deal.objects.all()
    return Deal.objects.visible_to(user) if selectors.can_edit(user) else Deal.objects.none()


def _person(user: User | None) -> User:
    if user is None:
        raise HttpError(403, "Quotes are made, issued and sent by people: use a user's API key.")
    return user


def _item_out(item: DealLineItem) -> dict:
    return {
        **{name: getattr(item, name) for name in ("id", "deal_id", "position", "product_id", "description")},
        **{name: getattr(item, name) for name in ("unit", "tax_category", "discount_kind")},
        "quantity": str(item.quantity),
        "unit_price": int(item.unit_price),
        "discount_value": str(item.discount_value),
        "amount": int(
            line_amount(
                quantity=item.quantity,
                unit_price=item.unit_price,
                discount_kind=item.discount_kind,
                discount_value=item.discount_value,
            )
        ),
    }


def _quote_out(quote: Quote) -> dict:
    doc = quote.frozen or quote_document(quote)
    return {
        "id": quote.pk,
        "deal_id": quote.deal_id,
        "number": quote.number,
        "revision": quote.revision,
        "status": quote.status,
        "issue_date": quote.issue_date,
        "valid_until": quote.valid_until,
        "addressee_name": quote.addressee_name,
        "addressee_kind": quote.addressee_kind,
        "subject": quote.subject,
        "language": quote.language,
        "subtotal": int(quote.subtotal),
        "tax": int(quote.tax),
        "total": int(quote.total),
        "rates": [
            {"category": r["category"], "rate": r["rate"], "taxable": int(r["taxable"]), "tax": int(r["tax"])}
            for r in doc["totals"]["rates"]
        ],
        "lines": [
            {**line, "unit_price": int(line["unit_price"]), "amount": int(line["amount"])}
            for line in doc["lines"]
        ],
    }


def _product_out(product: Product) -> dict:
    return {
        **{name: getattr(product, name) for name in ProductOut.model_fields},
        "unit_price": int(product.unit_price),
    }


@router.get("/products", response={200: list[ProductOut]}, summary="List products")
def list_products(request: HttpRequest):
    require_scope(request, ApiKey.Scope.DEALS_WRITE)
    return [
        {**p, "unit_price": int(p["unit_price"])}
        for p in Product.objects.order_by("code").values(*ProductOut.model_fields)[:1000]
    ]


def _product_editor(request: HttpRequest) -> None:
    user = _acting(request)
    if user is not None and not selectors.can_edit_products(user):
        raise HttpError(403, "Only managers and administrators change products.")


@router.post("/products", response={201: ProductOut, 403: ErrorOut}, summary="Create a product")
def create_product(request: HttpRequest, payload: ProductIn):
    _product_editor(request)
    try:
        product = services.product_save(**payload.dict())
    except DjangoValidationError as error:
        raise service_invalid(error) from None
    return Status(201, _product_out(product))


@router.patch(
    "/products/{product_id}",
    response={200: ProductOut, 403: ErrorOut, 404: ErrorOut},
    summary="Change a product",
)
def update_product(request: HttpRequest, product_id: int, payload: ProductPatch):
    _product_editor(request)
    product = Product.objects.filter(pk=product_id).first()
    if product is None:
        raise HttpError(404, "Product not found.")
    try:
        product = services.product_save(product=product, **payload.dict(exclude_unset=True))
    except DjangoValidationError as error:
        raise service_invalid(error) from None
    return _product_out(product)


@router.get(
    "/deals/{deal_id}/items", response={200: list[ItemOut], 404: ErrorOut}, summary="A deal's line items"
)
def list_deal_items(request: HttpRequest, deal_id: int):
    deal = _deals(request).filter(pk=deal_id).first()
    if deal is None:
        raise HttpError(404, "Deal not found.")
    return [_item_out(item) for item in DealLineItem.objects.filter(deal=deal).order_by("position", "id")]


@router.post(
    "/deals/{deal_id}/items", response={201: ItemOut, 404: ErrorOut}, summary="Add a line item to a deal"
)
def create_deal_item(request: HttpRequest, deal_id: int, payload: ItemIn):
    """The deal's amount becomes its items' total (tax excluded)."""
    user = _acting(request)
    deal = _writable_deals(user).filter(pk=deal_id).first()
    if deal is None:
        raise HttpError(404, "Deal not found.")
    values = payload.dict()
    product = None
    if values.pop("product_id") is not None:
        product = Product.objects.filter(pk=payload.product_id).first()
        if product is None:
            raise field_invalid("product_id", "No product has this id.")
    try:
        item = services.line_item_add(deal=deal, by=user, product=product, **values)
    except DjangoValidationError as error:
        raise service_invalid(error, {"product": "product_id"}) from None
    return Status(201, _item_out(item))


def _item(user: User | None, item_id: int) -> DealLineItem:
    item = DealLineItem.objects.filter(deal__in=_writable_deals(user).values("pk"), pk=item_id).first()
    if item is None:
        raise HttpError(404, "Item not found.")
    return item


@router.patch("/items/{item_id}", response={200: ItemOut, 404: ErrorOut}, summary="Change a line item")
def update_deal_item(request: HttpRequest, item_id: int, payload: ItemPatch):
    user = _acting(request)
    item = _item(user, item_id)
    try:
        item = services.line_item_update(item=item, by=user, **payload.dict(exclude_unset=True))
    except DjangoValidationError as error:
        raise service_invalid(error) from None
    return _item_out(item)


@router.delete("/items/{item_id}", response={204: None, 404: ErrorOut}, summary="Remove a line item")
def delete_deal_item(request: HttpRequest, item_id: int):
    user = _acting(request)
    services.line_item_remove(item=_item(user, item_id), by=user)
    return Status(204, None)


@router.get(
    "/deals/{deal_id}/quotes", response={200: list[QuoteOut], 404: ErrorOut}, summary="A deal's quotes"
)
def list_deal_quotes(request: HttpRequest, deal_id: int):
    deal = _deals(request).filter(pk=deal_id).first()
    if deal is None:
        raise HttpError(404, "Deal not found.")
    quotes = Quote.objects.filter(deal=deal).select_related("issuer").prefetch_related("lines")
    return [_quote_out(quote) for quote in quotes.order_by("-year", "-sequence", "-revision")[:200]]


@router.get("/quotes/{quote_id}", response={200: QuoteOut, 404: ErrorOut}, summary="Read a quote")
def get_quote(request: HttpRequest, quote_id: int):
    quote = (
        Quote.objects.filter(deal__in=_deals(request).values("pk"), pk=quote_id)
        .select_related("issuer")
        .prefetch_related("lines")
        .first()
    )
    if quote is None:
        raise HttpError(404, "Quote not found.")
    return _quote_out(quote)


def _writable_quote(user: User, quote_id: int) -> Quote:
    quote = (
        Quote.objects.filter(deal__in=_writable_deals(user).values("pk"), pk=quote_id)
        .select_related("issuer", "deal")
        .first()
    )
    if quote is None:
        raise HttpError(404, "Quote not found.")
    return quote


def _quote_result(quote: Quote) -> dict:
    return _quote_out(Quote.objects.select_related("issuer").prefetch_related("lines").get(pk=quote.pk))


def _refused(error: DjangoValidationError) -> Exception:
    """A header value the service refused is a 422 at its field; a transition the status forbids is a 409."""
    if hasattr(error, "error_dict"):
        return service_invalid(error)
    return HttpError(409, " ".join(error.messages))


@router.post(
    "/deals/{deal_id}/quotes",
    response={201: QuoteOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut},
    summary="Make a draft quote from a deal's items",
)
def create_quote(request: HttpRequest, deal_id: int, payload: QuoteHeader):
    """Numbered by the issuer's counter (no gaps, no duplicates); the lines are the deal's items."""
    user = _person(_acting(request))
    deal = _writable_deals(user).select_related("company", "team").filter(pk=deal_id).first()
    if deal is None:
        raise HttpError(404, "Deal not found.")
    try:
        quote = services.quote_create(deal=deal, by=user, **payload.dict(exclude_none=True))
    except DjangoValidationError as error:
        raise _refused(error) from None
    return Status(201, _quote_result(quote))


@router.patch(
    "/quotes/{quote_id}",
    response={200: QuoteOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut},
    summary="Change a draft's header",
)
def update_quote(request: HttpRequest, quote_id: int, payload: QuoteHeader):
    user = _person(_acting(request))
    try:
        quote = services.quote_update(
            quote=_writable_quote(user, quote_id), by=user, **payload.dict(exclude_unset=True)
        )
    except DjangoValidationError as error:
        raise _refused(error) from None
    return _quote_result(quote)


@router.post(
    "/quotes/{quote_id}/{action}",
    response={200: QuoteOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut},
    summary="Move a quote on: refresh, issue, approve, send, accept, decline, revise, retry_email",
)
def quote_action(
    request: HttpRequest,
    quote_id: int,
    action: Literal["refresh", "issue", "approve", "send", "accept", "decline", "revise", "retry_email"],
    payload: QuoteAction | None = None,
):
    """As the quote page's buttons: `issue` freezes a draft (it then waits for a manager's approval when a
    discount is above the threshold); `approve` (a manager of the deal's team, not the author) takes a
    `comment`; `send` marks it sent and, with `email`, e-mails the PDF to the deal's contact; `revise` makes the
    next revision as a draft (the answer is the new revision)."""
    user = _person(_acting(request))
    quote = _writable_quote(user, quote_id)
    payload = payload or QuoteAction()
    try:
        if action == "approve":
            if not services.can_approve(user, quote):
                raise HttpError(
                    403, "Only a manager of the deal's team, not the quote's author, approves it."
                )
            result = services.quote_approve(quote=quote, by=user, comment=payload.comment)
        elif action == "send":
            result = services.quote_mark_sent(quote=quote, by=user, email=payload.email)
        else:
            result = QUOTE_ACTIONS[action](quote=quote, by=user)
    except DjangoValidationError as error:
        raise _refused(error) from None
    return _quote_result(result)
