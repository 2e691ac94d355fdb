"""Writes for products, a deal's line items and quotes (keyword-only, atomic; rule violations raise
ValidationError keyed by field)."""

from quotes.services.importing import ProductImport, products_import
from quotes.services.lines import (
    deal_amount_derived,
    deal_lines_total,
    issuer_for,
    issuers_for,
    line_item_add,
    line_item_remove,
    line_item_update,
    line_values,
    product_save,
)
from quotes.services.quotes import (
    approval_threshold,
    can_approve,
    needs_approval,
    next_sequence,
    quote_accept,
    quote_approve,
    quote_create,
    quote_decline,
    quote_document,
    quote_issue,
    quote_mark_sent,
    quote_refresh_lines,
    quote_revise,
    quote_update,
    quotes_expire,
)
from quotes.services.sending import quote_email_retry

__all__ = [
    "ProductImport",
    "products_import",
    "can_approve",
    "deal_lines_total",
    "issuer_for",
    "issuers_for",
    "line_item_add",
    "line_item_remove",
    "line_item_update",
    "deal_amount_derived",
    "line_values",
    "needs_approval",
    "approval_threshold",
    "next_sequence",
    "product_save",
    "quote_accept",
    "quote_approve",
    "quote_create",
    "quote_decline",
    "quote_document",
    "quote_email_retry",
    "quote_issue",
    "quote_mark_sent",
    "quote_refresh_lines",
    "quote_revise",
    "quote_update",
    "quotes_expire",
]
