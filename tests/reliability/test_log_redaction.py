"""Searches, emails and names typed into URLs never reach a log line: gunicorn's access log (the production web
process, started for real), runserver's request log and the app's own log lines (salesmarketing/redact.py)."""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from salesmarketing.redact import redact, redact_query

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
EMAIL = "taro.yamada@example.co.jp"
CONFIGURED = ("console", "django.server")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "GET /leads/?q=taro.yamada%40example.co.jp&lifecycle=mql&page=2 HTTP/1.1",
            "GET /leads/?q=[redacted]&lifecycle=mql&page=2 HTTP/1.1",
        ),
        ("/leads/export.csv?sort=name&q=%E5%B1%B1%E7%94%B0", "/leads/export.csv?sort=name&q=[redacted]"),
        ("/admin/leads/lead/?q=yamada&o=1", "/admin/leads/lead/?q=[redacted]&o=1"),
        ("/api/v1/leads?email=taro%40example.jp", "/api/v1/leads?email=[redacted]"),
        # a landing page's own query, inside the tracking collector's url= parameter
        (
            "/t/collect?vid=v1&url=https%3A%2F%2Fx.jp%2Flp%3Fmail%3Dtaro%2540example.jp",
            "/t/collect?vid=v1&url=[redacted]",
        ),
        (
            "database unavailable for GET /leads/ (taro@example.jp)",
            "database unavailable for GET /leads/ ([redacted])",
        ),
        ("GET /leads/?lifecycle=mql&owner=me HTTP/1.1", "GET /leads/?lifecycle=mql&owner=me HTTP/1.1"),
    ],
)
def test_searches_and_emails_are_redacted_and_other_filters_kept(line, expected):
    assert redact(line) == expected


def test_a_bare_query_string_is_redacted():
    assert redact_query("q=taro&page=2") == "q=[redacted]&page=2"
    assert redact_query("") == ""


@contextmanager
def _captured(logger_name: str):
    """What the handlers LOGGING configured for this logger write, read from a buffer."""
    logger = logging.getLogger(logger_name)
    # LOGGING's own handlers (by name), not the ones pytest adds to capture logs
    handlers = [h for h in logger.handlers or logging.getLogger().handlers if h.get_name() in CONFIGURED]
    assert handlers
    stream = io.StringIO()
    previous = [handler.setStream(stream) for handler in handlers]
    try:
        yield stream
    finally:
        for handler, old in zip(handlers, previous, strict=True):
            handler.setStream(old)


def test_runserver_request_lines_are_redacted():
    with _captured("django.server") as out:
        # what django.core.servers.basehttp.WSGIRequestHandler.log_message logs for each request
        logging.getLogger("django.server").info(
            '"%s" %s %s', f"GET /leads/?q={EMAIL}&lifecycle=mql HTTP/1.1", "200", "5120"
        )

    assert "lifecycle=mql" in out.getvalue()
    assert "taro" not in out.getvalue() and "q=[redacted]" in out.getvalue()


def test_app_log_lines_are_redacted():
    with _captured("leads.services") as out:
        logging.getLogger("leads.services").warning("lookup for %s at %s failed", EMAIL, "/leads/?q=山田")

    assert EMAIL not in out.getvalue() and "山田" not in out.getvalue()
    assert "lookup for [redacted] at /leads/?q=[redacted] failed" in out.getvalue()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _deployed_command(port: int) -> list[str]:
    """The Dockerfile's CMD, bound to a free port with one worker."""
    line = next(x for x in (ROOT / "Dockerfile").read_text().splitlines() if x.startswith("CMD "))
    command = json.loads(line.removeprefix("CMD "))
    command[command.index("--bind") + 1] = f"127.0.0.1:{port}"
    command[command.index("--workers") + 1] = "1"
    return [str(BIN / command[0]), *command[1:]]


def test_docker_compose_serves_with_the_same_logger_as_the_dockerfile():
    assert "--logger-class salesmarketing.redact.GunicornLogger" in (ROOT / "docker-compose.yml").read_text()


def test_gunicorn_as_deployed_redacts_its_access_log():
    """The Dockerfile's command, run for real: its logger class redacts the access log."""
    port = _free_port()
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "x" * 50,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_COOKIES": "0",
    }
    proc = subprocess.Popen(
        _deployed_command(port),
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/leads/?q=taro.yamada%40example.co.jp&lifecycle=mql"
    request = urllib.request.Request(
        url, headers={"Referer": f"http://127.0.0.1:{port}/leads/?q=%E5%B1%B1%E7%94%B0"}
    )
    try:
        for _ in range(80):
            try:
                urllib.request.urlopen(request, timeout=2)  # anonymous: redirected to the login page
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                time.sleep(0.25)
        time.sleep(0.5)
    finally:
        proc.terminate()
        try:
            out, _ = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()

    access = [line for line in out.splitlines() if "GET /leads/" in line]
    assert access, out
    assert "q=[redacted]&lifecycle=mql" in access[0]
    assert "taro" not in out and "%E5%B1%B1" not in out  # neither the request nor its Referer
