"""Web security of every page: headers (CSP and friends), login throttling, production settings (check --deploy)
and CSRF on every state-changing request, HTMX included."""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import subprocess
import sys
import uuid
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import redis
import time_machine
from anymail import urls as anymail_urls
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client, RequestFactory, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import translation

from salesmarketing.demo import DEMO_PASSWORD
from salesmarketing.models import Notification, User
from salesmarketing.security import client_ip
from tests.conftest import require_or_skip
from tests.leads.factories import FormEndpointFactory
from tests.salesmarketing.factories import notify

ROOT = Path(__file__).resolve().parents[2]
LOGIN = "/accounts/login/"
CUSTOMER = "https://www.customer.co.jp"


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Login failures and capture rate limits are counted in the cache; each test starts from zero."""
    cache.clear()
    yield
    cache.clear()


def _policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {d.split()[0]: d.split()[1:] for d in header.split(";") if d.strip()}


# --- Headers -----------------------------------------------------------------------------------------------

EXPECTED_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
    "base-uri": ["'self'"],
    "object-src": ["'none'"],
}


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/leads/", "/pipeline/", "/kpis/weekly/", "/campaigns/dashboard/"])
def test_pages_allow_only_our_own_scripts_and_styles_and_refuse_framing(owner_client, path):
    response = owner_client.get(path)

    assert response.status_code == 200
    assert _policy(response) == EXPECTED_POLICY
    assert response["X-Frame-Options"] == "DENY"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    permissions = dict(re.findall(r"([a-z-]+)=\(([^)]*)\)", response["Permissions-Policy"]))
    assert {"camera", "microphone", "geolocation", "payment", "usb"} <= set(permissions)
    assert set(permissions.values()) == {""}  # every listed feature is off, for us and for any frame


@pytest.mark.django_db
def test_the_login_page_has_the_policy_and_no_inline_code(client):
    response = client.get(LOGIN)
    html = response.content.decode()

    assert _policy(response) == EXPECTED_POLICY
    assert '"includeIndicatorStyles": false' in html  # htmx would otherwise inject a <style> element
    assert not re.search(r"<script(?![^>]*\b(src|type=\"application/json\")=)[^>]*>", html)
    assert not re.search(r"\s(on[a-z]+|style)=", html)


@pytest.mark.django_db
def test_no_template_carries_inline_handlers_styles_or_scripts():
    """Templates rendered under the policy: an inline handler or style attribute would be blocked in the browser."""
    offenders = []
    for template in (ROOT / "templates").rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        for pattern in (
            r"\son[a-z]+=",
            r"\sstyle=",
            r"javascript:",
            r"<script(?![^>]*\b(?:src=|type=\"application/json\"))[^>]*>",  # JSON data does not run
            r"<style",
        ):
            offenders += [f"{template.relative_to(ROOT)}: {m}" for m in re.findall(pattern, text)]
    assert offenders == []


@pytest.mark.django_db
def test_capture_endpoints_still_work_from_customers_sites(client):
    """The snippet and the public form are used cross-origin; our policy must not get in their way."""
    FormEndpointFactory(site_key="wp", redirect_url=f"{CUSTOMER}/thanks", allowed_origins=CUSTOMER)

    snippet = client.get("/static/leads/t.js")
    assert snippet.status_code == 200 and "javascript" in snippet["Content-Type"]
    assert "Cross-Origin-Resource-Policy" not in snippet

    collected = client.post(
        "/t/collect",
        json.dumps({"url": f"{CUSTOMER}/pricing", "vid": "v-" + uuid.uuid4().hex[:12]}),
        content_type="text/plain",
        HTTP_ORIGIN=CUSTOMER,
    )
    assert collected.status_code == 204

    # A bad submission is shown back on our page: its corrected post is redirected to the customer's site, which
    # browsers check against form-action too.
    shown_back = client.post("/f/wp", {"email": "not-an-email"}, HTTP_ORIGIN=CUSTOMER)
    assert shown_back.status_code == 400
    assert _policy(shown_back)["form-action"] == ["'self'", CUSTOMER]
    assert _policy(shown_back)["script-src"] == ["'self'"]

    sent = client.post("/f/wp", {"email": "hanako@example.jp"}, HTTP_ORIGIN=CUSTOMER)
    assert sent.status_code == 303 and sent["Location"] == f"{CUSTOMER}/thanks"


# --- Login throttling ------------------------------------------------------------------------------------------


def _try(client: Client, username: str, password: str, **extra):
    return client.post(
        LOGIN, {"username": username, "password": password}, HTTP_ACCEPT_LANGUAGE="en", **extra
    )


def _errors(response) -> list[str]:
    return list(response.context["form"].non_field_errors())


LOCKED = re.compile(r"^Too many failed login attempts\. Please try again after \d\d:\d\d\.$")


@pytest.mark.django_db
def test_five_failures_lock_the_username_for_fifteen_minutes_with_a_message(client, owner):
    start = datetime(2026, 11, 20, 10, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    with time_machine.travel(start, tick=False) as traveller:
        for _ in range(4):
            response = _try(client, "owner", "guess")
            assert response.status_code == 200
            assert not any(LOCKED.match(e) for e in _errors(response))
        fifth = _try(client, "owner", "guess")
        assert _errors(fifth) == ["Too many failed login attempts. Please try again after 10:15."]
        assert "Too many failed login attempts" in fifth.content.decode()  # shown on the form

        # The right password does not get through while the lock lasts, on our form or the admin's.
        assert LOCKED.match(_errors(_try(client, "owner", "pw-for-tests-1"))[0])
        admin = client.post("/admin/login/", {"username": "owner", "password": "pw-for-tests-1"})
        assert admin.status_code == 200 and "_auth_user_id" not in client.session
        # Another user is not affected.
        User.objects.create_user("someone", password="pw-for-tests-2")
        assert _try(client, "someone", "pw-for-tests-2").status_code == 302
        client.logout()

        traveller.shift(15 * 60 + 1)
        assert _try(client, "owner", "pw-for-tests-1").status_code == 302


@pytest.mark.django_db
def test_a_successful_login_resets_the_count(client, owner):
    for _ in range(4):
        _try(client, "owner", "guess")
    assert _try(client, "owner", "pw-for-tests-1").status_code == 302
    client.logout()
    for _ in range(4):
        assert not any(LOCKED.match(e) for e in _errors(_try(client, "owner", "guess")))
    assert _try(client, "owner", "pw-for-tests-1").status_code == 302


@pytest.mark.django_db
def test_the_lock_does_not_tell_whether_the_account_exists(client, owner):
    # Time stands still: the two locks' "try again after HH:MM" would differ when a minute turns between them
    # (ten slow password checks apart on a busy machine, e.g. in the parallel run).
    frozen = datetime(2026, 11, 20, 10, 0, 59, tzinfo=ZoneInfo("Asia/Tokyo"))
    with translation.override("en"), time_machine.travel(frozen, tick=False):
        answers = {}
        for username in ("owner", "no-such-user"):
            first = _errors(_try(client, username, "guess"))
            for _ in range(3):
                _try(client, username, "guess")
            answers[username] = (first, _errors(_try(client, username, "guess")))
    assert answers["owner"] == answers["no-such-user"]
    generic, locked = answers["owner"]
    assert not LOCKED.match(generic[0]) and LOCKED.match(locked[0])


@pytest.mark.django_db
@override_settings(LOGIN_IP_FAILURE_LIMIT=6)
def test_many_usernames_from_one_address_lock_that_address(client, owner):
    attacker = {"REMOTE_ADDR": "203.0.113.7"}
    for n in range(6):
        _try(client, f"guess-{n}", "guess", **attacker)

    assert LOCKED.match(_errors(_try(client, "owner", "pw-for-tests-1", **attacker))[0])
    assert _try(client, "owner", "pw-for-tests-1", REMOTE_ADDR="198.51.100.2").status_code == 302


@override_settings(NUM_PROXIES=1)
def test_behind_one_proxy_the_address_comes_from_the_proxy_not_the_client():
    forged = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="192.0.2.66, 203.0.113.7"
    )  # the client sent "192.0.2.66"; our proxy appended the address it saw
    assert client_ip(forged) == "203.0.113.7"
    with override_settings(NUM_PROXIES=0):
        assert client_ip(forged) == "10.0.0.2"


@pytest.mark.django_db
def test_the_lock_is_shared_through_redis_when_the_cache_is_redis(client, owner, settings):
    require_or_skip(bool(settings.REDIS_URL), "REDIS_URL is not set, so there is no Redis to share the lock")
    redis_cache = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": settings.REDIS_URL,
        "KEY_PREFIX": f"websec-test-{uuid.uuid4().hex}",  # never clear the broker's database
    }
    with override_settings(CACHES={"default": redis_cache}):
        for _ in range(5):
            _try(client, "owner", "guess")
        assert LOCKED.match(_errors(_try(client, "owner", "pw-for-tests-1"))[0])
        server = redis.Redis.from_url(settings.REDIS_URL)
        keys = server.keys(f"{redis_cache['KEY_PREFIX']}:*")
        assert any(b":login:lock:user:" in key for key in keys)
        server.delete(*keys)


# --- Production settings --------------------------------------------------------------------------------------


def _production_env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "VIRTUAL_ENV")}
    env = {
        **base,
        "DJANGO_SETTINGS_MODULE": "salesmarketing.settings",
        "ENV_FILE": "",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(60),
        "ALLOWED_HOSTS": "crm.example.jp",
        **extra,
    }
    if os.environ.get("DATABASE_URL"):
        env["DATABASE_URL"] = os.environ["DATABASE_URL"]
    return env


def test_check_deploy_is_clean_with_production_settings():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=_production_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def _decided(env: dict[str, str]) -> dict:
    code = (
        "import json, django; from django.conf import settings as s; django.setup();"
        "print(json.dumps({n: getattr(s, n) for n in ('SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE',"
        "'SESSION_COOKIE_HTTPONLY', 'CSRF_COOKIE_HTTPONLY', 'SESSION_COOKIE_AGE', 'SECURE_SSL_REDIRECT',"
        "'SECURE_PROXY_SSL_HEADER', 'SECURE_HSTS_SECONDS', 'SECURE_HSTS_INCLUDE_SUBDOMAINS',"
        "'SECURE_HSTS_PRELOAD', 'X_FRAME_OPTIONS', 'SECURE_CROSS_ORIGIN_OPENER_POLICY')}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_production_defaults_are_https_only_and_configurable_behind_a_proxy():
    decided = _decided(_production_env())
    assert decided["SESSION_COOKIE_SECURE"] and decided["CSRF_COOKIE_SECURE"]
    assert decided["SESSION_COOKIE_HTTPONLY"] and decided["CSRF_COOKIE_HTTPONLY"]
    assert decided["SECURE_SSL_REDIRECT"] is True
    assert decided["SECURE_HSTS_SECONDS"] == 31536000 and decided["SECURE_HSTS_INCLUDE_SUBDOMAINS"]
    assert decided["SECURE_HSTS_PRELOAD"] is False  # opt-in
    assert decided["SESSION_COOKIE_AGE"] == 14 * 24 * 3600
    assert decided["SECURE_PROXY_SSL_HEADER"] is None
    assert (decided["X_FRAME_OPTIONS"], decided["SECURE_CROSS_ORIGIN_OPENER_POLICY"]) == (
        "DENY",
        "same-origin",
    )

    proxied = _decided(
        _production_env(SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto", SECURE_HSTS_SECONDS="600")
    )
    assert proxied["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert proxied["SECURE_HSTS_SECONDS"] == 600

    # Plain HTTP on purpose (docker compose on a laptop, the test suite): no redirect, no HSTS, no Secure cookies.
    plain = _decided(_production_env(SECURE_COOKIES="0"))
    assert not (
        plain["SECURE_SSL_REDIRECT"] or plain["SESSION_COOKIE_SECURE"] or plain["SECURE_HSTS_SECONDS"]
    )


# --- CSRF on every state-changing request ----------------------------------------------------------------------

# The only views that take unsafe methods without Django's CSRF token, and why.
CSRF_EXEMPT = {
    "capture:form_submit",  # posted by customers' sites: Origin checked against the form's allowed origins
    "capture:collect",  # the tracking snippet's page views (sendBeacon from customers' sites)
    "capture:unsubscribe",  # RFC 8058 one-click POST from mail clients (no cookie, no token); other POSTs refused
    # Email providers' webhooks (salesmarketing.esp): basic auth and the provider's signature instead; 404 until
    # ANYMAIL_WEBHOOK_SECRET is set (tests/nurture/test_mail_bounces.py)
    *(f"anymail:{p.name}" for p in anymail_urls.urlpatterns),
}
# The bearer-token API is csrf-exempt as a whole; it must refuse session cookies (checked below).
API_NAMESPACE = "api"
UNSAFE = ("post", "put", "patch", "delete")
# State-changing pages the walk must find, so that it cannot pass by finding nothing.
MUST_WALK = {
    "logout",
    "set_language",
    "notifications_read",
    "leads:handoff_accept",
    "leads:scoring_thresholds",
    "leads:import",
    "campaigns:cost_delete",
    "campaigns:rule_delete",
    "pipeline:deal_move",
    "pipeline:deal_close",
    "kpis:action_item_create",
    "api_keys:revoke",
    "admin:leads_lead_delete",
    "booking:rep",
    "booking:team",
    "booking:settings",
}


def _walk(patterns, converters=None, namespace=""):
    for entry in patterns:
        found = dict(converters or {})
        found.update(_converters(entry.pattern))
        if isinstance(entry, URLResolver):
            ns = ":".join(filter(None, [namespace, entry.namespace]))
            yield from _walk(entry.url_patterns, found, ns)
        elif isinstance(entry, URLPattern):
            yield entry, found, namespace


def _converters(pattern) -> dict[str, str]:
    if hasattr(pattern, "converters") and pattern.converters:
        return {name: type(conv).__name__ for name, conv in pattern.converters.items()}
    regex = getattr(pattern, "regex", None)
    return dict.fromkeys(regex.groupindex, "regex") if regex is not None else {}


def _first_pk(label: str) -> int:
    """The first existing row's id; 0 for a table the demo leaves empty (the URL still resolves to its view)."""
    pk = apps.get_model(label).objects.order_by("pk").values_list("pk", flat=True).first()
    return pk if pk is not None else 0


# The model behind each `pk` by URL name prefix (longest first), and behind other parameter names.
PK_MODELS = [
    ("leads:company_detail", "leads.Company"),
    ("leads:company_owner_change", "leads.Company"),
    ("leads:scoring_rule", "leads.ScoringRule"),
    ("leads:scoring_group", "leads.ScoringGroup"),
    ("leads:handoff_", "leads.Handoff"),
    ("leads:team", "salesmarketing.Team"),
    ("leads:import_", "leads.ImportJob"),
    ("leads:saved_view_", "leads.SavedView"),
    ("leads:bulk_job", "leads.BulkJob"),
    ("leads:", "leads.Lead"),
    ("campaigns:persona", "leads.Persona"),
    ("campaigns:rule_", "leads.Persona"),
    ("campaigns:", "leads.Campaign"),
    ("pipeline:task_done", "pipeline.Task"),
    ("reminders:item", "pipeline.Task"),
    ("integrations:webhook", "integrations.WebhookSubscription"),
    ("integrations:redeliver", "integrations.WebhookDelivery"),
    ("pipeline:activity_attachment", "pipeline.Activity"),
    ("pipeline:", "pipeline.Deal"),
    ("kpis:action_item_done", "kpis.ActionItem"),
    ("api_keys:", "salesmarketing.ApiKey"),
    ("custom_fields:", "leads.FieldDefinition"),
    ("nurture:segment", "nurture.Segment"),
    ("nurture:mail_template", "nurture.EmailTemplate"),
    ("nurture:mail_broadcast", "nurture.Broadcast"),
    ("quotes:product", "quotes.Product"),
    ("quotes:item_", "quotes.DealLineItem"),
    ("quotes:", "quotes.Quote"),
    ("nurture:sequence", "nurture.Sequence"),
]
PARAM_MODELS = {
    "lead_pk": "leads.Lead",
    "lead_id": "leads.Lead",
    "handoff_id": "leads.Handoff",
    "handoff_pk": "leads.Handoff",
    "rep_pk": "salesmarketing.User",
    "team_pk": "salesmarketing.Team",
    "attachment_pk": "pipeline.ActivityAttachment",
    "deal_id": "pipeline.Deal",
    "deal_pk": "pipeline.Deal",
    "quote_id": "quotes.Quote",
    "product_id": "quotes.Product",
    "item_id": "quotes.DealLineItem",
    "cost_pk": "campaigns.CampaignCost",
    "rule_pk": "campaigns.PersonaRule",
    "content_type_id": "contenttypes.ContentType",
    "segment_id": "nurture.Segment",
    "broadcast_id": "nurture.Broadcast",
    "template_id": "nurture.EmailTemplate",
    "sequence_id": "nurture.Sequence",
    "step_pk": "nurture.SequenceStep",
    "enrolment_pk": "nurture.Enrolment",
    "enrolment_id": "nurture.Enrolment",
    "company_id": "leads.Company",
    "campaign_id": "leads.Campaign",
}

# Parameters that name a kind, not a row: the admin's app, a reminder item's kind (reminders:item*); a booking
# page's address (booking:rep, booking:team: public, and CSRF-protected as they post to themselves).
FIXED_PARAMS = {"app_label": "leads", "kind": "task", "slug": "no-such-page"}


def _value(url_name: str, param: str, converter: str):
    if param == "pk":
        label = next(label for prefix, label in PK_MODELS if url_name.startswith(prefix))
        return _first_pk(label)
    if param in PARAM_MODELS:
        return _first_pk(PARAM_MODELS[param])
    if param == "object_id" and url_name == "admin:view_on_site":
        return _first_pk("salesmarketing.User")
    if param == "object_id":  # admin:<app>_<model>_<action>
        app_label, model, _action = url_name.split(":", 1)[1].rsplit("_", 2)
        return _first_pk(ContentType.objects.get(app_label=app_label, model=model).model_class()._meta.label)
    if param == "id":  # the admin's password change for a user
        return _first_pk("salesmarketing.User")
    if param in FIXED_PARAMS:
        return FIXED_PARAMS[param]
    if param == "site_key":
        return apps.get_model("leads.FormEndpoint").objects.order_by("pk").first().site_key
    if param == "key":
        return "opportunities_marketing_sourced"
    if param == "token":
        return "token"
    if (
        param == "action"
    ):  # a broadcast's (and a sequence's) pause; a step's action answers 404 after the CSRF check
        return "pause"
    if param == "rest":  # the API's JSON 404 for any other path
        return "no-such-endpoint"
    raise AssertionError(f"{url_name}: no value for the URL parameter {param!r}; add one to this test")


def _walked_urls() -> list[tuple[str, str]]:
    """(url name, path) for every named URL pattern, parameters filled with existing objects."""
    urls = []
    for pattern, converters, namespace in _walk(get_resolver().url_patterns):
        if not pattern.name:
            continue  # the admin's catch-all and object redirects: GET only, and covered by their named siblings
        name = f"{namespace}:{pattern.name}" if namespace else pattern.name
        # `other`: the second record of a merge, of the same kind as `pk`
        kwargs = {
            param: _value(name, "pk" if param == "other" else param, conv)
            for param, conv in converters.items()
        }
        urls.append((name, reverse(name, kwargs=kwargs)))
    return urls


def _is_csrf_failure(response) -> bool:
    # Django's CSRF failure page, in English ("CSRF verification failed") or Japanese ("CSRF検証に失敗…").
    return response.status_code == 403 and b"CSRF" in response.content


@pytest.fixture
def demo(db, settings):
    settings.DEBUG = True
    call_command("seed_demo", stdout=io.StringIO())
    settings.DEBUG = False
    from leads.models import ImportJob

    ImportJob.objects.create(file_name="leads.csv", file_sha256="0" * 64, content=b"email\n")
    return User.objects.get(username="admin")


def test_every_unsafe_request_without_a_token_is_refused_plain_and_htmx(demo):
    client = Client(enforce_csrf_checks=True, HTTP_ACCEPT_LANGUAGE="en")
    assert client.login(username="admin", password=DEMO_PASSWORD)
    urls = _walked_urls()
    assert {name for name, _path in urls} >= MUST_WALK

    unread = Notification.objects.filter(read_at__isnull=True).count()
    not_refused, api_answers = {}, {}
    for name, path in urls:
        for method in UNSAFE:
            for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
                response = getattr(client, method)(path, **headers)
                if name.startswith(API_NAMESPACE + ":"):
                    answer = "csrf" if _is_csrf_failure(response) else response.status_code
                    api_answers[f"{method.upper()} {path}"] = answer
                elif not _is_csrf_failure(response):
                    not_refused.setdefault(name, set()).add(response.status_code)

    assert set(not_refused) == CSRF_EXEMPT, not_refused
    # The API answers a logged-in browser's session with 401 (no bearer key) or 405, never with a write; its
    # schema and docs pages are not exempt at all; an unknown path under it is a JSON 404 whatever the method.
    unknown = {key: answer for key, answer in api_answers.items() if key.endswith("/api/v1/no-such-endpoint")}
    assert set(unknown.values()) == {404}, unknown
    known = {key: answer for key, answer in api_answers.items() if key not in unknown}
    assert set(known.values()) <= {401, 405, "csrf"}, known
    for write in ("POST /api/v1/events", "POST /api/v1/leads", "POST /api/v1/deals"):
        assert api_answers[write] == 401
    assert Notification.objects.filter(read_at__isnull=True).count() == unread  # nothing changed on the way
    assert client.session.get("_auth_user_id") == str(demo.pk)  # not even the logout


@pytest.mark.django_db
def test_htmx_posts_with_the_token_from_the_body_hx_headers_go_through(owner):
    notify(recipient=owner, title="新しい引き継ぎ")
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    page = client.get("/notifications/").content.decode()
    token = json.loads(re.search(r"<body hx-headers='([^']+)'", page).group(1))["X-CSRFToken"]

    refused = client.post("/notifications/read", HTTP_HX_REQUEST="true")
    assert _is_csrf_failure(refused)
    assert Notification.objects.filter(recipient=owner, read_at__isnull=True).count() == 1

    response = client.post("/notifications/read", HTTP_HX_REQUEST="true", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200 and 'id="bell"' in response.content.decode()
    assert Notification.objects.filter(recipient=owner, read_at__isnull=True).count() == 0
