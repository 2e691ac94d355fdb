"""A quote as an A4 PDF (ReportLab), in Japanese or English, with ReportLab's built-in Japanese CID fonts
(HeiseiKakuGo-W5, HeiseiMin-W3): nothing to install, the reader's viewer supplies the glyphs.

Layout as a Japanese customer expects a 見積書: the title, the addressee with 御中 / 様 on the left, the number,
dates and the issuer block (name, address, phone, registration number, seal) on the right, the total with tax
large, the line table, the per-rate subtotal and tax summary (適格請求書), then the terms and notes.
An issued quote prints from its frozen copy; a draft prints its current lines, marked as a draft.
"""

from __future__ import annotations

import io
from decimal import Decimal

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Table, TableStyle

from quotes.documents import quote_document
from quotes.models import UNIT_LABELS, Quote

GOTHIC, MINCHO = "HeiseiKakuGo-W5", "HeiseiMin-W3"
for _font in (GOTHIC, MINCHO):
    pdfmetrics.registerFont(UnicodeCIDFont(_font))

TEXT = {
    "ja": {
        "title": "御見積書",
        "number": "見積番号",
        "issue_date": "発行日",
        "valid_until": "有効期限",
        "lead": "下記の通り御見積申し上げます。",
        "subject": "件名",
        "total": "御見積金額（税込）",
        "registration": "登録番号",
        "tel": "TEL",
        "description": "品名",
        "quantity": "数量",
        "unit": "単位",
        "unit_price": "単価",
        "discount": "値引",
        "amount": "金額",
        "subtotal": "小計（税抜）",
        "tax": "消費税",
        "grand_total": "合計（税込）",
        "rate_row": "{rate}%対象",
        "exempt_row": "非課税",
        "rate_tax": "消費税",
        "delivery": "納期",
        "payment": "支払条件",
        "notes": "備考",
        "draft": "下書き",
        "yen": "円",
        "reduced_mark": "※は軽減税率（8%）対象",
    },
    "en": {
        "title": "QUOTATION",
        "number": "Quote No.",
        "issue_date": "Issue date",
        "valid_until": "Valid until",
        "lead": "We are pleased to quote as follows.",
        "subject": "Subject",
        "total": "Total (incl. tax)",
        "registration": "Registration No.",
        "tel": "Tel",
        "description": "Description",
        "quantity": "Qty",
        "unit": "Unit",
        "unit_price": "Unit price",
        "discount": "Discount",
        "amount": "Amount",
        "subtotal": "Subtotal (excl. tax)",
        "tax": "Consumption tax",
        "grand_total": "Total (incl. tax)",
        "rate_row": "{rate}% items",
        "exempt_row": "Tax-exempt items",
        "rate_tax": "tax",
        "delivery": "Delivery",
        "payment": "Payment terms",
        "notes": "Notes",
        "draft": "DRAFT",
        "yen": "JPY",
        "reduced_mark": "* reduced tax rate (8%)",
    },
}
ADDRESSEE = {"ja": {"onchu": "御中", "sama": "様"}, "en": {"onchu": "", "sama": ""}}


def _yen(value, lang: str) -> str:
    amount = f"{Decimal(value):,.0f}"
    return f"¥{amount}" if lang == "en" else f"{amount}円"


def _qty(value) -> str:
    number = Decimal(value)
    return f"{number:,.0f}" if number == number.to_integral() else f"{number.normalize():,f}"


def _document(quote: Quote) -> dict:
    """What the PDF prints: the frozen copy of an issued quote, or a draft's current lines and totals."""
    return quote.frozen or quote_document(quote)


def render_quote_pdf(quote: Quote) -> bytes:
    lang = quote.language if quote.language in TEXT else "ja"
    t = TEXT[lang]
    doc = _document(quote)
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1)
    canvas.setTitle(f"{t['title']} {quote.display_number}")
    width, height = A4
    right = RIGHT
    y = height - 22 * mm

    canvas.setFont(MINCHO, 22)
    canvas.drawCentredString(width / 2, y, t["title"])
    if quote.is_draft:
        canvas.setFont(GOTHIC, 12)
        canvas.setFillColor(colors.red)
        canvas.drawRightString(right, y, t["draft"])
        canvas.setFillColor(colors.black)

    # Number and dates, top right.
    y -= 12 * mm
    canvas.setFont(GOTHIC, 9)
    for label, value in (
        (t["number"], quote.display_number),
        (t["issue_date"], quote.issue_date.isoformat()),
        (t["valid_until"], quote.valid_until.isoformat()),
    ):
        canvas.drawRightString(right, y, f"{label}: {value}")
        y -= 5 * mm

    title = f"{t['title']} {quote.display_number}"
    _head(canvas, quote, doc, t, lang)
    y = _lines(canvas, doc, t, lang, title)
    y = _summary(canvas, doc, t, lang, y, title)
    _terms(canvas, quote, t, y, title)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


LEFT, RIGHT, TOP = 18 * mm, A4[0] - 18 * mm, A4[1] - 36 * mm
BOX_Y = TOP - 30 * mm
PAGE_TOP, BOTTOM = A4[1] - 18 * mm, 18 * mm


def _head(canvas: Canvas, quote: Quote, doc: dict, t: dict, lang: str) -> None:
    width = A4[0]
    left, right, top, box_y = LEFT, RIGHT, TOP, BOX_Y
    # Addressee, left: the name, then 御中 / 様, underlined.
    canvas.setFont(MINCHO, 14)
    addressee = f"{quote.addressee_name} {ADDRESSEE[lang][quote.addressee_kind]}".strip()
    if lang == "en":
        addressee = f"To: {addressee}"
    canvas.drawString(left, top, addressee)
    canvas.line(left, top - 2 * mm, left + 100 * mm, top - 2 * mm)
    canvas.setFont(GOTHIC, 9)
    canvas.drawString(left, top - 9 * mm, t["lead"])
    canvas.drawString(left, top - 15 * mm, f"{t['subject']}: {quote.subject}")

    # Total incl. tax, prominent.
    canvas.setFillColor(colors.HexColor("#eef2f7"))
    canvas.rect(left, box_y, 100 * mm, 10 * mm, stroke=1, fill=1)
    canvas.setFillColor(colors.black)
    canvas.setFont(GOTHIC, 10)
    canvas.drawString(left + 3 * mm, box_y + 3.5 * mm, t["total"])
    canvas.setFont(GOTHIC, 15)
    canvas.drawRightString(left + 97 * mm, box_y + 3 * mm, _yen(doc["totals"]["total"], lang))

    # Issuer, right.
    issuer = doc["issuer"]
    iy = top - 12 * mm
    ix = width / 2 + 22 * mm
    canvas.setFont(GOTHIC, 11)
    canvas.drawString(ix, iy, issuer["name"])
    canvas.setFont(GOTHIC, 8)
    for row in [*issuer["address"].splitlines(), f"{t['tel']}: {issuer['phone']}" if issuer["phone"] else ""]:
        if row:
            iy -= 4.5 * mm
            canvas.drawString(ix, iy, row)
    if issuer["registration_number"]:
        iy -= 4.5 * mm
        canvas.drawString(ix, iy, f"{t['registration']}: {issuer['registration_number']}")
    if quote.issuer.seal:
        try:
            seal = ImageReader(io.BytesIO(bytes(quote.issuer.seal)))
            canvas.drawImage(seal, right - 20 * mm, top - 24 * mm, 18 * mm, 18 * mm, mask="auto")
        except (OSError, ValueError):
            pass  # an unreadable seal image leaves the quote without a seal, never without a PDF


def _lines(canvas: Canvas, doc: dict, t: dict, lang: str, title: str) -> float:
    reduced = "reduced"
    rows = [[t["description"], t["quantity"], t["unit"], t["unit_price"], t["discount"], t["amount"]]]
    for line in doc["lines"]:
        discount = ""
        if line["discount_kind"] == "percent":
            discount = f"{Decimal(line['discount_value']).normalize():f}%"
        elif line["discount_kind"] == "amount":
            discount = _yen(line["discount_value"], lang)
        mark = (
            " ※"
            if lang == "ja" and line["tax_category"] == reduced
            else (" *" if line["tax_category"] == reduced else "")
        )
        rows.append(
            [
                line["description"] + mark,
                _qty(line["quantity"]),
                UNIT_LABELS[lang].get(line["unit"], line["unit"]),
                _yen(line["unit_price"], lang),
                discount,
                _yen(line["amount"], lang),
            ]
        )
    table = Table(rows, colWidths=[72 * mm, 16 * mm, 18 * mm, 24 * mm, 20 * mm, 24 * mm], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), GOTHIC, 8.5),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dde3ea")),
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
                ("ALIGN", (2, 1), (2, -1), "CENTER"),
            ]
        )
    )
    return _flow(canvas, table, BOX_Y - 8 * mm, title) - 6 * mm


def _next_page(canvas: Canvas, title: str) -> float:
    """A new page for what did not fit, headed with the quote's title and number; the y to go on from."""
    canvas.showPage()
    canvas.setFont(GOTHIC, 9)
    canvas.drawString(LEFT, PAGE_TOP, title)
    return PAGE_TOP - 8 * mm


def _flow(canvas: Canvas, table: Table, y: float, title: str) -> float:
    """Draw `table` from `y` down, splitting it over as many pages as it takes (the header row repeats)."""
    width = RIGHT - LEFT
    pending = [table]
    while pending:
        part = pending.pop(0)
        _w, h = part.wrapOn(canvas, width, y - BOTTOM)
        if h <= y - BOTTOM:
            part.drawOn(canvas, LEFT, y - h)
            y -= h
            continue
        pieces = part.split(width, y - BOTTOM)
        if len(pieces) < 2:  # not even one row fits here: start the table on the next page
            if y >= PAGE_TOP - 8 * mm:
                raise ValueError("a line of the quote is taller than a page")
            y = _next_page(canvas, title)
            pending.insert(0, part)
            continue
        first, *rest = pieces
        _w, h = first.wrapOn(canvas, width, y - BOTTOM)
        first.drawOn(canvas, LEFT, y - h)
        y = _next_page(canvas, title)
        pending = [*rest, *pending]
    return y


def _summary(canvas: Canvas, doc: dict, t: dict, lang: str, y: float, title: str) -> float:
    left, right, reduced = LEFT, RIGHT, "reduced"
    # Per-rate summary (適格請求書: the sum and the tax of each rate), then the document totals.
    summary = []
    for rate in doc["totals"]["rates"]:
        if rate["category"] == "exempt":
            summary.append([t["exempt_row"], _yen(rate["taxable"], lang), ""])
        else:
            label = t["rate_row"].format(rate=f"{Decimal(rate['rate']).normalize():f}")
            summary.append([label, _yen(rate["taxable"], lang), f"{t['rate_tax']} {_yen(rate['tax'], lang)}"])
    summary += [
        [t["subtotal"], _yen(doc["totals"]["subtotal"], lang), ""],
        [t["tax"], _yen(doc["totals"]["tax"], lang), ""],
        [t["grand_total"], _yen(doc["totals"]["total"], lang), ""],
    ]
    totals = Table(summary, colWidths=[36 * mm, 28 * mm, 32 * mm])
    totals.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), GOTHIC, 8.5),
                ("FONT", (0, -1), (-1, -1), GOTHIC, 10),
                ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
                ("LINEABOVE", (0, -3), (-1, -3), 0.6, colors.black),
                ("BOX", (0, 0), (-1, -1), 0.4, colors.grey),
            ]
        )
    )
    _w, h = totals.wrapOn(canvas, right - left, y)
    if y - h - 6 * mm < BOTTOM:
        y = _next_page(canvas, title)
    totals.drawOn(canvas, right - 96 * mm, y - h)
    canvas.setFont(GOTHIC, 7.5)
    if any(line["tax_category"] == reduced for line in doc["lines"]):
        canvas.drawString(left, y - 4 * mm, t["reduced_mark"])
    return y - h - 8 * mm


def _terms(canvas: Canvas, quote: Quote, t: dict, y: float, title: str) -> None:
    left = LEFT
    rows = [
        (left, f"{label}: {value}")
        for label, value in ((t["delivery"], quote.delivery_terms), (t["payment"], quote.payment_terms))
        if value
    ]
    if quote.notes:
        rows += [(left, f"{t['notes']}:"), *((left + 4 * mm, row) for row in quote.notes.splitlines()[:40])]
    for x, text in rows:
        if y < BOTTOM:
            y = _next_page(canvas, title)
        canvas.setFont(GOTHIC, 9)
        canvas.drawString(x, y, text)
        y -= 5 * mm
