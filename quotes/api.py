"""Products and quotes over the JSON API (read-only), with the `deals:write` scope the deals use.

A key acting as a user sees the quotes of the deals that user may act on (as in the app); a key without a user
acts for the integration and sees every quote. 404 for a deal or quote the key cannot see.
"""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.errors import HttpError

from pipeline.models import Deal
from quotes.documents import quote_document
from quotes.models import Product, Quote
from salesmarketing.api import require_scope
from salesmarketing.models import ApiKey

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


def _deals(request: HttpRequest):
    key = require_scope(request, ApiKey.Scope.DEALS_WRITE)
    return Deal.objects.all() if key.user is None else Deal.objects.visible_to(key.user)


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


@router.get("/products", response={200: list[ProductOut]}, summary="List products")
def list_products(request: HttpRequest):
    require_scope(request, ApiKey.Scope.DEALS_WRITE)
    return [
        {**p, "unit_price": int(p["unit_price"])}
        for p in Product.objects.order_by("code").values(*ProductOut.model_fields)[:1000]
    ]


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
