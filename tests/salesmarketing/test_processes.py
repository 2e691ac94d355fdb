"""The production processes of docker-compose.yml (web on gunicorn, worker, beat), started for real."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from salesmarketing.tasks import ping
from tests.conftest import require_or_skip

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def process_env(transactional_db):
    require_or_skip(
        connection.vendor == "postgresql", "the processes share the test database: needs PostgreSQL"
    )
    require_or_skip(bool(settings.REDIS_URL), "REDIS_URL is not set")
    db = settings.DATABASES["default"]
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    url = f"postgres://{db['USER']}:{db['PASSWORD']}@{host}/{db['NAME']}"
    return {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": settings.REDIS_URL,
        "DEBUG": "0",
        "SECRET_KEY": "x" * 50,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_COOKIES": "0",
    }


def _stop(proc: subprocess.Popen) -> str:
    proc.terminate()
    try:
        out, _ = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out or ""


def test_gunicorn_serves_healthz_and_the_login_page(process_env):
    port = _free_port()
    proc = subprocess.Popen(
        [BIN / "gunicorn", "salesmarketing.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2"],
        cwd=ROOT,
        env=process_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        body = None
        for _ in range(60):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    body = json.loads(response.read())
                break
            except OSError:
                time.sleep(0.25)
        assert body == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=5) as response:
            html = response.read().decode()
        assert 'name="csrfmiddlewaretoken"' in html
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/static/css/app.css", timeout=5) as response:
            assert response.status == 200
    finally:
        _stop(proc)


def test_celery_worker_and_beat_processes_start_and_work(process_env, tmp_path):
    from salesmarketing.celery import app as celery_app

    celery_app.conf.task_always_eager = False
    worker = subprocess.Popen(
        [BIN / "celery", "-A", "salesmarketing", "worker", "--pool", "solo", "--loglevel", "INFO"],
        cwd=ROOT,
        env=process_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    beat = subprocess.Popen(
        [
            BIN / "celery",
            "-A",
            "salesmarketing",
            "beat",
            "--loglevel",
            "INFO",
            "--schedule",
            str(tmp_path / "beat-schedule"),
        ],
        cwd=ROOT,
        env=process_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert ping.delay().get(timeout=60) == "pong"
        time.sleep(2)
        assert beat.poll() is None, "beat exited early"
    finally:
        worker_log, beat_log = _stop(worker), _stop(beat)
    assert "salesmarketing.tasks.ping" in worker_log
    assert "beat: Starting" in beat_log
