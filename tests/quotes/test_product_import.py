"""Products from CSV: Japanese or English headers, UTF-8 or Shift_JIS, created or updated by code, bad rows
reported by line."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from quotes.models import Product
from quotes.services import products_import
from tests.quotes.factories import make_product

pytestmark = pytest.mark.django_db

CSV = """コード,品名,品名（英語）,単価,単位,税区分,有効
LIC-01,勤怠クラウド,Attendance cloud,"1,200",ライセンス,10,はい
FOOD-01,お弁当,Lunch box,1080,個,8,
STAMP,印紙,,200,式,非課税,いいえ
BAD-01,,,100,式,10,
BAD-02,負の単価,,-5,式,10,
"""


def test_rows_are_created_updated_and_refused_by_line():
    make_product(code="FOOD-01", name_ja="旧名", unit_price=1)

    result = products_import(content=CSV.encode("cp932"))

    assert (result.created, result.updated) == (2, 1)
    assert [line for line, _message in result.errors] == [5, 6]
    rows = {
        p.code: (p.name_ja, p.unit_price, p.unit, p.tax_category, p.active) for p in Product.objects.all()
    }
    assert rows == {
        "LIC-01": ("勤怠クラウド", Decimal(1200), "license", "standard", True),
        "FOOD-01": ("お弁当", Decimal(1080), "piece", "reduced", True),
        "STAMP": ("印紙", Decimal(200), "set", "exempt", False),
    }


def test_the_import_page_for_managers(client, manager, owner):
    client.force_login(owner)
    assert client.get(reverse("quotes:product_import")).status_code == 403

    client.force_login(manager)
    upload = SimpleUploadedFile("products.csv", ("\ufeff" + CSV).encode("utf-8"), content_type="text/csv")
    response = client.post(reverse("quotes:product_import"), {"file": upload})

    assert response.status_code == 200
    assert Product.objects.count() == 3
    assert "BAD-01" not in set(Product.objects.values_list("code", flat=True))


def test_a_file_without_the_columns_is_refused(client, manager):
    client.force_login(manager)
    upload = SimpleUploadedFile("x.csv", b"a,b\n1,2\n", content_type="text/csv")

    assert client.post(reverse("quotes:product_import"), {"file": upload}).status_code == 422
