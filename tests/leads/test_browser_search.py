"""The header's search in a real Chromium: results drop down as a rep types (HTMX, debounced), a result opens its
record, and Enter opens the results page, where another team's records are not found."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from leads.records.services import company_create
from tests.leads.factories import make_lead

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_rep_finds_a_lead_as_they_type(live_server, login, owner, outsider):
    company = company_create(by=owner, name="株式会社監査テスト", name_kana="カンサテスト")
    make_lead("hanako@kansa-test.co.jp", company=company, owner=owner, name="監査 花子", phone="03-1234-5678")
    make_lead("jiro@other.example.jp", owner=outsider, name="監査 次郎")  # another team's: never found
    page = login(owner)

    box = page.locator("#topsearch-q")
    box.click()
    box.press_sequentially("かんさ")  # hiragana finds the kana カンサテスト
    live = page.locator("#search-live")
    expect(live).to_be_visible()
    expect(live).to_contain_text("株式会社監査テスト")

    box.press("Escape")  # closes the drop-down
    expect(live).to_be_hidden()
    box.fill("")
    box.press_sequentially("03-1234")
    expect(live).to_contain_text("監査 花子")
    live.get_by_role("link", name="監査 花子").click()
    expect(page.locator("h1")).to_contain_text("監査 花子")

    page.locator("#topsearch-q").fill("監査")
    page.locator("#topsearch-q").press("Enter")
    page.wait_for_url("**/search/?q=*")
    results = page.locator("#search-results")
    expect(results).to_contain_text("監査 花子")
    expect(results).to_contain_text("株式会社監査テスト")
    expect(results).not_to_contain_text("監査 次郎")
