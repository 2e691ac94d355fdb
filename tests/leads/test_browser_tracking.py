"""The tracking snippet in a real Chromium on a customer's page (another origin): it sets the visitor cookie,
sends the page view with its UTM tags, and links the form submission to the pages the visitor read before."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import expect

from leads.models import Lead, Touch, Visitor
from tests.leads.factories import CampaignFactory, FormEndpointFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def customer_site():
    """A customer's web site on its own origin (127.0.0.1, while the app's live server is on localhost)."""
    pages: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            body = pages.get(self.path.split("?")[0], "<h1>not found</h1>").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", pages
    server.shutdown()
    server.server_close()


def _wait_for(condition, timeout=10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_the_snippet_tracks_a_visit_and_stitches_the_form_submission(live_server, page, customer_site):
    origin, pages = customer_site
    campaign = CampaignFactory(utm_campaign="spring-ad")
    endpoint = FormEndpointFactory(
        site_key="contact", allowed_origins=origin, redirect_url=f"{origin}/thanks", touch_type="demo_request"
    )
    pages["/pricing"] = f"""<!doctype html><html><head><meta charset="utf-8"><title>料金プラン</title>
      <script async src="{live_server.url}/static/leads/t.js"></script></head>
      <body><h1>料金</h1>
      <form method="post" action="{live_server.url}/f/{endpoint.site_key}">
        <input name="email" type="email"><input name="name"><button type="submit">送信</button>
      </form></body></html>"""
    pages["/thanks"] = '<!doctype html><meta charset="utf-8"><h1>ありがとうございました</h1>'

    page.goto(f"{origin}/pricing?utm_source=google&utm_medium=cpc&utm_campaign=spring-ad")
    assert _wait_for(lambda: Touch.objects.filter(type="page_view").exists()), "no page view arrived"

    view = Touch.objects.get(type="page_view")
    cookie = {c["name"]: c["value"] for c in page.context.cookies(origin)}["sm_vid"]
    assert view.visitor_id == cookie and view.lead is None
    assert (view.utm_source, view.campaign, view.properties["title"]) == ("google", campaign, "料金プラン")

    page.fill("input[name=email]", "visitor@customer.example")
    page.fill("input[name=name]", "訪問 太郎")
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("ありがとうございました")

    lead = Lead.objects.get(email="visitor@customer.example")
    assert set(lead.touches.values_list("type", flat=True)) == {"page_view", "demo_request"}
    assert Visitor.objects.get(visitor_id=cookie).lead == lead
    assert lead.first_touch_campaign == campaign
    submission = lead.touches.get(type="demo_request")
    assert submission.url.startswith(f"{origin}/pricing") and submission.utm_campaign == "spring-ad"
