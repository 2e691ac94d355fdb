"""The tracking snippet's collector (/t/collect), the email open pixel and the signed click redirect."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.test import override_settings

from leads.models import Touch
from leads.tracking import email_click_path, email_click_token, email_open_path, email_open_token
from tests.leads.factories import CampaignFactory, make_lead

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clear_cache")]

PAGE = "https://www.customer.co.jp/pricing?utm_source=google&utm_medium=cpc&utm_campaign=spring"


def test_a_beacon_post_records_a_page_view_with_utm_from_the_url(client):
    campaign = CampaignFactory(utm_campaign="spring")
    body = json.dumps(
        {
            "type": "page_view",
            "vid": "v1.abc",
            "eid": "e123",
            "url": PAGE,
            "ref": "https://google.com/",
            "title": "料金",
        }
    )
    response = client.post("/t/collect", data=body, content_type="text/plain")

    assert response.status_code == 204
    touch = Touch.objects.get()
    assert (touch.type, touch.visitor_id, touch.lead, touch.source) == ("page_view", "v1.abc", None, "web")
    assert (touch.utm_source, touch.utm_medium, touch.campaign) == ("google", "cpc", campaign)
    assert touch.properties == {"referrer": "https://google.com/", "title": "料金"}


def test_an_image_get_records_and_answers_a_gif(client):
    response = client.get("/t/collect", {"vid": "v1.abc", "url": PAGE, "eid": "img1"})
    assert response.status_code == 200 and response["Content-Type"] == "image/gif"
    assert Touch.objects.count() == 1


def test_the_same_event_id_is_one_view(client):
    for _ in range(3):
        client.get("/t/collect", {"vid": "v1.abc", "url": PAGE, "eid": "same"})
    assert Touch.objects.count() == 1


def test_without_an_event_id_repeats_within_a_minute_are_one_view(client):
    client.get("/t/collect", {"vid": "v1.abc", "url": PAGE})
    client.get("/t/collect", {"vid": "v1.abc", "url": PAGE})
    client.get("/t/collect", {"vid": "v1.abc", "url": "https://www.customer.co.jp/other"})
    assert Touch.objects.count() == 2


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"vid": "v1.abc", "url": PAGE, "type": "form_submit"}, "type"),
        ({"vid": "v1.abc", "url": PAGE, "type": "email_click"}, "type"),
        ({"vid": "v1.abc"}, "url"),
        ({"vid": "v1.abc", "url": "javascript:alert(1)"}, "url"),
        ({"vid": "v1.abc", "url": "/relative/path"}, "url"),
        ({"vid": "v1.abc", "url": "https://x.jp/" + "a" * 2100}, "url"),
        ({"url": PAGE}, "visitor_id"),
        ({"vid": "no spaces allowed", "url": PAGE}, "visitor_id"),
        ({"vid": "v1.abc", "url": PAGE, "eid": "bad id!"}, "eid"),
    ],
)
def test_bad_collect_requests_are_400_json_and_store_nothing(client, params, field):
    response = client.get("/t/collect", params)
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not Touch.objects.exists()


def test_a_browser_cannot_identify_anyone(client):
    response = client.post(
        "/t/collect",
        data=json.dumps({"vid": "v1.abc", "url": PAGE, "email": "ceo@victim.example"}),
        content_type="application/json",
    )
    assert response.status_code == 204
    assert Touch.objects.get().lead is None


@pytest.mark.parametrize(
    "body", [b"not json", b"[1, 2]", b'"string"', b"\xff\xfe bad utf-8", b"{" * 10_000, b"[" * 15_000]
)
def test_unreadable_beacon_bodies_are_400(client, body):
    response = client.post("/t/collect", data=body, content_type="text/plain")
    assert response.status_code == 400
    assert not Touch.objects.exists()


def test_an_oversized_beacon_is_413(client):
    body = json.dumps({"vid": "v1.abc", "url": PAGE, "title": "x" * 20_000})
    assert client.post("/t/collect", data=body, content_type="text/plain").status_code == 413


def test_other_methods_are_405(client):
    assert client.put("/t/collect").status_code == 405


@override_settings(LEADS_COLLECT_RATE_PER_MINUTE=2)
def test_collect_is_rate_limited_per_ip(client):
    statuses = [
        client.get("/t/collect", {"vid": "v1.abc", "url": PAGE, "eid": f"e{i}"}).status_code for i in range(4)
    ]
    assert statuses == [200, 200, 429, 429]
    assert Touch.objects.count() == 2


@override_settings(NUM_PROXIES=1, LEADS_COLLECT_RATE_PER_MINUTE=2)
def test_behind_a_proxy_the_collector_limits_each_client_not_the_proxy(client):
    def view(eid: str, forwarded: str):
        return client.get(
            "/t/collect",
            {"vid": "v1.abc", "url": PAGE, "eid": eid},
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR=forwarded,
        ).status_code

    assert [view(f"a{i}", f"198.51.100.{i}") for i in range(5)] == [200] * 5
    assert [view(f"b{i}", f"192.0.2.{i}, 203.0.113.7") for i in range(3)] == [200, 200, 429]


# --- Email opens and clicks ---------------------------------------------------------------------------


def test_the_open_pixel_records_one_open_per_email(client):
    campaign = CampaignFactory(utm_campaign="newsletter-05")
    lead = make_lead("reader@example.jp")
    path = email_open_path(lead_id=lead.pk, message_id="nl-2026-05", campaign_id=campaign.pk)
    assert path.startswith("/t/o/") and path.endswith(".gif")

    for _ in range(3):
        response = client.get(path)
        assert response.status_code == 200 and response["Content-Type"] == "image/gif"
        assert "no-store" in response["Cache-Control"]

    touch = Touch.objects.get()
    assert (touch.type, touch.lead, touch.campaign) == ("email_open", lead, campaign)
    lead.refresh_from_db()
    assert lead.first_touch_campaign == campaign  # last_touch_at: the worker's, after the commit


@pytest.mark.parametrize(
    "mangle", [lambda t: t[:-2] + "xx", lambda t: "garbage", lambda t: t.replace(":", "", 1)]
)
def test_a_forged_pixel_still_answers_a_gif_but_records_nothing(client, mangle):
    lead = make_lead("reader@example.jp")
    token = email_open_token(lead_id=lead.pk, message_id="m1")
    response = client.get(f"/t/o/{mangle(token)}.gif")
    assert response.status_code == 200 and response["Content-Type"] == "image/gif"
    assert not Touch.objects.exists()


def test_a_click_token_cannot_be_used_as_an_open_token_and_vice_versa(client):
    lead = make_lead("reader@example.jp")
    click = email_click_token(lead_id=lead.pk, url="https://x.jp/", message_id="m1")
    client.get(f"/t/o/{click}.gif")
    open_token = email_open_token(lead_id=lead.pk, message_id="m1")
    response = client.get(f"/t/c/{open_token}", {"u": "https://x.jp/"})
    assert response.status_code == 400
    assert not Touch.objects.exists()


def test_a_signed_click_records_and_redirects_to_its_url(client):
    lead = make_lead("clicker@example.jp")
    target = "https://www.example.co.jp/seminar?utm_source=newsletter&utm_campaign=nl-05"
    path = email_click_path(lead_id=lead.pk, url=target, message_id="nl-05")

    response = client.get(path)

    assert response.status_code == 302 and response["Location"] == target
    touch = Touch.objects.get()
    assert (touch.type, touch.lead, touch.url, touch.utm_source) == (
        "email_click",
        lead,
        target,
        "newsletter",
    )
    client.get(path)
    assert Touch.objects.count() == 1  # the same click within the hour is one click


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/phish", "https://www.example.co.jp/seminar?x=1", "javascript:alert(1)", ""],
)
def test_the_click_redirect_goes_nowhere_but_its_signed_url(client, target):
    lead = make_lead("clicker@example.jp")
    token = email_click_token(lead_id=lead.pk, url="https://www.example.co.jp/seminar", message_id="m1")
    response = client.get(f"/t/c/{token}?u={quote(target, safe='')}")
    assert response.status_code == 400
    assert "Location" not in response
    assert not Touch.objects.exists()


def test_an_unsigned_click_is_not_an_open_redirect(client):
    response = client.get("/t/c/anything", {"u": "https://evil.example/"})
    assert response.status_code == 400 and "Location" not in response


def test_only_http_urls_can_be_signed():
    with pytest.raises(ValueError):
        email_click_token(lead_id=1, url="javascript:alert(1)", message_id="m")
    with pytest.raises(ValueError):
        email_click_token(lead_id=1, url="//evil.example/", message_id="m")


def test_a_click_for_a_deleted_lead_still_redirects(client):
    lead = make_lead("gone@example.jp")
    path = email_click_path(lead_id=lead.pk, url="https://x.jp/", message_id="m1")
    lead.delete()
    assert client.get(path).status_code == 302
    assert not Touch.objects.exists()


# --- The snippet ----------------------------------------------------------------------------------------


def test_the_snippet_is_served_and_posts_page_views_to_the_collector(client):
    source = Path(settings.BASE_DIR, "static", "leads", "t.js").read_text()
    for needle in ("sm_vid", "/t/collect", "sendBeacon", "utm_campaign", "sm_sid"):
        assert needle in source
    response = client.get("/static/leads/t.js")
    assert response.status_code == 200
