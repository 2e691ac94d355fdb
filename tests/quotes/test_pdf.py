"""The quote PDF, read back with pdftotext (Debian's poppler-utils): totals, per-rate tax, registration number."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from quotes import services
from quotes.pdf import render_quote_pdf
from quotes.tax import DiscountKind, TaxCategory
from tests.conftest import require_or_skip
from tests.quotes.factories import REGISTRATION, add_line

pytestmark = pytest.mark.django_db


def _text(pdf: bytes, tmp_path) -> str:
    require_or_skip(bool(shutil.which("pdftotext")), "pdftotext is missing (Debian's poppler-utils)")
    path = tmp_path / "quote.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def quote(deal, owner, issuer):
    add_line(
        deal,
        owner,
        description="勤怠管理クラウド 年間ライセンス",
        quantity=3,
        unit="license",
        unit_price=12_345,
    )
    add_line(deal, owner, description="お弁当（打合せ用）", quantity=2, unit="piece", unit_price=1_080,
             tax_category=TaxCategory.REDUCED)  # fmt: skip
    add_line(deal, owner, description="印紙代", unit_price=5_000, tax_category=TaxCategory.EXEMPT)
    add_line(deal, owner, description="導入支援", unit_price=100_000, discount_kind=DiscountKind.AMOUNT,
             discount_value=10_000)  # fmt: skip
    quote = services.quote_create(
        deal=deal, by=owner, delivery_terms="ご発注後2週間", payment_terms="月末締め翌月末払い"
    )
    return services.quote_issue(quote=quote, by=owner)


def test_the_japanese_pdf_shows_totals_tax_per_rate_and_registration(quote, tmp_path):
    pdf = render_quote_pdf(quote)
    text = _text(pdf, tmp_path)

    assert pdf.startswith(b"%PDF")
    # 10 %: 37,035 + 90,000 = 127,035 → tax 12,703 (floor); 8 %: 2,160 → 172; exempt 5,000
    assert "御見積書" in text
    assert "御中" in text
    assert "127,035円" in text
    assert "12,703円" in text
    assert "2,160円" in text
    assert "172円" in text
    assert "134,195円" in text  # subtotal 127,035 + 2,160 + 5,000
    assert "147,070円" in text  # total incl. tax 134,195 + 12,875
    assert REGISTRATION in text
    assert quote.number in text
    assert "月末締め翌月末払い" in text
    assert "非課税" in text
    assert "10%対象" in text
    assert "8%対象" in text


def test_the_english_pdf(quote, owner, tmp_path):
    draft = services.quote_revise(quote=quote, by=owner)
    draft = services.quote_update(quote=draft, by=owner, language="en")

    text = _text(render_quote_pdf(draft), tmp_path)

    assert "QUOTATION" in text
    assert "DRAFT" in text
    assert "¥147,070" in text
    assert "Registration No.: " + REGISTRATION in text
    assert "rev.2" in text
    assert "10% items" in text


def test_a_long_quote_flows_over_pages_with_every_line_and_the_totals(deal, owner, issuer, tmp_path):
    for n in range(1, 61):
        add_line(deal, owner, description=f"作業項目{n:02d}", unit_price=1_000)
    quote = services.quote_issue(
        quote=services.quote_create(deal=deal, by=owner, notes="\n".join(f"備考{n}" for n in range(20))),
        by=owner,
    )

    text = _text(render_quote_pdf(quote), tmp_path)

    assert text.count("\f") >= 2  # pdftotext ends every page with a form feed
    assert all(f"作業項目{n:02d}" in text for n in range(1, 61))
    assert "66,000円" in text  # 60,000 + 6,000 tax
    assert "備考19" in text
