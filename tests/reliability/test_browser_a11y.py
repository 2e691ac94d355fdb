"""Accessibility in a real Chromium: axe-core (vendored, static/js/vendor/axe.min.js; injected by the test, never
loaded by the pages) finds no serious or critical violation on any main page of any role, at a laptop's and a
phone's width; and on the key pages every control is reached with Tab and shows where the focus is."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command

from campaigns.models import Campaign, Persona
from leads.models import Lead
from nurture.models import Sequence
from pipeline.models import Deal
from salesmarketing.demo import DEMO_PASSWORD
from salesmarketing.models import User
from tests.conftest import VIEWPORTS

pytestmark = pytest.mark.browser

AXE = Path(django_settings.BASE_DIR) / "static" / "js" / "vendor" / "axe.min.js"

# The demo's users, one of each kind (salesmarketing/demo.py).
ROLES = {
    "marketer": "mktg",
    "marketing manager": "mktg_mgr",
    "sales rep": "rep1",
    "sales manager": "sales_mgr",
    "admin": "admin",
}

RUN_AXE = """
async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => ({
      rule: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ") + " — " + (n.failureSummary || "").split("\\n").slice(0, 2).join(" ")),
      count: v.nodes.length,
    }));
}
"""


def _first_pk(queryset) -> int | None:
    return queryset.order_by("pk").values_list("pk", flat=True).first()


def main_pages(user: User) -> list[str]:
    """Every main page of the app (the nav, the user menu and the apps' urls.py), with one record of each kind
    that the user sees. Pages a role may not open answer 403 or 404 and are left out when swept."""
    pages = [
        "/",
        "/leads/",
        "/leads/handoffs/",
        "/leads/scoring/",
        "/leads/scoring/rules/new",
        "/leads/import/",
        "/campaigns/",
        "/campaigns/new/",
        "/campaigns/dashboard/",
        "/campaigns/costs/import/",
        "/campaigns/personas/",
        "/pipeline/",
        "/pipeline/forecast/",
        "/pipeline/deals/new/",
        "/kpis/weekly/",
        "/kpis/definitions/",
        "/kpis/targets/",
        "/kpis/values/",
        "/kpis/opportunities_marketing_sourced/",
        "/notifications/",
        "/accounts/password/",
        "/settings/api-keys/",
    ]
    lead = Lead.objects.visible_to(user).order_by("-total_score", "pk").first()
    if lead is not None:
        pages.append(f"/leads/{lead.pk}/")
        if lead.company_id:
            pages.append(f"/leads/companies/{lead.company_id}/")
    deal = _first_pk(Deal.objects.visible_to(user))
    if deal is not None:
        pages.append(f"/pipeline/deals/{deal}/")
    campaign, persona = _first_pk(Campaign.objects), _first_pk(Persona.objects)
    pages += [f"/campaigns/{campaign}/", f"/campaigns/personas/{persona}/"]
    sequence = _first_pk(Sequence.objects)  # nurture's step sequences (marketing's; reps get 403)
    pages += ["/nurture/sequences/", "/nurture/sequences/new/"]
    if sequence is not None:
        pages += [f"/nurture/sequences/{sequence}/", f"/nurture/sequences/{sequence}/edit/"]
    return pages


@pytest.fixture
def demo_data(settings):
    settings.DEBUG = True  # seed_demo refuses to run otherwise; the pages themselves do not depend on it
    call_command("seed_demo", stdout=io.StringIO())
    settings.DEBUG = False


def _context(browser, browser_context_args, width: str):
    # The pages allow no inline script; axe is injected as one, so this context alone sets the policy aside
    # (test_browser_csp.py checks the policy itself).
    return browser.new_context(**{**browser_context_args, "viewport": VIEWPORTS[width], "bypass_csp": True})


def _log_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def _axe(page) -> list[str]:
    page.wait_for_load_state("networkidle")
    page.add_script_tag(path=str(AXE))
    return [_describe(v) for v in page.evaluate(RUN_AXE)]


def _describe(violation: dict) -> str:
    nodes = "; ".join(violation["nodes"])
    return f"{violation['rule']} ({violation['impact']}, {violation['count']} nodes: {violation['help']}): {nodes}"


def _sweep(page, base: str, user: User) -> tuple[dict[str, list[str]], int]:
    found: dict[str, list[str]] = {}
    swept = 0
    for path in main_pages(user):
        response = page.goto(base + path)
        status = response.status if response else 0
        if status in (403, 404):  # not this role's page
            continue
        assert status == 200, f"{user.username} {path}: {status}"
        violations = _axe(page)
        swept += 1
        if violations:
            found[path] = violations
    return found, swept


# Every element Tab should reach, in document order, tagged with its index; and how it looks without the focus.
TAG_FOCUSABLES = """
() => {
  const selector = "a[href], button, input, select, textarea, summary, [tabindex]";
  // What a closed <details> holds is not shown (its summary is); Chromium still gives it boxes.
  const folded = (el) => { const d = el.parentElement && el.parentElement.closest("details:not([open])"); return d && el !== d.querySelector(":scope > summary"); };
  const shown = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden" && !folded(el);
  const els = Array.from(document.querySelectorAll(selector)).filter(
    (el) => !el.disabled && el.tabIndex >= 0 && el.type !== "hidden" && shown(el) && !el.closest("[inert]")
  );
  const look = (el) => { const s = getComputedStyle(el); return [s.outlineStyle, s.outlineWidth, s.outlineColor, s.boxShadow, s.borderColor, s.backgroundColor].join("|"); };
  // One radio button of a group is a Tab stop; the arrow keys move within it.
  const radios = new Set();
  const stops = els.filter((el) => {
    if (el.type !== "radio") return true;
    if (radios.has(el.name)) return false;
    radios.add(el.name);
    return true;
  });
  return stops.map((el, i) => {
    el.dataset.a11yStop = String(i);
    return {i, what: el.outerHTML.slice(0, 90), look: look(el), radio: el.type === "radio" ? el.name : null};
  });
}
"""

FOCUSED = """
() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const s = getComputedStyle(el);
  return {i: el.dataset.a11yStop ?? null, radio: el.type === "radio" ? el.name : null, what: el.outerHTML.slice(0, 90),
          look: [s.outlineStyle, s.outlineWidth, s.outlineColor, s.boxShadow, s.borderColor, s.backgroundColor].join("|")};
}
"""


def _tab_through(page) -> tuple[list[str], list[str]]:
    """Press Tab until the focus leaves the page; returns the controls never reached and those whose focus does
    not show (their look with the focus equals their look without it)."""
    stops = page.evaluate(TAG_FOCUSABLES)
    by_radio = {s["radio"]: s for s in stops if s["radio"]}
    reached: set[int] = set()
    invisible: list[str] = []
    previous = None
    for _ in range(2 * len(stops) + 20):  # a date input takes a Tab for each of its fields
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused is None:
            break
        stop = by_radio.get(focused["radio"]) if focused["radio"] else None
        index = int(focused["i"]) if focused["i"] is not None else (stop["i"] if stop else None)
        if index is None or index == previous:
            continue
        if index in reached:
            break  # round the page once
        reached.add(index)
        previous = index
        if focused["look"] == stops[index]["look"]:
            invisible.append(stops[index]["what"])
    unreached = [s["what"] for s in stops if s["i"] not in reached]
    return unreached, invisible


def _keyboard_problems(page, base: str) -> dict[str, dict[str, list[str]]]:
    """Tab through the key pages of a sales manager (the role with the most controls on them)."""
    manager = User.objects.get(username="sales_mgr")
    lead = Lead.objects.visible_to(manager).order_by("-total_score", "pk").first()
    deal = _first_pk(Deal.objects.visible_to(manager))
    problems: dict[str, dict[str, list[str]]] = {}
    for path in [
        "/leads/",
        f"/leads/{lead.pk}/",
        "/leads/handoffs/",
        f"/pipeline/deals/{deal}/",
        "/kpis/weekly/",
    ]:
        page.goto(base + path)
        page.wait_for_load_state("networkidle")
        unreached, invisible = _tab_through(page)
        if unreached or invisible:
            problems[path] = {"not reached by Tab": unreached, "focus not visible": invisible}
    return problems


# One test per width, so the demo data is seeded once for both checks: one browser context per role, its pages in
# sequence.
@pytest.mark.parametrize("width", sorted(VIEWPORTS))
def test_every_main_page_of_every_role_passes_axe_and_the_keyboard(
    live_server, browser, browser_context_args, demo_data, width
):
    failures: dict[str, list[str]] = {}
    keyboard: dict[str, dict[str, list[str]]] = {}
    swept = 0
    for role, username in ROLES.items():
        context = _context(browser, browser_context_args, width)
        page = context.new_page()
        try:
            if username == "mktg":  # the login page, once
                page.goto(f"{live_server.url}/accounts/login/")
                if on_login := _axe(page):
                    failures[f"anyone {width} /accounts/login/"] = on_login
            _log_in(page, live_server.url, username)
            found, count = _sweep(page, live_server.url, User.objects.get(username=username))
            if username == "sales_mgr":
                keyboard = _keyboard_problems(page, live_server.url)
        finally:
            context.close()
        swept += count
        failures.update({f"{role} ({username}) {width} {path}": v for path, v in found.items()})
    assert failures == {}, "\n".join(f"{where}:\n  " + "\n  ".join(v) for where, v in failures.items())
    assert keyboard == {}, "\n".join(f"{path}: {found}" for path, found in keyboard.items())
    assert swept >= 5 * 15
