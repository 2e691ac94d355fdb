"""The Monday meeting in a real Chromium: the review opens on last week, an action item is typed in during the
meeting without a page reload, and the following week's review still shows it."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from kpis.models import ActionItem
from kpis.periods import Period

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser_context_args(browser_context_args):
    """A meeting-room screen."""
    return {**browser_context_args, "viewport": {"width": 1920, "height": 1080}}


def test_an_action_item_added_in_the_meeting_is_carried_into_the_next_week(
    login, live_server, manager, owner
):
    last_week = Period.last_complete_week()
    page = login(manager)
    page.goto(f"{live_server.url}/kpis/weekly/")
    expect(page.locator("h1 .week-label")).to_have_text(last_week.label)
    expect(page.locator("#review-kpis tbody tr").first).to_have_attribute(
        "id", "kpi-opportunities_marketing_sourced"
    )

    page.evaluate("window.__sameDocument = true")  # gone if the page reloads
    form = page.locator(".action-form")
    form.locator("input[name=title]").fill("失注理由「価格」の案件を来週までに再提案")
    form.locator("select[name=owner]").select_option(str(owner.pk))
    form.locator("input[name=due_date]").fill((last_week.end + dt.timedelta(days=4)).isoformat())
    form.locator("button[type=submit]").click()

    item = page.locator(".action-item", has_text="失注理由「価格」の案件を来週までに再提案")
    expect(item).to_be_visible()
    expect(item.locator(".action-owner")).to_have_text(str(owner))
    assert page.evaluate("window.__sameDocument") is True
    expect(page.locator(".action-form input[name=title]")).to_have_value("")  # ready for the next one
    assert ActionItem.objects.get().week_start == last_week.start

    page.locator("a[rel=next]").click()
    expect(page.locator("h1 .week-label")).to_have_text(last_week.next().label)
    carried = page.locator(".action-item", has_text="失注理由「価格」の案件を来週までに再提案")
    expect(carried).to_be_visible()
    expect(carried.locator(".carried")).to_be_visible()

    page.evaluate("window.__sameDocument = true")
    carried.locator("button.check").click()
    expect(carried.locator("button.check")).to_have_attribute("aria-pressed", "true")
    assert page.evaluate("window.__sameDocument") is True
    assert ActionItem.objects.get().done_at is not None
