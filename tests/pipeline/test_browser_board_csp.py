"""A board move logs no Content-Security-Policy violation (SortableJS leaves style="" behind on the cards it
animates; htmx copied that attribute onto the swapped-in cards, which the policy blocks)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.pipeline.factories import make_deal

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

COLLECT_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push([e.effectiveDirective, e.sourceFile + ":" + e.lineNumber, e.sample].join(" | "));
});
"""


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1600, "height": 900}}


def test_dragging_cards_between_columns_breaks_no_policy(login, live_server, owner, stages):
    moved = make_deal(owner=owner, name="ドラッグする商談")
    make_deal(owner=owner, name="隣の商談")
    make_deal(owner=owner, name="もう一つの商談")
    page = login(owner)
    page.add_init_script(COLLECT_VIOLATIONS)
    console: list[str] = []
    page.on("console", lambda m: m.type == "error" and console.append(m.text))
    page.goto(f"{live_server.url}/pipeline/")
    for stage in ("Proposal", "Discovery"):
        column = f"#col-{stages[stage].pk}"
        page.locator(f"#deal-{moved.pk}").drag_to(
            page.locator(f"{column} .board-cards"), target_position={"x": 60, "y": 20}
        )
        expect(page.locator(f"{column} #deal-{moved.pk}")).to_be_visible()
        expect(page.locator(f"{column} .board-col-count")).to_have_text("1")
        page.wait_for_load_state("networkidle")
    assert page.evaluate("window.__csp") == [] and console == []
    assert page.locator(".board [style]").count() == 0
