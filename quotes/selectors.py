"""Reads for the quotes pages: a deal's items and quotes (for its page), a quote for its viewer, products."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from leads.detail.rows import Rows, read_together
from pipeline.models import Deal
from quotes.models import DealLineItem, Product, Quote
from quotes.services import issuers_for
from quotes.tax import Line, Rounding, Totals, compute
from salesmarketing.models import User


def can_edit(user: User) -> bool:
    """Whether `user` changes deals' items and quotes at all (marketing reads them only)."""
    return user.is_superuser or user.role != User.Role.MARKETING


def can_edit_products(user: User) -> bool:
    return user.is_superuser or user.role in (User.Role.ADMIN, User.Role.MANAGER)


@dataclass(frozen=True)
class DealSection:
    items: list[DealLineItem]
    totals: Totals
    quotes: list[Quote]
    products: list[Product]
    has_issuer: bool


# What the section shows of each row (the rest stays unread: the quotes' frozen copies, the products' texts).
_ITEM_FIELDS = ("id", "description", "quantity", "unit", "unit_price", "tax_category", "discount_kind",
                "discount_value", "position", "product__code")  # fmt: skip
_QUOTE_FIELDS = ("id", "year", "sequence", "revision", "status", "issue_date", "total")
PRODUCTS_OFFERED = 500


def deal_section(*, deal: Deal) -> DealSection:
    """The deal page's items, the deal's issuer (its rounding), its quotes and the products to add: one query
    whatever their number."""
    rows = read_together(
        items=Rows(DealLineItem.objects.filter(deal=deal), _ITEM_FIELDS),
        issuer=Rows(issuers_for(deal)[:1], ("id", "is_default", "rounding")),
        quotes=Rows(
            Quote.objects.filter(deal=deal).order_by("-year", "-sequence", "-revision"), _QUOTE_FIELDS
        ),
        products=Rows(
            Product.objects.filter(active=True).order_by("code")[:PRODUCTS_OFFERED], ("id", "code", "name_ja")
        ),
    )
    items: list[DealLineItem] = rows["items"]
    issuer = next(iter(rows["issuer"]), None)
    rounding = issuer.rounding if issuer else Rounding.FLOOR
    totals = compute(
        [Line(i.quantity, i.unit_price, i.tax_category, i.discount_kind, i.discount_value) for i in items],
        rounding=rounding,
    )
    return DealSection(
        items=items,
        totals=totals,
        quotes=rows["quotes"],
        products=rows["products"],
        has_issuer=issuer is not None,
    )


def deal_item_count() -> Coalesce:
    """DEAL_ITEM_COUNT (salesmarketing.hooks): a deal's number of line items, as a subquery of the board's card
    query (one index probe per card shown, in the same query)."""
    items = (
        DealLineItem.objects.filter(deal_id=OuterRef("pk"))
        .order_by()
        .values("deal_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(items), 0)


def deal_for_quotes(*, viewer: User, pk: int, write: bool) -> Deal:
    """The deal if `viewer` may read it (write=False: marketing reads every deal) or act on it; raises
    Deal.DoesNotExist otherwise."""
    deals = Deal.objects.visible_to(viewer) if write else Deal.objects.readable_by(viewer)
    return deals.select_related("company", "team").get(pk=pk)


def quote_for_viewer(*, viewer: User, pk: int, write: bool) -> Quote:
    """The quote if its deal is the viewer's to read (or act on, with `write`); raises Quote.DoesNotExist."""
    deals = Deal.objects.visible_to(viewer) if write else Deal.objects.readable_by(viewer)
    return (
        Quote.objects.filter(deal__in=deals.values("pk"))
        .select_related("deal__company", "deal__contact", "issuer", "created_by", "approved_by")
        .prefetch_related("lines")
        .get(pk=pk)
    )


def item_for_viewer(*, viewer: User, pk: int) -> DealLineItem:
    return DealLineItem.objects.filter(deal__in=Deal.objects.visible_to(viewer).values("pk")).get(pk=pk)


def product_list(*, active_only: bool = False) -> QuerySet[Product]:
    products = Product.objects.order_by("code")
    return products.filter(active=True) if active_only else products


def quote_revisions(quote: Quote) -> list[Quote]:
    return list(
        Quote.objects.filter(issuer_id=quote.issuer_id, year=quote.year, sequence=quote.sequence).order_by(
            "-revision"
        )
    )
