"""Time from an event POST to an assigned handoff, with a real Celery worker on Redis.

    uv run python bench/handoff_latency.py [--size s] [--leads 50] [--database-url …] [--redis-url …]

Starts a worker process (`celery -A bench.worker worker --pool solo`) against the bench database, then for each
of --leads new leads posts one batch of events that makes it qualify (webinar attended + pricing pages + a
部長 title at a large manufacturer) to `POST /api/v1/events` and waits until its handoff has a rep. The floor is
the round trip of a no-op task (`bench.noop`) through the same broker and worker. Prints p50/p95 and writes
bench/results/handoff-latency-<size>.json. The database should hold data at the chosen size (bench/generate.py;
bench/run.py runs this as one figure of the whole suite).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project first: `bench.…`, then the apps
from bench.generate import SIZES, default_url, ensure_database, setup_django  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"


def flush_broker(redis_url: str) -> None:
    """Drop the queued tasks: those queued while no worker ran (ingest, rescore) are not this figure. Only the
    queue is purged, so a shared Redis database (the test suite's) loses nothing else."""
    from salesmarketing.celery import app

    app.control.purge()


def start_worker(
    database_url: str,
    redis_url: str,
    *,
    queues: str = "realtime,ingest,bulk,email",
    name: str = "bench",
    extra_env=None,
    nice: int = 0,
) -> subprocess.Popen:
    """One solo-pool worker on `queues` (all but integrations by default, as a worker without -Q); under `nice -n
    <nice>` when given, as docker-compose starts the ingest, bulk and email workers."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
        "ENV_FILE": "",
        "DEBUG": "0",
        "DJANGO_SETTINGS_MODULE": "salesmarketing.settings",
        "PYTHONPATH": str(ROOT),
        **(extra_env or {}),
    }
    return subprocess.Popen(
        [*(["nice", "-n", str(nice)] if nice else []),
         str(Path(sys.executable).parent / "celery"), "-A", "bench.worker", "worker", "--pool", "solo",
         "-Q", queues, "--hostname", f"{name}@%h",
         "--loglevel", "WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip


def stop_worker(worker: subprocess.Popen) -> None:
    worker.terminate()
    try:
        worker.wait(20)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait(5)


def floor_samples(n: int, *, timeout: float = 60) -> list[float]:
    """Round trips of `bench.noop`; the first (waiting for the worker to come up) is not counted."""
    from bench.worker import noop

    noop.delay().get(timeout=timeout)
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        noop.delay().get(timeout=10)
        samples.append(time.perf_counter() - started)
    return samples


def prepare() -> str:
    """Default scoring, reps with room for handoffs, and an API key; returns the key."""
    from leads.scoring.defaults import ensure_default_scoring
    from salesmarketing.models import Team, User
    from salesmarketing.services import api_key_create, user_create

    ensure_default_scoring()
    team = Team.objects.filter(kind=Team.Kind.SALES).order_by("id").first()  # where unrouted handoffs go
    if team is None:
        team = Team.objects.create(name="bench sales", kind=Team.Kind.SALES)
    if not User.objects.filter(team=team, role=User.Role.SALES).exists():
        for i in range(3):
            user_create(username=f"bench-rep{i}", password="x" * 12, role="sales", team=team)
    User.objects.filter(team=team).update(handoff_capacity=10_000, away_until=None)
    _, key = api_key_create(name="bench", source=f"bench-{int(time.time() * 1000)}")
    return key


def handoff_samples(
    n: int, key: str, *, warmup: int = 1, timeout: float = 30, stages: list[dict] | None = None
) -> tuple[list[float], int]:
    """Seconds from posting the qualifying events of a new lead to its handoff having a rep, for n leads (after
    `warmup` leads that are not counted: the worker's first scoring task imports and connects), and the number of
    queries of the last event POST (the request only; the worker's are not counted). `stages`, when given, gets
    each counted lead's time split by the handoff's own timestamps (STAGES)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from leads.models import Handoff

    client = Client()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    run = int(time.time() * 1000)
    latencies = []
    for i in range(warmup + n):
        email = f"bench-{run}-{i}@bench-big.example.jp"
        response = client.post(
            "/api/v1/leads",
            {"email": email, "title": "製造部 部長", "company": "ベンチ精機", "company_domain": "bench-big.example.jp",
             "employee_count": 2000, "industry": "manufacturing"},
            content_type="application/json", **auth,
        )  # fmt: skip
        assert response.status_code in (200, 201), response.content
        lead_id = response.json()["id"]
        events = [{"id": f"{run}-{i}-w", "type": "webinar_attended", "email": email}] + [
            {
                "id": f"{run}-{i}-p{j}",
                "type": "page_view",
                "email": email,
                "url": "https://www.example.jp/pricing",
            }
            for j in range(3)
        ]
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as queries:
            response = client.post(
                "/api/v1/events", {"events": events}, content_type="application/json", **auth
            )
        assert response.status_code == 202, response.content
        posted, answered = time.perf_counter() - started, timezone.now()
        deadline = started + timeout
        while not Handoff.objects.filter(lead_id=lead_id, owner__isnull=False).exists():
            if time.perf_counter() > deadline:
                raise RuntimeError(f"no handoff for {email} after {timeout:.0f} s")
            time.sleep(0.005)
        if i >= warmup:
            latencies.append(time.perf_counter() - started)
            if stages is not None:
                seen = timezone.now()
                mql_at, assigned_at = Handoff.objects.values_list("mql_at", "assigned_at").get(
                    lead_id=lead_id
                )
                stages.append(
                    {
                        "post": posted,
                        "to_worker": (mql_at - answered).total_seconds(),
                        "score_and_assign": (assigned_at - mql_at).total_seconds(),
                        "seen": (seen - assigned_at).total_seconds(),
                    }
                )
    return latencies, len(queries)


# What a lead's time is split into (handoff_samples' `stages`): the event POST until its answer (in the bench's
# process); from the answer to the scoring task's start (the broker, a free realtime worker, the lead's awareness
# stage: the handoff's mql_at is taken as scoring starts); scoring, the MQL flip and the assignment (to its
# assigned_at); from then until the bench sees the rep (commit, and its polling every 5 ms).
STAGES = {
    "post": "event POST, until answered",
    "to_worker": "answer → scoring starts (broker, a free worker, awareness)",
    "score_and_assign": "scoring, MQL flip and assignment",
    "seen": "assigned → seen (commit, polling)",
}


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", choices=SIZES, default="s")
    parser.add_argument("--leads", type=int, default=50)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/8"))
    args = parser.parse_args(argv)
    url = args.database_url or default_url(args.size)
    ensure_database(url)
    os.environ["REDIS_URL"] = args.redis_url
    os.environ["ALLOWED_HOSTS"] = "testserver"
    setup_django(url)
    from django.core.management import call_command

    from leads.models import Lead

    call_command("migrate", verbosity=0)
    key = prepare()
    flush_broker(args.redis_url)
    worker = start_worker(url, args.redis_url)
    try:
        floor = floor_samples(max(5, args.leads // 2))
        latencies, _queries = handoff_samples(args.leads, key)
    finally:
        stop_worker(worker)
    p50, p95 = statistics.median(latencies), percentile(latencies, 0.95)
    result = {
        "figure": "event POST → assigned handoff (one worker, solo pool)",
        "date": dt.date.today().isoformat(),
        "size": args.size,
        "leads_in_database": Lead.objects.count(),
        "samples": len(latencies),
        "p50_seconds": p50,
        "p95_seconds": p95,
        "max_seconds": max(latencies),
        "floor_p50_seconds": statistics.median(floor),
        "floor_p95_seconds": percentile(floor, 0.95),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"handoff-latency-{args.size}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"event → handoff over {len(latencies)} leads: p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms "
        f"(floor, a no-op task's round trip: p50 {result['floor_p50_seconds'] * 1000:.0f} ms)"
    )


if __name__ == "__main__":
    main()
