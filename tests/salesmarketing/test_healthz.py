import json
import os
import secrets
import subprocess
import sys

import pytest
from django.test import override_settings


@pytest.mark.django_db
def test_healthz_reports_database_and_broker(client, settings):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"] == ("ok" if settings.REDIS_URL else "in-process")


@pytest.mark.django_db
@override_settings(REDIS_URL="redis://127.0.0.1:1/0")
def test_healthz_says_when_the_broker_is_down_but_still_serves(client):
    body = client.get("/healthz").json()
    assert body["checks"]["broker"] == "error"
    assert body["status"] == "ok"


def test_healthz_is_503_when_the_database_does_not_answer():
    """A real app process pointed at a PostgreSQL port where nothing listens."""
    code = (
        "import django, json; django.setup();"
        "from django.test import Client;"
        "r = Client().get('/healthz');"
        "print(r.status_code, json.dumps(r.json()))"
    )
    env = {
        **os.environ,
        "DATABASE_URL": "postgres://postgres@127.0.0.1:1/nowhere",
        "DJANGO_SETTINGS_MODULE": "salesmarketing.settings",
        "ALLOWED_HOSTS": "testserver",
        "SECRET_KEY": secrets.token_urlsafe(50),  # DEBUG is off: the process needs a real key
    }
    env.pop("REDIS_URL", None)
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    status, body = result.stdout.strip().split(" ", 1)
    assert status == "503"
    assert json.loads(body) == {"status": "error", "checks": {"database": "error", "broker": "in-process"}}
