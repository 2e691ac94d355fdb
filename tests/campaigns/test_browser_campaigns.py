"""A marketer creates a campaign with a UTM code in a real Chromium, a site sends form events carrying that code
through the API, and the campaign's page counts the leads once the beat sweep has run."""

from __future__ import annotations

import re

import pytest
from django.utils.translation import gettext
from playwright.sync_api import expect

from campaigns import tasks
from leads.models import Campaign, Lead
from salesmarketing.services import api_key_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_events_with_the_campaigns_utm_code_are_counted_on_its_page(live_server, login, marketer):
    page = login(marketer)
    page.goto(f"{live_server.url}/campaigns/")
    page.get_by_role("link", name=gettext("New campaign")).click()
    page.fill("input[name=name]", "残業削減ウェビナー 第2回")
    page.select_option("select[name=channel]", "webinar")
    page.select_option("select[name=status]", "active")
    page.fill("input[name=budget]", "300000")
    page.fill("input[name=utm_campaign]", "webinar-overtime-2")
    page.get_by_role("button", name=gettext("Create campaign")).click()

    expect(page).to_have_url(re.compile(r"/campaigns/\d+/$"))
    expect(page.locator("h1")).to_have_text("残業削減ウェビナー 第2回")
    campaign = Campaign.objects.get(utm_campaign="webinar-overtime-2")

    # The web site's form tool reports three sign-ups tagged with the campaign's code, and one without.
    _key, secret = api_key_create(name="Webinar tool", source="webinar-tool")
    events = [
        {
            "id": f"signup-{i}",
            "type": "form_submit",
            "email": f"attendee{i}@example.co.jp",
            "utm_campaign": "webinar-overtime-2",
        }
        for i in range(3)
    ] + [{"id": "signup-x", "type": "form_submit", "email": "other@example.co.jp"}]
    response = page.request.post(
        f"{live_server.url}/api/v1/events",
        data={"events": events},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.status == 202, response.text()
    assert response.json()["accepted"] == 4
    assert Lead.objects.filter(first_touch_campaign=campaign).count() == 3

    # Beat's sweep (every few minutes in production) computes the attribution the pages read.
    tasks.attribution_sweep.delay().get()

    page.reload()
    expect(page.locator('[data-kpi="leads"]')).to_have_text("3")
    leads = page.locator("#leads tbody tr")
    expect(leads).to_have_count(3)
    expect(page.locator("#leads")).to_contain_text("attendee0@example.co.jp")

    page.goto(f"{live_server.url}/campaigns/")
    row = page.locator(f'tr[data-campaign="{campaign.pk}"]')
    expect(row.locator('[data-col="leads"]')).to_have_text(re.compile(r"^3(?!\d)"))  # whole, then the credit
    # Filtering by channel goes through HTMX and keeps a real URL.
    page.select_option("select[name=channel]", "whitepaper")
    expect(page).to_have_url(re.compile(r"channel=whitepaper"))
    expect(page.locator(f'tr[data-campaign="{campaign.pk}"]')).to_have_count(0)
