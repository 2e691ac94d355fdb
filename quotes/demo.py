"""Demo quote set-up for `seed_demo` (runs after the pipeline's demo): the company-wide issuer that prints on
every quote (with a qualified-invoice registration number) and a short product catalogue, so a rep can put
products on a deal and make a quote on the first start. Idempotent: a second run changes nothing."""

from __future__ import annotations

from quotes.models import Issuer, Product, Unit
from quotes.services.lines import product_save
from quotes.tax import Rounding, TaxCategory

ISSUER = {
    "name": "株式会社サンプル商事",
    "address": "〒100-0005\n東京都千代田区丸の内1-1-1 サンプルビル12階",
    "phone": "03-0000-0000",
    "registration_number": "T7000012050002",
    "rounding": Rounding.FLOOR,
}

PRODUCTS = [
    # code, Japanese name, English name, unit price (JPY), unit, tax category
    ("CLOUD-STD", "勤怠クラウド スタンダード (月額)", "Attendance Cloud Standard (monthly)", 500, Unit.USER,
     TaxCategory.STANDARD),
    ("CLOUD-PRO", "勤怠クラウド プロ (月額)", "Attendance Cloud Pro (monthly)", 800, Unit.USER,
     TaxCategory.STANDARD),
    ("SETUP", "初期設定支援", "Initial set-up", 150_000, Unit.SET, TaxCategory.STANDARD),
    ("TRAINING", "管理者向けトレーニング", "Administrator training", 30_000, Unit.HOUR, TaxCategory.STANDARD),
    ("CONSULT", "運用コンサルティング", "Operations consulting", 900_000, Unit.PERSON_MONTH, TaxCategory.STANDARD),
]  # fmt: skip


def seed(*, users, stdout) -> None:
    if Issuer.objects.filter(is_default=True).exists():
        stdout.write("quotes: demo issuer already present")
        return
    Issuer.objects.create(is_default=True, **ISSUER)
    for code, name_ja, name_en, price, unit, tax in PRODUCTS:
        if not Product.objects.filter(code=code).exists():
            product_save(code=code, name_ja=name_ja, name_en=name_en, unit_price=price, unit=unit,
                         tax_category=tax)  # fmt: skip
    stdout.write(f"quotes: the issuer {ISSUER['name']} and {len(PRODUCTS)} products")
