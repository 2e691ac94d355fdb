"""The Content-Security-Policy in a real Chromium: every main page, for every kind of user, renders and runs with
no policy violation and no console error, and the HTMX and script-driven interactions still work."""

from __future__ import annotations

import io
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from leads.models import FormEndpoint, Lead
from pipeline.models import Deal
from salesmarketing.demo import DEMO_PASSWORD
from salesmarketing.models import User
from salesmarketing.services import api_key_create
from tests.salesmarketing.factories import UserFactory, notify

pytestmark = pytest.mark.browser

# Collects every violation on the document from the first script on, across navigations (an init script runs on
# each new document before the page's own scripts).
COLLECT_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push([e.effectiveDirective, e.blockedURI, e.sourceFile + ":" + e.lineNumber, e.sample].join(" | "));
});
"""


class PageWatch:
    """Console errors, uncaught exceptions and CSP violations of a page, by URL."""

    def __init__(self, page):
        self.page = page
        self.problems: list[str] = []
        page.add_init_script(COLLECT_VIOLATIONS)
        page.on(
            "console",
            lambda m: (
                m.type == "error" and self.problems.append(f"console: {m.text} at {m.location.get('url')}")
            ),
        )
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("response", lambda r: r.status >= 400 and self.problems.append(f"{r.status} {r.url}"))

    def visit(self, url: str) -> list[str]:
        self.problems.clear()
        response = self.page.goto(url)
        status = response.status if response else 0
        # Wait for what HTMX loads by itself (hx-trigger="load"), then read what the document collected.
        self.page.wait_for_load_state("networkidle")
        violations = self.page.evaluate("window.__csp || []")
        found = [f"status {status}"] if status != 200 else []
        return found + [f"csp: {v}" for v in violations] + self.real_problems()

    def real_problems(self) -> list[str]:
        # The admin's pages have no <link rel="icon">, so Chromium asks for /favicon.ico: noise, not a policy matter.
        return [p for p in self.problems if not p.endswith("/favicon.ico")]


def _log_in(page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def _pages_for(user: User) -> list[str]:
    pages = [
        "/",
        "/leads/",
        "/leads/handoffs/",
        "/leads/scoring/",
        "/pipeline/",
        "/pipeline/forecast/",
        "/campaigns/",
        "/campaigns/dashboard/",
        "/campaigns/personas/",
        "/kpis/weekly/",
        "/kpis/opportunities_marketing_sourced/",
        "/notifications/",
        "/accounts/password/",
    ]
    lead = Lead.objects.visible_to(user).order_by("-total_score", "pk").first()
    if lead is not None:
        pages.append(f"/leads/{lead.pk}/")
    deal = Deal.objects.visible_to(user).order_by("pk").first()
    if deal is not None:
        pages.append(f"/pipeline/deals/{deal.pk}/")
    from leads.models import Campaign, Persona

    pages.append(f"/campaigns/{Campaign.objects.order_by('pk').first().pk}/")
    pages.append(f"/campaigns/personas/{Persona.objects.order_by('pk').first().pk}/")
    if user.role != User.Role.SALES:
        pages += ["/leads/import/", "/kpis/targets/"]
    if user.role == User.Role.ADMIN:
        endpoint = FormEndpoint.objects.order_by("pk").first()
        pages += ["/settings/api-keys/", "/api/v1/docs", "/admin/", "/admin/leads/lead/"]
        pages.append(f"/admin/leads/formendpoint/{endpoint.pk}/change/")  # the embed snippet
    return pages


def test_every_main_page_runs_under_the_policy_for_every_role(live_server, page, settings):
    settings.DEBUG = True  # seed_demo refuses to run otherwise; the pages themselves do not depend on it
    call_command("seed_demo", stdout=io.StringIO())
    settings.DEBUG = False
    watch = PageWatch(page)
    failures: dict[str, list[str]] = {}
    visited = 0
    for username in ("admin", "mktg", "sales_mgr", "rep1"):
        user = User.objects.get(username=username)
        page.context.clear_cookies()
        _log_in(page, live_server.url, username, DEMO_PASSWORD)
        for path in _pages_for(user):
            problems = watch.visit(live_server.url + path)
            visited += 1
            if problems:
                failures[f"{username} {path}"] = problems
    assert failures == {}
    assert visited >= 4 * 15


def test_computed_sizes_print_and_confirm_work_without_inline_code(live_server, page):
    UserFactory(username="root", role=User.Role.ADMIN, is_staff=True, is_superuser=True, team=None)
    key, _plain = api_key_create(name="CRM 連携", source="crm")
    watch = PageWatch(page)
    _log_in(page, live_server.url, "root", "pw-for-tests-1")

    # A KPI card's progress bar and chart get their sizes from data attributes, through the CSSOM.
    assert watch.visit(f"{live_server.url}/") == []
    chart = page.locator(".chart[data-height-px]").first
    expect(chart).to_have_attribute("data-height-px", re.compile(r"\d+"))
    assert page.evaluate("document.querySelector('.chart[data-height-px]').style.height").endswith("px")

    # The weekly review's print button (was onclick="window.print()").
    assert watch.visit(f"{live_server.url}/kpis/weekly/") == []
    page.evaluate("() => { window.__printed = 0; window.print = () => { window.__printed += 1; }; }")
    page.click("button[data-print]")
    assert page.evaluate("window.__printed") == 1

    # Revoking an API key asks first (was onsubmit="return confirm(…)"): dismissing keeps the key.
    assert watch.visit(f"{live_server.url}/settings/api-keys/") == []
    page.once("dialog", lambda d: d.dismiss())
    page.click(f"form[action$='/{key.pk}/revoke'] button")
    page.wait_for_timeout(300)
    key.refresh_from_db()
    assert key.revoked_at is None
    page.once("dialog", lambda d: d.accept())
    with page.expect_navigation():
        page.click(f"form[action$='/{key.pk}/revoke'] button")
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert watch.problems == []


def test_htmx_interactions_work_under_the_policy(live_server, page, owner):
    notify(recipient=owner, title="新しい引き継ぎ")
    watch = PageWatch(page)
    page.clock.install()
    _log_in(page, live_server.url, "owner", "pw-for-tests-1")

    assert watch.visit(f"{live_server.url}/notifications/") == []
    expect(page.locator("#bell-count")).to_have_text("1")
    # hx-post with the token from hx-headers on <body>; the bell is swapped in place.
    page.click("form[hx-post] button[type=submit]")
    expect(page.locator("#bell-count")).to_have_count(0)

    # The bell polls every 30 seconds (hx-trigger="every 30s").
    notify(recipient=owner, title="SLA 期限が近づいています")
    page.clock.run_for(31_000)  # fires timers in order, including ones the swap just registered
    expect(page.locator("#bell-count")).to_have_text("1")

    # Language switch (a plain form post to set_language) and an HTMX filter on the leads list.
    page.click("button[value=en]")
    expect(page.locator("h1")).to_have_text("Notifications")
    assert watch.visit(f"{live_server.url}/leads/") == []
    with page.expect_response(
        lambda r: "/leads/?" in r.url and r.request.headers.get("hx-request") == "true"
    ):
        page.fill("#id_q", "nobody-matches-this")  # the lead list's own box (the header has the search too)
    assert page.evaluate("window.__csp") == [] and watch.problems == []


@pytest.fixture
def customer_site(live_server):
    """A customer's site on another origin: a page with our form on it, and the thank-you page it redirects to."""
    form = (
        f'<form method="post" action="{live_server.url}/f/wp"><input name="email" value="not-an-email">'
        '<button type="submit">Send</button></form>'
    ).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the http.server API)
            body = form if self.path == "/form" else b"<h1>Thanks</h1>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_public_form_corrected_on_our_page_still_redirects_to_the_customer(live_server, page, customer_site):
    """The form is posted from a customer's site; a bad submission is shown back on our page (under our policy),
    and the corrected one must still reach the customer's thank-you page (form-action covers the redirect)."""
    FormEndpoint.objects.create(name="資料請求", site_key="wp", redirect_url=f"{customer_site}/thanks")
    watch = PageWatch(page)
    page.goto(f"{customer_site}/form")
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.url == f"{live_server.url}/f/wp"
    assert page.evaluate("window.__csp") == []
    page.fill("input[name=email]", "hanako@example.jp")
    with page.expect_navigation(url=f"{customer_site}/thanks"):
        page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Thanks")
    assert Lead.objects.filter(email="hanako@example.jp").exists()
    # The only problems noted are the 400 that showed the form back (the response and Chromium's console line).
    assert [p for p in watch.problems if "400" not in p] == []
