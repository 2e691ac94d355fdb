"""The benchmark suite still runs: bench/run.py end to end at a shrunken size s (--quick --repeat 2), on its own
PostgreSQL database (the test database's name + `_bench`, dropped afterwards) with a real worker on Redis. The
figures themselves come from running the suite by hand; a benchmark never fails a test run for being slow, only
for not producing every figure beside its floor."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.conftest import require_or_skip

ROOT = Path(__file__).resolve().parents[2]
# lead list, lead detail, board, forecast, deal detail, campaign list, marketing dashboard, KPI ×3, weekly review,
# search ×3, and dragging a card on the board
PAGES = 15


def _bench_database_url() -> str:
    db = settings.DATABASES["default"]
    name = db["NAME"]
    if name.startswith("test_"):  # the test database when another test has set it up
        name = name[len("test_") :]
    auth = urllib.parse.quote(db["USER"] or "postgres")
    if db.get("PASSWORD"):
        auth += ":" + urllib.parse.quote(db["PASSWORD"])
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}_bench"


def test_the_benchmark_suite_runs_end_to_end_at_a_tiny_size(tmp_path):
    require_or_skip(
        connection.vendor == "postgresql", "the benchmarks measure PostgreSQL; DATABASE_URL is not PostgreSQL"
    )
    require_or_skip(
        bool(settings.REDIS_URL), "REDIS_URL is not set: the event → handoff figure needs a worker on Redis"
    )
    sys.path.insert(0, str(ROOT))
    from bench.generate import drop_database

    url = _bench_database_url()
    try:
        done = subprocess.run(
            [sys.executable, "bench/run.py", "--size", "s", "--quick", "--repeat", "2", "--database-url", url,
             "--redis-url", settings.REDIS_URL, "--results-dir", str(tmp_path)],
            cwd=ROOT,
            env={k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
            capture_output=True,
            text=True,
            timeout=600,  # 15 pages now (the deal page and a drag added); a busy 2-core machine took > 300 s
        )  # fmt: skip
    finally:
        drop_database(url)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads((tmp_path / "s-quick.json").read_text())
    assert (tmp_path / "s-quick.md").read_text().count(
        "\n| "
    ) == 1 + 4 + PAGES  # the header and a row per figure
    keys = [figure["key"] for figure in result["figures"]]
    assert keys[0] == "rescore" and {"segment_count", "ingest", "handoff"} <= set(keys)
    assert sum(key.startswith("page:") for key in keys) == PAGES
    for figure in result["figures"]:
        for value in (figure["median"], figure["p95"], figure["floor"]["median"], figure["ratio"]):
            assert isinstance(value, float) and value > 0, figure
        assert isinstance(figure["queries"], int), figure
        assert figure["met"] in (True, False), figure
    assert result["query_counts"] == {figure["key"]: figure["queries"] for figure in result["figures"]}
    for key in ("cores", "ram_gb", "postgres"):
        assert result["machine"][key]
    assert result["data"]["leads"] > 0 and result["data"]["touches"] > 10 * result["data"]["leads"] * 0.8
    assert result["generation_seconds"] > 0


@pytest.mark.parametrize("sink", ["aiosmtpd", "smtp-sink"])
def test_the_mail_benchmark_runs_end_to_end(tmp_path, sink):
    """bench/mail.py at 300 recipients: the broadcast sent in full to the sink, its floor, the enrolment."""
    require_or_skip(
        connection.vendor == "postgresql", "the benchmarks measure PostgreSQL; DATABASE_URL is not PostgreSQL"
    )
    sys.path.insert(0, str(ROOT))
    from bench.generate import drop_database
    from bench.mail import SMTP_SINK

    require_or_skip(sink == "aiosmtpd" or SMTP_SINK, "Postfix's smtp-sink is not installed (Debian: postfix)")
    url = _bench_database_url() + "_mail"
    try:
        done = subprocess.run(
            [sys.executable, "bench/mail.py", "--recipients", "300", "--sink", sink, "--database-url", url,
             "--results-dir", str(tmp_path)],
            cwd=ROOT,
            env={k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
            capture_output=True,
            text=True,
            timeout=300,
        )  # fmt: skip
    finally:
        drop_database(url)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    suffix = "" if sink == "smtp-sink" else f"-{sink}"
    result = json.loads((tmp_path / f"mail-300{suffix}.json").read_text())
    broadcast, enrolment = result["figures"]
    assert result["sink"] == sink
    assert broadcast["sent"] == 300 and broadcast["rate"] > 0 and broadcast["floor"]["rate"] > 0
    assert enrolment["enrolled"] == 300 and enrolment["seconds"] > 0
    assert broadcast["met"] is None and enrolment["met"] is None  # the targets are for 100,000
