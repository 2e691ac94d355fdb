"""Quotes test data, made through the services the app uses (deals come from tests/pipeline/factories.py)."""

from __future__ import annotations

import itertools

from quotes import services
from quotes.models import Issuer, Product
from quotes.tax import TaxCategory

_seq = itertools.count(1)

REGISTRATION = "T7000012050002"  # a valid 法人番号 (its check digit 7)


def make_issuer(**fields) -> Issuer:
    values = {
        "is_default": True,
        "name": "株式会社サンプル商事",
        "address": "東京都千代田区丸の内1-1-1",
        "phone": "03-1234-5678",
        "registration_number": REGISTRATION,
        **fields,
    }
    return Issuer.objects.create(**values)


def make_product(**fields) -> Product:
    n = next(_seq)
    values = {
        "code": f"P-{n:04d}",
        "name_ja": f"製品{n}",
        "name_en": f"Product {n}",
        "unit_price": 10_000,
        "unit": "license",
        "tax_category": TaxCategory.STANDARD,
        **fields,
    }
    return services.product_save(**values)


def add_line(deal, by, **fields):
    values = {"description": "導入支援", "quantity": 1, "unit": "set", "unit_price": 100_000, **fields}
    return services.line_item_add(deal=deal, by=by, **values)
