"""The handoffs list in a real Chromium: a manager assigns a waiting lead; a rep's reject panel stays on screen."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from leads.handoffs import handoff_assign_to
from leads.models import AssignmentLog, Handoff
from leads.services import lead_upsert
from salesmarketing.models import Notification

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _waiting(email: str, team) -> Handoff:
    lead, _ = lead_upsert(email=email, source="api", name="待機 花子", title="情報システム部長")
    return Handoff.objects.create(
        lead=lead,
        team=team,
        mql_at=timezone.now(),
        score_at_handoff=80,
        reason="料金ページ閲覧 +20, デモ依頼 +40",
    )


def test_a_manager_assigns_a_waiting_handoff_from_the_list(live_server, login, manager, teammate, sales_team):
    handoff = _waiting("waiting@example.jp", sales_team)
    page = login(manager)
    page.goto(f"{live_server.url}/leads/handoffs/?rep=none")

    row = page.locator(f"#handoff-{handoff.pk}")
    row.locator("select[name=rep]").select_option(str(teammate.pk))
    row.locator("form.handoff-assign button").click()

    # The row answers in place (HTMX) with the rep and a running SLA clock.
    expect(page.locator(f"#handoff-{handoff.pk}")).to_contain_text(str(teammate))
    expect(page.locator(f"#handoff-{handoff.pk} .chip-ok")).to_be_visible()
    handoff.refresh_from_db()
    assert handoff.owner == teammate and handoff.state == Handoff.State.ASSIGNED
    assert AssignmentLog.objects.filter(handoff=handoff, user=teammate).count() == 1
    assert Notification.objects.filter(recipient=teammate).count() == 1


@pytest.mark.parametrize("width", [1280, 1024])
def test_the_reject_panel_opens_inside_the_list(live_server, login, manager, owner, sales_team, page, width):
    handoff = handoff_assign_to(handoff=_waiting("reject@example.jp", sales_team), rep=owner, by=manager)
    page.set_viewport_size({"width": width, "height": 900})
    login(owner)
    page.goto(f"{live_server.url}/leads/handoffs/")

    row = page.locator(f"#handoff-{handoff.pk}")
    row.locator("details.reject summary").click()
    panel = row.locator(".reject-form")
    expect(panel).to_be_visible()

    wrap = page.locator("#handoff-list .table-wrap").bounding_box()
    box = panel.bounding_box()
    assert wrap and box
    assert box["x"] + box["width"] <= wrap["x"] + wrap["width"] + 1, (
        "the panel runs past the list's right edge"
    )
    assert page.evaluate(
        "() => { const w = document.querySelector('#handoff-list .table-wrap');"
        " return w.scrollWidth <= w.clientWidth + 1; }"
    ), "the list scrolls sideways"
