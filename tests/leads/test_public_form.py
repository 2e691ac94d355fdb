"""POST /f/<site key>: the public web-form endpoint customers' sites post to."""

from __future__ import annotations

import json

import pytest
from django.test import override_settings

from leads.models import Company, Lead, Touch, Visitor
from leads.services import company_resolve
from tests.leads.factories import CampaignFactory, FormEndpointFactory, make_lead

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clear_cache")]

SITE = "https://www.customer.co.jp"


@pytest.fixture
def endpoint():
    return FormEndpointFactory(
        site_key="whitepaper",
        touch_type="content_download",
        redirect_url="https://www.customer.co.jp/thanks",
        allowed_origins=f"{SITE}\nhttps://lp.customer.co.jp",
        campaign=CampaignFactory(utm_campaign="wp-2026"),
    )


def post(client, data, site_key="whitepaper", origin=SITE, **extra):
    headers = {"HTTP_ORIGIN": origin} if origin else {}
    return client.post(f"/f/{site_key}", data, **headers, **extra)


def test_a_submission_creates_the_lead_and_touch_then_redirects_303(client, endpoint):
    response = post(
        client,
        {
            "email": "Hanako@Example.jp",
            "name": "佐藤 花子",
            "company": "株式会社サンプル",
            "consent_email": "on",
            "sm_sid": "sub-1",
            "sm_page": "https://www.customer.co.jp/wp?utm_source=google",
            "utm_source": "google",
            "how_did_you_hear": "展示会",
            "interests": ["DX", "SFA"],
        },
    )

    assert response.status_code == 303
    assert response["Location"] == "https://www.customer.co.jp/thanks"
    lead = Lead.objects.get()
    assert (lead.email, lead.name, lead.company.name, lead.consent_email, lead.source) == (
        "hanako@example.jp",
        "佐藤 花子",
        "株式会社サンプル",
        True,
        "web_form",
    )
    touch = Touch.objects.get()
    assert (touch.type, touch.campaign, touch.source) == (
        "content_download",
        endpoint.campaign,
        f"form:{endpoint.pk}",
    )
    assert touch.properties["fields"] == {"how_did_you_hear": "展示会", "interests": ["DX", "SFA"]}
    assert lead.first_touch_campaign == endpoint.campaign


def test_a_double_submit_with_the_same_submission_id_is_stored_once(client, endpoint):
    data = {"email": "a@example.jp", "sm_sid": "same"}
    assert post(client, data).status_code == 303
    assert post(client, data).status_code == 303
    assert Touch.objects.count() == 1


def test_submissions_without_an_id_are_each_recorded(client, endpoint):
    post(client, {"email": "a@example.jp"})
    post(client, {"email": "a@example.jp"})
    assert Touch.objects.count() == 2 and Lead.objects.count() == 1


def test_json_is_answered_when_asked(client, endpoint):
    response = post(client, {"email": "a@example.jp", "sm_sid": "j1"}, HTTP_ACCEPT="application/json")
    assert response.status_code == 201 and response.json() == {"ok": True, "duplicate": False}
    again = post(client, {"email": "a@example.jp", "sm_sid": "j1"}, HTTP_ACCEPT="application/json")
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert response["Access-Control-Allow-Origin"] == SITE


def test_a_json_body_is_accepted(client, endpoint):
    response = client.post(
        "/f/whitepaper",
        data=json.dumps({"email": "j@example.jp", "consent_email": True, "tags": ["a", "b"]}),
        content_type="application/json",
        HTTP_ORIGIN=SITE,
    )
    assert response.status_code == 201
    assert Lead.objects.get().consent_email is True


def test_the_visitor_cookie_or_field_stitches_earlier_page_views(client, endpoint):
    client.get("/t/collect", {"vid": "v1.abc", "url": "https://www.customer.co.jp/pricing", "eid": "e1"})
    post(client, {"email": "stitch@example.jp", "sm_vid": "v1.abc"})

    lead = Lead.objects.get()
    assert set(lead.touches.values_list("type", flat=True)) == {"page_view", "content_download"}
    assert Visitor.objects.get(visitor_id="v1.abc").lead == lead


def test_the_tracking_cookie_is_used_when_the_form_is_on_our_domain(client, endpoint):
    client.cookies["sm_vid"] = "v1.cookie"
    post(client, {"email": "c@example.jp"}, origin="http://testserver")
    assert Visitor.objects.get(visitor_id="v1.cookie").lead.email == "c@example.jp"


def test_a_mangled_visitor_id_does_not_lose_the_submission(client, endpoint):
    response = post(client, {"email": "m@example.jp", "sm_vid": "bad id with spaces"})
    # The form field is validated: the visitor reads the error page and can resend.
    assert response.status_code == 400
    client.cookies["sm_vid"] = "not/valid"  # a cookie is not theirs to fix: it is dropped instead
    assert post(client, {"email": "m@example.jp"}, origin="http://testserver").status_code == 303
    assert Lead.objects.filter(email="m@example.jp").exists()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({}, "email"),
        ({"email": ""}, "email"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@example.jp", "name": "x" * 201}, "name"),
        ({"email": "a@example.jp", "name": "nul\x00byte"}, "name"),
        ({"email": "a@example.jp", "sm_sid": "has spaces"}, "sm_sid"),
        ({"email": "a@example.jp", "note": "x" * 5001}, "__all__"),
        ({"email": "a@example.jp", **{f"f{i}": "v" for i in range(51)}}, "__all__"),
    ],
)
def test_bad_input_gets_a_400_page_that_keeps_every_value(client, endpoint, data, field):
    response = post(client, {**data, "company": "株式会社残る", "memo": "消えない"})

    assert response.status_code == 400
    html = response.content.decode()
    assert "株式会社残る" in html and 'name="memo" value="消えない"' in html
    assert 'action="/f/whitepaper"' in html
    assert not Lead.objects.exists() and not Touch.objects.exists()


def test_bad_input_gets_400_json_with_field_errors_when_asked(client, endpoint):
    response = post(client, {"email": "nope"}, HTTP_ACCEPT="application/json")
    assert response.status_code == 400
    assert response.json()["ok"] is False and "email" in response.json()["errors"]


@pytest.mark.parametrize("body", [b"{oops", b"[1]", b"[" * 50_000, b"\xff\xfe"])
def test_a_malformed_json_body_is_400(client, endpoint, body):
    response = client.post("/f/whitepaper", data=body, content_type="application/json", HTTP_ORIGIN=SITE)
    assert response.status_code == 400 and response.json()["ok"] is False
    assert not Lead.objects.exists()


def test_a_form_body_that_is_not_utf8_loses_nothing_it_can_keep(client, endpoint):
    body = b"email=sjis@example.jp&name=" + "山田".encode("cp932")
    response = client.post(
        "/f/whitepaper", data=body, content_type="application/x-www-form-urlencoded", HTTP_ORIGIN=SITE
    )
    assert response.status_code == 303
    assert Lead.objects.get().email == "sjis@example.jp"  # the undecodable name became U+FFFD, not a 500


def test_the_honeypot_looks_successful_but_stores_nothing(client, endpoint):
    response = post(client, {"email": "bot@example.jp", "sm_hp": "http://spam"})
    assert response.status_code == 303
    assert not Lead.objects.exists()


def test_another_site_is_refused_when_origins_are_listed(client, endpoint):
    response = post(client, {"email": "a@example.jp"}, origin="https://evil.example")
    assert response.status_code == 403
    assert post(client, {"email": "a@example.jp"}, origin=None).status_code == 403
    assert post(client, {"email": "a@example.jp"}, origin="https://lp.customer.co.jp").status_code == 303
    assert Lead.objects.count() == 1


def test_any_site_may_post_when_no_origins_are_listed(client):
    FormEndpointFactory(site_key="open")
    assert (
        post(
            client, {"email": "a@example.jp"}, site_key="open", origin="https://anywhere.example"
        ).status_code
        == 200
    )
    assert post(client, {"email": "b@example.jp"}, site_key="open", origin=None).status_code == 200


def test_cors_preflight(client, endpoint):
    ok = client.options("/f/whitepaper", HTTP_ORIGIN=SITE)
    assert ok.status_code == 204 and ok["Access-Control-Allow-Origin"] == SITE
    refused = client.options("/f/whitepaper", HTTP_ORIGIN="https://evil.example")
    assert refused.status_code == 403 and "Access-Control-Allow-Origin" not in refused


def test_unknown_or_closed_forms_are_404(client, endpoint):
    assert post(client, {"email": "a@example.jp"}, site_key="nope").status_code == 404
    endpoint.is_active = False
    endpoint.save()
    assert post(client, {"email": "a@example.jp"}).status_code == 404
    assert not Lead.objects.exists()


def test_get_is_405(client, endpoint):
    response = client.get("/f/whitepaper")
    assert response.status_code == 405 and "POST" in response["Allow"]


@override_settings(LEADS_FORM_RATE_PER_MINUTE=3)
def test_it_rate_limits_per_ip(client, endpoint):
    statuses = [post(client, {"email": f"r{i}@example.jp"}).status_code for i in range(5)]
    assert statuses == [303, 303, 303, 429, 429]
    assert Lead.objects.count() == 3
    other_ip = client.post(
        "/f/whitepaper", {"email": "o@example.jp"}, HTTP_ORIGIN=SITE, REMOTE_ADDR="10.0.0.9"
    )
    assert other_ip.status_code == 303


@override_settings(NUM_PROXIES=1, LEADS_FORM_RATE_PER_MINUTE=20)
def test_behind_a_proxy_the_limit_counts_each_client_not_the_proxy(client, endpoint):
    """Behind one TLS proxy every request comes from the proxy's address; the limit must count the client the
    proxy saw (the rightmost X-Forwarded-For entry, as the login throttle does), or anyone could block the form
    for everyone."""
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    statuses = [
        post(
            client, {"email": f"c{i}@example.jp"}, HTTP_X_FORWARDED_FOR=f"198.51.100.{i}", **proxy
        ).status_code
        for i in range(25)
    ]
    assert statuses == [303] * 25
    assert Lead.objects.count() == 25

    # One client is still limited, whatever it writes into X-Forwarded-For itself.
    statuses = [
        post(
            client,
            {"email": f"x{i}@example.jp"},
            HTTP_X_FORWARDED_FOR=f"192.0.2.{i}, 203.0.113.7",  # forged entry, then what our proxy saw
            **proxy,
        ).status_code
        for i in range(21)
    ]
    assert statuses == [303] * 20 + [429]


def test_a_too_large_form_is_413(client, endpoint):
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000):
        response = post(client, {"email": "big@example.jp", "memo": "x" * 2000})
    assert response.status_code == 413
    assert not Lead.objects.exists()


def test_without_a_redirect_url_it_shows_a_thank_you_page(client):
    FormEndpointFactory(site_key="plain")
    response = post(
        client, {"email": "t@example.jp"}, site_key="plain", origin=None, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 200
    assert "Thank you" in response.content.decode()


def test_a_post_for_a_known_lead_fills_empty_fields_and_overwrites_nothing(client, endpoint):
    """Anyone can type a known lead's email into a public form: what is known stays, no company is made up."""
    company = company_resolve(name="株式会社本物", domain="honmono.example.jp")
    lead = make_lead("sato@honmono.example.jp", name="佐藤 花子", title="課長", company=company)

    response = post(
        client,
        {
            "email": "SATO@honmono.example.jp",
            "name": "偽 太郎",
            "title": "代表取締役社長",
            "company": "株式会社ニセモノ",
            "phone": "03-9999-0000",
            "sm_sid": "spoof-1",
        },
    )

    assert response.status_code == 303
    lead.refresh_from_db()
    assert (lead.name, lead.title, lead.company, lead.phone) == ("佐藤 花子", "課長", company, "03-9999-0000")
    assert list(Company.objects.values_list("name", flat=True)) == ["株式会社本物"]
    assert lead.lifecycle_stage == Lead._meta.get_field("lifecycle_stage").default
    touch = Touch.objects.get(lead=lead)  # recorded as a touch, with what was sent
    assert touch.properties["submitted"] == {
        "name": "偽 太郎",
        "title": "代表取締役社長",
        "company": "株式会社ニセモノ",
        "phone": "03-9999-0000",
    }


def test_a_post_gives_a_known_lead_without_a_company_one(client, endpoint):
    lead = make_lead("nocompany@example.jp", name="会社 なし")

    post(client, {"email": "nocompany@example.jp", "company": "株式会社はじめて", "sm_sid": "first-company"})

    lead.refresh_from_db()
    assert lead.company.name == "株式会社はじめて"


def test_a_company_a_public_form_makes_is_nobodys(client, endpoint, owner):
    """Anyone may type any email into a public form: what they type never puts a company in a team's keeping
    (an owned company is hidden from the other teams), even when the lead it names is a rep's."""
    make_lead("owned@example.jp", name="担当 あり", owner=owner)

    post(client, {"email": "new@example.jp", "company": "株式会社フォーム新規", "sm_sid": "form-company-1"})
    post(client, {"email": "owned@example.jp", "company": "株式会社フォーム既知", "sm_sid": "form-company-2"})

    made = Lead.objects.filter(email__in=["new@example.jp", "owned@example.jp"]).select_related("company")
    assert {(lead.company.name, lead.company.owner) for lead in made} == {
        ("株式会社フォーム新規", None),
        ("株式会社フォーム既知", None),
    }
