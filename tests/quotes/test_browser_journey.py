"""A rep's way from a deal to a sent quote in a real Chromium: add a line on the deal page (HTMX), make the
quote, issue it, mark it sent; the PDF answers."""

from __future__ import annotations

import pytest
from django.utils import translation
from playwright.sync_api import expect

from quotes.models import Quote
from tests.pipeline.factories import make_deal

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_from_a_deal_to_a_sent_quote(login, live_server, owner, stages, issuer):
    deal = make_deal(owner=owner, name="山田製作所 勤怠クラウド", amount=0)
    page = login(owner)
    page.goto(f"{live_server.url}{deal.get_absolute_url()}")

    section = page.locator("#deal-quotes")
    section.locator("input[name=description]").fill("勤怠クラウド 年間ライセンス")
    section.locator("input[name=quantity]").fill("3")
    section.locator("input[name=unit_price]").fill("12345")
    section.get_by_role("button", name="明細を追加").click()

    # the section came back with the line and its total (tax excluded), without a page load
    expect(page.locator("#deal-quotes td", has_text="勤怠クラウド 年間ライセンス")).to_be_visible()
    expect(page.locator("#deal-quotes tfoot")).to_contain_text("37,035")

    page.locator("#deal-quotes").get_by_role("button", name="この明細で見積書を作成").click()
    page.wait_for_url("**/quotes/*/")
    expect(page.locator("h1")).to_contain_text("Q-")
    page.get_by_role("button", name="発行").click()
    page.get_by_role("button", name="送付済みにする（手渡しなど）").click()

    with translation.override("ja"):
        sent = str(Quote.Status.SENT.label)
    # the page after the post shows the new status (read the database only once it is there)
    expect(page.locator(".chip")).to_have_text(sent, timeout=15_000)
    quote = Quote.objects.get()
    assert quote.status == Quote.Status.SENT
    assert quote.total == 37_035 + 3_703
    pdf = page.request.get(f"{live_server.url}/quotes/{quote.pk}/pdf/")
    assert pdf.headers["content-type"] == "application/pdf"
    deal.refresh_from_db()
    assert deal.amount == 37_035
