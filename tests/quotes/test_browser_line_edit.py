"""A line added and then edited in place on the deal page, in a real Chromium: the deal's figures and its edit form
follow each change without a page load, so saving the deal afterwards is no conflict."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from pipeline.models import Deal
from tests.pipeline.factories import make_deal

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_figures_follow_a_line_added_and_edited_in_place(login, live_server, owner, stages, issuer):
    deal = make_deal(owner=owner, name="山田製作所 勤怠クラウド", amount=0)
    page = login(owner)
    page.goto(f"{live_server.url}{deal.get_absolute_url()}")
    figures = page.locator("#overview .deal-figures")

    section = page.locator("#deal-quotes")
    section.locator("input[name=description]").fill("勤怠クラウド 年間ライセンス")
    section.locator("input[name=unit_price]").fill("100000")
    section.get_by_role("button", name="明細を追加").click()
    expect(figures).to_contain_text("100,000")  # reloaded after the line, no page load
    expect(page.locator("#overview input[name=amount]")).to_have_attribute("readonly", "")

    page.locator("#deal-quotes").get_by_role("link", name="編集 勤怠クラウド 年間ライセンス").click()
    row = page.locator("#deal-quotes tr.line-editing")
    row.locator("input[name=edit-quantity]").fill("3")
    row.get_by_role("button", name="明細を保存").click()
    expect(page.locator("#deal-quotes tr.line-editing")).to_have_count(0)
    expect(figures).to_contain_text("300,000")

    # the edit form came back with the deal's new version: saving it is no conflict
    page.locator("#overview input[name=name]").fill("山田製作所 勤怠クラウド (3年)")
    page.locator("#overview").get_by_role("button", name="保存").click()
    expect(page.locator("#overview .saved-note")).to_be_visible()
    deal.refresh_from_db()
    assert (deal.name, deal.amount) == ("山田製作所 勤怠クラウド (3年)", 300_000)
    assert Deal.objects.get(pk=deal.pk).version == deal.version
