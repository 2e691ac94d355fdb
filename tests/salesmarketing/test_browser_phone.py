"""A phone (390 × 844): the navigation opens as a menu, and no main page is wider than the screen."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from leads.models import Lead
from pipeline.models import Deal
from salesmarketing.demo import DEMO_PASSWORD
from salesmarketing.models import User
from tests.leads.factories import make_lead

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}

# What sticks out past the right edge of the screen, to name the culprit when a page is too wide.
WIDER_THAN_SCREEN = """
() => {
  const doc = document.documentElement;
  if (doc.scrollWidth <= doc.clientWidth) return [];
  const sticksOut = (el) => el.getBoundingClientRect().right > doc.clientWidth + 1;
  return Array.from(document.querySelectorAll("body *"))
    .filter((el) => sticksOut(el) && !sticksOut(el.parentElement))
    .slice(0, 5)
    .map((el) => el.tagName.toLowerCase() + (el.className ? "." + String(el.className).split(" ").join(".") : ""));
}
"""


def _log_in(page, base: str, username: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def _main_pages(user: User) -> list[str]:
    lead = Lead.objects.visible_to(user).order_by("-total_score", "pk").first()
    deal = Deal.objects.visible_to(user).order_by("pk").first()
    pages = [
        "/",
        "/leads/",
        f"/leads/{lead.pk}/",
        "/leads/handoffs/",
        "/pipeline/",
        "/campaigns/",
        "/campaigns/dashboard/",
        "/kpis/opportunities_marketing_sourced/",
        "/kpis/weekly/",
    ]
    if deal is not None:  # a marketer sees no deal of the demo's reps
        pages.append(f"/pipeline/deals/{deal.pk}/")
    return pages


@pytest.fixture
def demo_data(settings):
    settings.DEBUG = True  # seed_demo refuses to run otherwise; the pages themselves do not depend on it
    call_command("seed_demo", stdout=io.StringIO())
    settings.DEBUG = False


def test_a_rep_on_a_phone_opens_the_menu_and_reaches_leads_and_pipeline(live_server, page, login, owner):
    page.set_viewport_size(PHONE)
    login(owner)
    nav = page.locator("#mainnav")
    menu = page.get_by_role("button", name="メニュー")
    expect(nav).to_be_hidden()  # folded away, not squeezed into a strip
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    leads = nav.get_by_role("link", name="リード", exact=True)
    expect(leads).to_be_visible()
    assert leads.bounding_box()["width"] > 200  # a full-width menu entry, easy to tap
    leads.click()
    page.wait_for_url(f"{live_server.url}/leads/")
    page.get_by_role("button", name="メニュー").click()
    page.locator("#mainnav").get_by_role("link", name="パイプライン").click()
    page.wait_for_url(f"{live_server.url}/pipeline/")
    expect(page.locator(".board")).to_be_visible()


def test_the_menu_stays_a_plain_row_of_links_on_a_laptop(page, login, owner):
    page.set_viewport_size({"width": 1440, "height": 900})
    login(owner)
    expect(page.get_by_role("button", name="メニュー")).to_be_hidden()
    expect(page.locator("#mainnav").get_by_role("link", name="パイプライン")).to_be_visible()


def test_the_cards_of_a_row_start_level_on_a_laptop(live_server, page, login, marketer):
    """Lead detail's first card sat 15 px higher: `section + section` gave the others a top margin in the grid."""
    lead = make_lead(email="level@example.jp", name="渡辺 さくら")
    page.set_viewport_size({"width": 1440, "height": 900})
    login(marketer)
    page.goto(f"{live_server.url}/leads/{lead.pk}/")
    tops = page.evaluate(
        "Array.from(document.querySelectorAll('.grid-3 > .card')).map(c => c.getBoundingClientRect().top)"
    )
    assert len(tops) >= 2 and len(set(tops)) == 1


def test_no_main_page_is_wider_than_a_phone_for_a_rep_or_a_marketer(live_server, page, demo_data):
    page.set_viewport_size(PHONE)
    too_wide: dict[str, list[str]] = {}
    visited = 0
    for username in ("rep1", "mktg"):
        _log_in(page, live_server.url, username)
        for path in _main_pages(User.objects.get(username=username)):
            response = page.goto(live_server.url + path)
            assert response is not None and response.status == 200, f"{username} {path}"
            page.wait_for_load_state("networkidle")
            visited += 1
            culprits = page.evaluate(WIDER_THAN_SCREEN)
            if culprits:
                too_wide[f"{username} {path}"] = culprits
    assert too_wide == {}
    assert visited >= 19
