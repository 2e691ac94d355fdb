"""bench/ingest.py still runs: a tiny batch through gunicorn on the test database (the real figure comes from
running the bench by hand; a benchmark never fails a test run for being slow)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from leads.models import Touch
from tests.conftest import require_or_skip

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db(transaction=True)
def test_the_ingest_benchmark_runs_at_a_tiny_size():
    require_or_skip(connection.vendor == "postgresql", "the benchmark runs against PostgreSQL")
    db = settings.DATABASES["default"]
    url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    done = subprocess.run(
        [sys.executable, "bench/ingest.py", "--events", "300", "--batch", "100", "--concurrency", "2",
         "--workers", "1", "--database-url", url, "--no-migrate"],
        cwd=ROOT,
        env={**os.environ, "REDIS_URL": settings.REDIS_URL or ""},
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "events/second" in done.stdout
    assert "replay of one batch: 100 duplicates, 0 accepted" in done.stdout
    assert Touch.objects.filter(source="api:bench").count() >= 300
