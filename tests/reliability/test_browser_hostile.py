"""In a real browser, hostile text in leads, deals, campaigns, personas, notes and imports never runs: opening the
main pages (charts drawn, HTMX partials swapped in) fires no alert() dialog."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.reliability.test_hostile_content import _build

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def hostile_world(transactional_db):
    return _build()


def _watch_dialogs(page: Page) -> list[str]:
    fired: list[str] = []

    def on_dialog(dialog):
        fired.append(f"{page.url}: {dialog.type} {dialog.message!r}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return fired


def test_main_pages_with_hostile_data_fire_no_dialog(live_server, login, hostile_world):
    w = hostile_world
    page = login(w["users"]["admin"])
    fired = _watch_dialogs(page)
    page.evaluate("alert('control')")  # the listener does see a dialog when one fires
    assert len(fired) == 1 and "control" in fired.pop()
    week = w["week"].label
    paths = [
        f"/?period={week}",
        "/notifications/",
        "/leads/",
        w["lead"].get_absolute_url(),
        w["company"].get_absolute_url(),
        "/leads/handoffs/",
        "/leads/scoring/",
        w["job"].get_absolute_url(),
        w["waiting"].get_absolute_url(),
        "/campaigns/",
        w["campaign"].get_absolute_url(),
        "/campaigns/dashboard/",
        "/campaigns/personas/",
        w["persona"].get_absolute_url(),
        "/pipeline/?scope=all",
        w["deal"].get_absolute_url(),
        "/pipeline/forecast/",
        f"/kpis/weekly/?week={week}",
        "/kpis/values/",
    ]
    for path in paths:
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
        expect(page.locator("main")).to_be_visible()
    # Charts were drawn from the json_script data that holds the hostile names.
    page.goto(f"{live_server.url}/campaigns/dashboard/")
    page.wait_for_load_state("networkidle")
    assert page.locator("canvas").count() >= 1

    # HTMX swaps partials in, and htmx runs <script> tags it swaps in: the filtered list must hold none.
    page.goto(f"{live_server.url}/leads/")
    with page.expect_response(
        lambda r: "/leads/?" in r.url and r.request.headers.get("hx-request") == "true"
    ):
        page.fill("#id_q", "<script>")  # the list's own box, not the header's search
    page.wait_for_load_state("networkidle")
    expect(page.locator("#results")).to_contain_text("<script>alert(1)</script>")

    page.goto(f"{live_server.url}{w['persona'].get_absolute_url()}")
    page.wait_for_load_state("networkidle")
    assert fired == []


def test_the_owners_pages_fire_no_dialog(live_server, login, hostile_world):
    w = hostile_world
    page = login(w["users"]["owner"])  # the rep's display name is hostile too: it is in the page header
    fired = _watch_dialogs(page)
    for path in ("/", "/pipeline/", w["deal"].get_absolute_url(), "/leads/handoffs/", "/notifications/"):
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
    # The notification link with a javascript: URL is not a link: clicking its text runs nothing.
    page.get_by_text("通知<script>alert(1)</script>", exact=False).first.click()
    page.wait_for_timeout(200)
    assert fired == []
