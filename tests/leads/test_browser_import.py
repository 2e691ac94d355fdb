"""A marketer imports an Excel (Shift_JIS) trade-show list through the page in a real Chromium, then finds an
imported lead by their Japanese name in the lead list."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from leads.models import Lead

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CSV = (
    "メールアドレス,氏名,フリガナ,会社名,役職,電話番号\r\n"
    "kimura@expo.example.jp,木村 拓也,キムラ タクヤ,株式会社展示会,情報システム部長,03-1111-2222\r\n"
    "broken-address,壊れた 行,,株式会社エラー,,\r\n"
    "nakata@expo.example.jp,中田 英子,ナカタ エイコ,髙島屋テスト㈱,課長,\r\n"
).encode("cp932")


def test_a_shift_jis_csv_imports_through_the_page_and_the_lead_is_found_by_name(live_server, login, marketer):
    page = login(marketer)
    page.goto(f"{live_server.url}/leads/import/")
    page.set_input_files(
        "input[name=file]", files=[{"name": "展示会リスト.csv", "mimeType": "text/csv", "buffer": CSV}]
    )
    page.locator("#import-step button[type=submit]").click()

    # Step 2 (swapped in by HTMX): the preview is decoded and the columns are matched from the Japanese headers.
    expect(page.locator(".import-preview")).to_contain_text("木村 拓也")
    expect(page.locator("select[name=col_0]")).to_have_value("email")
    expect(page.locator("select[name=col_1]")).to_have_value("name")
    expect(page).to_have_url(re.compile(r"/leads/import/\d+/$"))
    page.locator("input[name=source_name]").fill("展示会 2026")
    page.locator("#import-step button[type=submit]").click()

    # Step 3: the report, with the bad row's line number.
    expect(page.locator('[data-count="accepted"]')).to_have_text("2")
    expect(page.locator('[data-count="errors"]')).to_have_text("1")
    expect(page.locator(".import-errors tbody tr")).to_have_count(1)
    expect(page.locator(".import-errors tbody td").first).to_have_text("3")
    expect(page.locator(".import-errors .import-value")).to_have_text("broken-address")

    # Each count sits next to its label, not at the far edge of the card.
    label = page.locator(".import-summary dt").first.bounding_box()
    number = page.locator('[data-count="rows"]').bounding_box()
    assert label and number and number["x"] - (label["x"] + label["width"]) < 120

    # The rows not imported download as the file came: Shift_JIS.
    with page.expect_download() as info:
        page.locator(".import-errors").locator("xpath=ancestor::section").get_by_role("link").click()
    data = info.value.path().read_bytes()
    assert (
        data
        == "メールアドレス,氏名,フリガナ,会社名,役職,電話番号\r\nbroken-address,壊れた 行,,株式会社エラー,,\r\n".encode(
            "cp932"
        )
    )

    lead = Lead.objects.get(email="kimura@expo.example.jp")
    assert (lead.name, lead.company.name) == ("木村 拓也", "株式会社展示会")
    assert Lead.objects.get(email="nakata@expo.example.jp").company.name == "髙島屋テスト㈱"

    page.goto(f"{live_server.url}/leads/?q={quote('木村 拓也')}")
    result = page.get_by_role("link", name="木村 拓也")
    expect(result).to_be_visible()
    result.click()
    expect(page).to_have_url(f"{live_server.url}/leads/{lead.pk}/")
    expect(page.locator("main")).to_contain_text("株式会社展示会")
