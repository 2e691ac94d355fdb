"""A manager merges a business card a rep typed in with the same person imported earlier, in a real Chromium:
from the user menu to the duplicates queue, to the pair's merge screen, keeping the imported phone number, and
lands on the survivor's page, which lists the merge; the merged lead's old page leads there too."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from leads.models import Lead
from leads.records.services import business_card_enter
from tests.leads.factories import make_lead

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_manager_merges_a_business_card_with_an_imported_duplicate(live_server, login, manager, owner):
    card = business_card_enter(
        by=owner,
        name="監査 花子",
        name_kana="カンサ ハナコ",
        email="hanako@kansa.example.jp",
        company_name="（株）監査テスト",
    )
    imported = make_lead(
        "hanako+news@kansa.example.jp",
        company="株式会社監査テスト",
        name="監査　花子",
        name_kana="ｶﾝｻ ﾊﾅｺ",
        phone="03-1234-5678",
        owner=owner,
    )
    page = login(manager)
    page.locator("details.usermenu summary").click()
    page.get_by_role("link", name="重複候補").click()
    row = page.locator(f"#pair-{card.pk}-{imported.pk}")
    expect(row).to_contain_text("同じメールアドレス")
    row.get_by_role("link", name="比較して統合").click()

    expect(page.locator("h1")).to_have_text("リードを統合")
    page.check("input[name=phone][value=merged]")
    page.locator("#merge-form button[type=submit]").click()

    page.wait_for_url(f"{live_server.url}{card.get_absolute_url()}")
    expect(page.locator("h1")).to_contain_text("監査 花子")
    expect(page.locator("#merges")).to_contain_text(manager.display_name)
    assert Lead.objects.get().phone == "03-1234-5678"
    page.goto(f"{live_server.url}{imported.get_absolute_url()}")
    page.wait_for_url(f"{live_server.url}{card.get_absolute_url()}")
