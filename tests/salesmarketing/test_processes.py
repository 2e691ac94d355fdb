"""The production processes of docker-compose.yml (web on gunicorn, worker, beat), started for real."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from salesmarketing.tasks import ping, purge_old_notifications
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


def _celery(process_env, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [BIN / "celery", "-A", "salesmarketing", *args, "--loglevel", "INFO"],
        cwd=ROOT,
        env=process_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_celery_workers_per_queue_and_beat_processes_start_and_work(process_env, tmp_path):
    """As docker-compose.yml runs them: a worker per queue (realtime, bulk; email is the same command), and beat.
    Each worker takes only its queue's tasks. Beat is started twice, as by mistake: the sweep (every 2 s here)
    still runs once per slot, because each run is claimed in the database before it is sent."""
    import redis

    from salesmarketing.celery import app as celery_app
    from salesmarketing.models import PeriodicRun

    celery_app.conf.task_always_eager = False
    env = {**process_env, "SWEEP_INTERVAL_SECONDS": "2"}
    realtime = _celery(env, "worker", "--pool", "solo", "-Q", "realtime", "--hostname", "rt@%h")
    bulk = _celery(env, "worker", "--pool", "solo", "-Q", "bulk", "--hostname", "bulk@%h")
    beats = [_celery(env, "beat", "--schedule", str(tmp_path / f"beat-{i}")) for i in (1, 2)]
    sweeps = PeriodicRun.objects.filter(name="sweep-lost-work")
    try:
        assert ping.delay().get(timeout=60) == "pong"
        assert purge_old_notifications.delay(90).get(timeout=60) == 0
        deadline = time.monotonic() + 60
        while sweeps.count() < 3 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert all(beat.poll() is None for beat in beats), "beat exited early"
        beat_logs = [_stop(beat) for beat in beats]  # no more sends; let the worker finish what was sent
        broker = redis.Redis.from_url(settings.REDIS_URL)
        deadline = time.monotonic() + 30
        while (broker.llen("bulk") or broker.hlen("unacked")) and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(1)
    finally:
        for beat in beats:
            if beat.returncode is None:
                beat.kill()
        realtime_log, bulk_log = _stop(realtime), _stop(bulk)
    # "Task <name>[<id>] received": each task ran on its own queue's worker only.
    assert "salesmarketing.tasks.ping[" in realtime_log and "salesmarketing.tasks.ping[" not in bulk_log
    assert "purge_old_notifications[" in bulk_log and "purge_old_notifications[" not in realtime_log
    assert all("beat: Starting" in log for log in beat_logs)
    # Two beats, one sweep per claimed slot: the worker ran exactly as many sweeps as there are claims.
    assert sweeps.count() >= 3
    assert len(re.findall(r"leads\.tasks\.sweep\[[^\]]+\] received", bulk_log)) == sweeps.count()


def test_the_mail_receiver_stores_what_it_accepts_and_stops_on_sigterm(process_env):
    """docker-compose's mail-receiver: `manage.py receive_mail`, an SMTP listener that keeps each message once."""
    import smtplib

    from salesmarketing.models import InboundEmail

    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "receive_mail", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env={**process_env, "INBOUND_EMAIL_DOMAINS": "mail.example.jp"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        for _ in range(60):
            try:
                smtp = smtplib.SMTP("127.0.0.1", port, timeout=5)
                break
            except OSError:
                time.sleep(0.25)
        message = b"Message-ID: <receiver-test@example.net>\r\nSubject: test\r\n\r\nbody\r\n"
        with smtp:
            assert smtp.sendmail("", ["bounces@mail.example.jp"], message) == {}
            assert smtp.sendmail("", ["bounces@mail.example.jp"], message) == {}  # the same message again
        stored = InboundEmail.objects.get()
        assert (stored.message_key, stored.source, stored.size) == (
            "receiver-test@example.net",
            "smtp",
            len(message),
        )
    finally:
        out = _stop(proc)
    assert proc.returncode == 0, out
