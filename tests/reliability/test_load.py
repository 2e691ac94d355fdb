"""bench/load.py in a short form: real gunicorn and a real Celery worker on the test database; events, board moves
and full rescores for 15 seconds, then every consistency check the bench makes (it exits 1 on any inconsistency).

The full run is `uv run python bench/load.py --seconds 60`; here the load is small, because the suite shares the
machine, and a slow run is not a failure: only an inconsistency or an error is.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from leads.models import Lead, RescoreRun, Touch
from pipeline.models import Deal
from tests.conftest import require_or_skip

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.worker
@pytest.mark.serial  # a fixed 15 s window: next to the parallel run it ended before every endpoint was reached
@pytest.mark.django_db(transaction=True)
def test_a_short_mixed_load_ends_consistent():
    require_or_skip(
        connection.vendor == "postgresql", "the server, the worker and the bench share the test database"
    )
    require_or_skip(bool(settings.REDIS_URL), "REDIS_URL is not set, so there is no broker for the worker")
    db = settings.DATABASES["default"]
    url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"

    done = subprocess.run(
        [sys.executable, "bench/load.py", "--seconds", "15", "--database-url", url,
         "--redis-url", settings.REDIS_URL, "--no-migrate", "--event-threads", "2", "--board-threads", "2",
         "--batch", "40", "--leads", "150", "--deals", "20", "--web-workers", "2", "--worker-concurrency", "2",
         "--rescore-every", "5", "--drain-timeout", "25"],
        cwd=ROOT,
        env={**os.environ, "SECRET_KEY": "x" * 50},
        capture_output=True,
        text=True,
        timeout=100,
    )  # fmt: skip

    report = done.stdout + done.stderr
    assert done.returncode == 0, report
    assert "consistent: every event stored once" in done.stdout, report
    for endpoint in (
        "POST /api/v1/events",
        "GET /pipeline/",
        "POST /pipeline/deals/{id}/move/",
        "POST /leads/scoring/thresholds",
    ):
        assert endpoint in done.stdout, report
    # The load really reached the database: events from the run's key, leads scored by the worker, deals moved.
    touches = Touch.objects.filter(source__startswith="api:load-")
    assert touches.count() > 0
    assert not Lead.objects.filter(pk__in=touches.values("lead_id"), scored_at__isnull=True).exists()
    assert Deal.objects.filter(name__startswith="負荷商談", stage_changes__from_stage__isnull=False).exists()
    runs = RescoreRun.objects.all()  # the marketer's saves rescored everyone while the events came in
    assert runs.exists() and not runs.filter(finished_at__isnull=True).exists()
