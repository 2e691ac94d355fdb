"""A person logs in through a real Chromium and sees the dashboard."""

import re

from playwright.sync_api import expect


def test_login_through_the_browser_shows_the_dashboard(live_server, page, owner):
    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.fill("input[name=username]", "owner")
    page.fill("input[name=password]", "wrong-password")
    page.click("button[type=submit]")
    expect(page.locator(".form-errors")).to_be_visible()

    page.fill("input[name=password]", "pw-for-tests-1")
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.locator("h1")).to_have_text("ダッシュボード")  # Japanese is the default language
    expect(page.locator(".user-name")).to_have_text(owner.display_name)

    page.click("button[value=en]")
    expect(page.locator("h1")).to_have_text("Dashboard")
