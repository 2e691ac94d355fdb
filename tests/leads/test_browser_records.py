"""A rep enters a business card (名刺) after a meeting in a real Chromium: from the lead list, through the short
form, to the new lead's page; then finds the lead by name in the list and its company in the company list, where
the spelling "（株）" matched the company already on file."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from leads.models import Company, Lead
from leads.records.services import company_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_rep_enters_a_business_card_and_finds_the_lead(live_server, login, owner):
    company_create(by=owner, name="株式会社監査テスト", industry="it")
    page = login(owner)
    page.goto(f"{live_server.url}/leads/")
    page.get_by_role("link", name="名刺を追加").click()

    page.fill("input[name=company_name]", "（株）監査テスト")
    page.fill("input[name=name]", "監査 花子")
    page.fill("input[name=name_kana]", "カンサ ハナコ")
    page.fill("input[name=title]", "情報システム部長")
    page.fill("input[name=email]", "hanako@gmail.com")
    page.check("input[name=consent_email]")
    page.locator("form.card button[type=submit]").click()

    # The lead's page: the rep's lead, at the company on file, with the card exchange as the consent's proof.
    expect(page.locator("h1")).to_contain_text("監査 花子")
    expect(page.locator("main")).to_contain_text("名刺交換（適用除外）")
    expect(page.locator("#lifecycle")).to_be_visible()
    lead = Lead.objects.get(email="hanako@gmail.com")
    assert lead.owner == owner and lead.company.name == "株式会社監査テスト"
    assert Company.objects.count() == 1

    page.goto(f"{live_server.url}/leads/")
    page.fill("#id_q", "監査 花子")  # the list's own box, not the header's search
    expect(page.locator("#results tbody")).to_contain_text("監査 花子")

    page.get_by_role("navigation", name="メイン").get_by_role("link", name="企業").click()
    expect(page.locator("#results tbody")).to_contain_text("株式会社監査テスト")
    page.get_by_role("link", name="株式会社監査テスト").click()
    expect(page.locator("main")).to_contain_text("監査 花子")
