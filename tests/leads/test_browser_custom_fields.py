"""Custom fields end to end in a real Chromium: an admin adds a choice field to leads on the settings page (shown in
the form, as a list column and as a filter); a rep fills it in on a lead's form; the lead list shows it as a column
and filters by it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from leads.models import FieldDefinition, Lead
from salesmarketing.models import User
from tests.leads.factories import make_lead
from tests.salesmarketing.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_defines_a_field_a_rep_fills_it_in_and_the_list_shows_and_filters_it(
    live_server, login, owner
):
    admin = UserFactory(username="admin", display_name="管理 者", role=User.Role.ADMIN)
    lead = make_lead("next@example.co.jp", owner=owner, name="来期 検討", company="株式会社来期")
    make_lead("other@example.co.jp", owner=owner, name="他社 比較", company="株式会社比較")

    page = login(admin)
    page.get_by_text("管理 者").click()  # the user menu
    page.get_by_role("link", name="カスタム項目").click()
    page.get_by_role("link", name="カスタム項目を追加").click()
    page.select_option("select[name=object_type]", "lead")
    page.fill("input[name=key]", "timing")
    page.fill("input[name=label_ja]", "導入時期")
    page.fill("input[name=label_en]", "Timing")
    page.select_option("select[name=field_type]", "choice")
    page.fill("textarea[name=options_text]", "今期\n来期\n未定")
    expect(page.locator("input[name=in_form]")).to_be_checked()  # forms by default
    page.check("input[name=in_list]")
    page.check("input[name=in_filter]")
    page.locator("form.card button[type=submit]").click()
    expect(page.locator("main")).to_contain_text("導入時期")
    definition = FieldDefinition.objects.get(key="timing")
    assert definition.options == ["今期", "来期", "未定"] and definition.in_list and definition.in_filter

    page.context.clear_cookies()  # the rep, in the same browser
    login(owner)
    page.goto(f"{live_server.url}{lead.get_absolute_url()}")
    page.get_by_role("link", name="編集").first.click()
    page.select_option("select[name='custom.timing']", "来期")
    page.locator("form.card button[type=submit]").click()
    expect(page.locator("h1")).to_contain_text("来期 検討")
    expect(page.locator("main")).to_contain_text("来期")
    lead.refresh_from_db()
    assert lead.custom == {"timing": "来期"}

    page.get_by_role("navigation", name="メイン").get_by_role("link", name="リード").click()
    expect(page.locator("#results thead")).to_contain_text("導入時期")
    expect(page.locator("#results tbody")).to_contain_text("他社 比較")
    row = page.locator("#results tbody tr", has_text="来期 検討")
    expect(row).to_contain_text("来期")

    page.select_option("select[name='custom.timing']", "来期")  # the filter reloads the results (HTMX)
    expect(page.locator("#results tbody")).not_to_contain_text("他社 比較")
    expect(page.locator("#results tbody")).to_contain_text("来期 検討")
    assert "custom.timing=" in page.url  # the filter is in the address, to share or save as a view
    assert Lead.objects.filter(custom__timing="来期").count() == 1
