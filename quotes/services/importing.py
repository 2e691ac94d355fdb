"""Products from a CSV file (UTF-8, with or without BOM, or Shift_JIS), one product per row, matched by code:
a new code creates a product, a known one updates it. Each row is checked on its own; the bad ones are reported
by line and the others saved."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from leads.importing.files import ImportFileError, decode
from quotes.models import UNIT_LABELS, Product
from quotes.services.lines import product_save

# Column names, in English or Japanese.
HEADERS = {
    "code": "code", "コード": "code", "商品コード": "code",
    "name_ja": "name_ja", "品名": "name_ja", "商品名": "name_ja",
    "name_en": "name_en", "品名（英語）": "name_en", "英語名": "name_en",
    "unit_price": "unit_price", "単価": "unit_price",
    "unit": "unit", "単位": "unit",
    "tax_category": "tax_category", "税区分": "tax_category",
    "active": "active", "有効": "active",
}  # fmt: skip
UNITS = {**{v: k for k, v in UNIT_LABELS["ja"].items()}, **{k: k for k in UNIT_LABELS["ja"]}}
TAX = {
    "standard": "standard", "10": "standard", "10%": "standard", "標準": "standard",
    "reduced": "reduced", "8": "reduced", "8%": "reduced", "軽減": "reduced",
    "exempt": "exempt", "0": "exempt", "非課税": "exempt",
}  # fmt: skip
FALSE = {"0", "false", "no", "いいえ", "無効", "×"}
MAX_ROWS = 5000


@dataclass
class ProductImport:
    created: int = 0
    updated: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


def products_import(*, content: bytes) -> ProductImport:
    try:
        text, _encoding, _damaged = decode(content)
    except ImportFileError as error:
        raise ValidationError(str(error)) from None
    reader = csv.reader(io.StringIO(text))
    header = [HEADERS.get(cell.strip()) for cell in next(reader, [])]
    if "code" not in header or "name_ja" not in header or "unit_price" not in header:
        raise ValidationError(_("The first row names the columns: code, name_ja, unit_price (and unit, tax_category, "
                                "name_en, active)."))  # fmt: skip
    result = ProductImport()
    for line, row in enumerate(reader, start=2):
        if line > MAX_ROWS + 1:
            result.errors.append((line, _("Only the first %(n)s rows are read.") % {"n": MAX_ROWS}))
            break
        if not any(cell.strip() for cell in row):
            continue
        values = {key: cell.strip() for key, cell in zip(header, row, strict=False) if key}
        fields: dict[str, str | bool] = {
            "code": values.get("code", ""),
            "name_ja": values.get("name_ja", ""),
            "unit_price": values.get("unit_price", ""),
        }
        if "name_en" in values:
            fields["name_en"] = values["name_en"]
        if values.get("unit"):
            fields["unit"] = UNITS.get(values["unit"], values["unit"])
        if values.get("tax_category"):
            fields["tax_category"] = TAX.get(values["tax_category"].lower(), values["tax_category"])
        if "active" in values:
            fields["active"] = values["active"].lower() not in FALSE
        existing = Product.objects.filter(code=fields["code"]).first() if fields["code"] else None
        try:
            with transaction.atomic():
                product_save(product=existing, **fields)
        except ValidationError as error:
            messages = (
                [m for ms in error.message_dict.values() for m in ms]
                if hasattr(error, "error_dict")
                else error.messages
            )
            result.errors.append((line, " ".join(messages)))
            continue
        if existing is None:
            result.created += 1
        else:
            result.updated += 1
    return result
