"""The shared cache's Redis is down: capture and login keep answering, and their limits still hold.

The cache is the production one (salesmarketing.cache.RedisCacheWithFallback, a real Django RedisCache) pointed
at a port where nothing listens, so every call meets a real `redis.ConnectionError`; nothing is mocked. The same
with the Celery broker down too, through gunicorn and DEBUG=0, is in test_faults.py
(`test_forms_tracking_and_login_work_while_redis_is_down`).
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from django.core.cache import cache
from django.core.cache.backends.redis import RedisCache
from django.test import override_settings

from leads.models import Lead, Touch
from leads.privacy import unsubscribe_path
from leads.tracking import email_click_path, email_open_path
from salesmarketing import cache as fallback_cache
from salesmarketing.services import api_key_create
from tests.leads.factories import FormEndpointFactory, make_lead

ROOT = Path(__file__).resolve().parents[2]
LOGIN = "/accounts/login/"
SITE = "https://www.customer.co.jp"
LOCKED = re.compile(r"^Too many failed login attempts\. Please try again after \d\d:\d\d\.$")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dead_redis_url():
    return f"redis://127.0.0.1:{_closed_port()}/1"


@pytest.fixture
def dead_cache(dead_redis_url):
    """The default cache as production configures it with CACHE_URL, on a Redis that does not answer."""
    fallback_cache._down_until.clear()
    with override_settings(
        CACHES={
            "default": {
                "BACKEND": "salesmarketing.cache.RedisCacheWithFallback",
                "LOCATION": dead_redis_url,
                "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
            }
        }
    ):
        cache.clear()
        fallback_cache._down_until.clear()  # each test meets the outage afresh (and logs it)
        yield
        cache.clear()
    fallback_cache._down_until.clear()


def test_the_port_is_really_dead_for_a_plain_redis_cache(dead_redis_url):
    """What the views met before: Django's RedisCache raises, so every rate-limited request was a 500."""
    plain = RedisCache(dead_redis_url, {})
    with pytest.raises(redis.ConnectionError):
        plain.add("leads:rate:form:203.0.113.7:1", 1, timeout=90)


@pytest.mark.django_db
@override_settings(LEADS_FORM_RATE_PER_MINUTE=3)
def test_the_public_form_stores_submissions_and_still_limits_while_the_cache_is_down(
    dead_cache, client, caplog
):
    FormEndpointFactory(site_key="wp", redirect_url=f"{SITE}/thanks", allowed_origins=SITE)
    with caplog.at_level(logging.WARNING, logger="salesmarketing.cache"):
        statuses = [
            client.post("/f/wp", {"email": f"r{i}@example.jp"}, HTTP_ORIGIN=SITE).status_code
            for i in range(5)
        ]
    assert statuses == [303, 303, 303, 429, 429]  # the limit holds, counted in this process
    assert Lead.objects.count() == 3
    # Logged once for the outage, not once per request.
    warnings = [r for r in caplog.records if r.name == "salesmarketing.cache"]
    assert len(warnings) == 1 and "Cache unavailable" in warnings[0].getMessage()
    assert "ConnectionError" in warnings[0].getMessage()


@pytest.mark.django_db
@override_settings(LEADS_COLLECT_RATE_PER_MINUTE=2)
def test_the_collector_records_and_still_limits_while_the_cache_is_down(dead_cache, client):
    page = "https://www.customer.co.jp/pricing"
    statuses = [
        client.get("/t/collect", {"vid": "v1.abc", "url": page, "eid": f"e{i}"}).status_code for i in range(3)
    ]
    assert statuses == [200, 200, 429]
    assert Touch.objects.count() == 2


@pytest.mark.django_db
def test_pixel_click_unsubscribe_and_events_api_answer_while_the_cache_is_down(dead_cache, client):
    lead = make_lead("reader@example.jp", consent_email=True)
    pixel = client.get(email_open_path(lead_id=lead.pk, message_id="m1"))
    assert pixel.status_code == 200 and pixel["Content-Type"] == "image/gif"
    target = "https://www.customer.co.jp/case"
    click = client.get(email_click_path(lead_id=lead.pk, url=target, message_id="m1"))
    assert click.status_code == 302 and click["Location"] == target
    assert client.post(unsubscribe_path(lead_id=lead.pk)).status_code == 200
    lead.refresh_from_db()
    assert lead.unsubscribed_at is not None

    _key, token = api_key_create(name="site", source="site")
    response = client.post(
        "/api/v1/events",
        json.dumps({"events": [{"id": "e-1", "type": "page_view", "email": "reader@example.jp"}]}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 202, response.content
    assert response.json()["accepted"] == 1
    assert set(Touch.objects.filter(lead=lead).values_list("type", flat=True)) == {
        "email_open",
        "email_click",
        "page_view",
        "unsubscribe",
    }


def _try(client, username: str, password: str):
    return client.post(LOGIN, {"username": username, "password": password}, HTTP_ACCEPT_LANGUAGE="en")


@pytest.mark.django_db
def test_login_works_and_still_locks_while_the_cache_is_down(dead_cache, client, owner):
    response = _try(client, "owner", "pw-for-tests-1")
    assert response.status_code == 302
    # The page after login reads cached KPI values: a miss, computed afresh, not a 500.
    assert client.get(response["Location"]).status_code == 200
    client.logout()

    for _ in range(4):
        assert _try(client, "owner", "guess").status_code == 200
    locked = _try(client, "owner", "guess")
    assert [str(e) for e in locked.context["form"].non_field_errors()][0].startswith("Too many failed")
    still_locked = _try(client, "owner", "pw-for-tests-1")  # the right password waits for the lock too
    assert LOCKED.match(str(still_locked.context["form"].non_field_errors()[0]))
    assert "_auth_user_id" not in client.session


def test_with_cache_url_set_the_settings_use_the_cache_that_falls_back():
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "VIRTUAL_ENV")}
    env |= {"ENV_FILE": "", "DEBUG": "1", "CACHE_URL": "redis://127.0.0.1:6390/1"}
    code = "import json; from salesmarketing import settings as s;print(json.dumps(s.CACHES['default']))"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    default = json.loads(result.stdout)
    assert default["BACKEND"] == "salesmarketing.cache.RedisCacheWithFallback"
    assert default["LOCATION"] == "redis://127.0.0.1:6390/1"
    assert default["OPTIONS"]["socket_connect_timeout"] <= 2  # an unreachable host cannot hold a request long
