"""What a quote prints and keeps once issued: the issuer block, the lines and the totals (a JSON-ready dict).
Shared by the services (which freeze it) and the PDF (which prints a draft's would-be copy)."""

from __future__ import annotations

from typing import Any

from quotes.models import Quote
from quotes.tax import Line, compute

LINE_FIELDS = (
    "description",
    "quantity",
    "unit",
    "unit_price",
    "tax_category",
    "discount_kind",
    "discount_value",
)


def quote_document(quote: Quote) -> dict[str, Any]:
    """What an issued quote keeps (and a draft would keep): the issuer block, the lines, the totals."""
    issuer = quote.issuer
    lines = list(quote.lines.all())
    return {
        "issuer": {
            "name": issuer.name,
            "address": issuer.address,
            "phone": issuer.phone,
            "registration_number": issuer.registration_number,
        },
        "lines": [
            {**{key: str(getattr(line, key)) for key in LINE_FIELDS}, "amount": str(line.amount)}
            for line in lines
        ],
        "totals": compute(
            [
                Line(li.quantity, li.unit_price, li.tax_category, li.discount_kind, li.discount_value)
                for li in lines
            ],
            rounding=quote.rounding,
        ).as_dict(),
    }
