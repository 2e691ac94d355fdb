"""A worker or web pool started under `nice` (the ingest, bulk and email workers and the web-ingest pool in
docker-compose) runs its database queries at the same niceness, through PostgreSQL's prioritize extension: its
backends are processes of their own, which `nice` on the process does not reach (salesmarketing.priority)."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from tests.conftest import require_or_skip

ROOT = Path(__file__).resolve().parents[2]
# What a worker's main process does at start (Celery's worker_init signal), or a web process (gunicorn's worker
# loads the WSGI application), then a connection and what it reports.
WORKER = """
import django
django.setup()
from celery import signals
from salesmarketing.celery import app
signals.worker_init.send(sender=app)
"""
WEB = """
import salesmarketing.wsgi
"""
REPORT = """
import json, os
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("SELECT get_backend_priority(pg_backend_pid())")
    backend = cursor.fetchone()[0]
print(json.dumps({"process": os.getpriority(os.PRIO_PROCESS, 0), "backend": backend}))
"""


def _prioritize_installed() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM pg_available_extensions WHERE name = 'prioritize'")
        return cursor.fetchone()[0] == 1


def _run_start(start: str, *prefix: str) -> dict:
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {**os.environ, "DATABASE_URL": url, "DATABASE_REPLICA_URL": "", "PYTHONPATH": str(ROOT),
           "DJANGO_SETTINGS_MODULE": "salesmarketing.settings", "DEBUG": "0",
           "SECRET_KEY": secrets.token_urlsafe(50)}  # a worker's settings: DEBUG off needs a long key  # fmt: skip
    result = subprocess.run(
        [*prefix, sys.executable, "-c", start + REPORT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("start", [WORKER, WEB], ids=["worker", "web"])
def test_a_process_started_under_nice_runs_its_queries_at_that_niceness(start):
    require_or_skip(connection.vendor == "postgresql", "backend priorities are PostgreSQL's")
    require_or_skip(
        _prioritize_installed(),
        "PostgreSQL's prioritize extension is not installed (Debian: postgresql-<version>-prioritize)",
    )
    with connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS prioritize")  # as a superuser does once per database

    assert _run_start(start, shutil.which("nice") or "nice", "-n", "10") == {"process": 10, "backend": 10}
    # One started without `nice` (the realtime worker, the web pool for pages) leaves its backends at the normal
    # priority.
    assert _run_start(start) == {"process": 0, "backend": 0}
