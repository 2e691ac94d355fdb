"""Time from an event POST to an assigned handoff, with a real Celery worker on Redis.

    uv run python bench/handoff_latency.py [--size s] [--leads 50] [--database-url …] [--redis-url …]

Starts a worker process (`celery -A salesmarketing worker --pool solo`) against the bench database, then for each
of --leads new leads posts one batch of events that makes it qualify (webinar attended + pricing pages + a
部長 title at a large manufacturer) to `POST /api/v1/events` and waits until its handoff has a rep. Prints p50/p95
and writes bench/results/handoff-latency-<size>.json. The database should hold data at the chosen size
(bench/generate.py) so that the worker scores against realistic tables.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import SIZES, ensure_database, setup_django  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", choices=SIZES, default="s")
    parser.add_argument("--leads", type=int, default=50)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/8"))
    args = parser.parse_args(argv)
    url = args.database_url or f"postgres://postgres@127.0.0.1:5432/sm_bench_{args.size}"
    ensure_database(url)
    os.environ["REDIS_URL"] = args.redis_url
    os.environ["ALLOWED_HOSTS"] = "testserver"
    setup_django(url)
    from django.core.management import call_command
    from django.test import Client

    from leads.models import Handoff, Lead
    from leads.scoring.defaults import ensure_default_scoring
    from salesmarketing.models import Team, User
    from salesmarketing.services import api_key_create, user_create

    call_command("migrate", verbosity=0)
    ensure_default_scoring()
    team, _ = Team.objects.get_or_create(name="bench sales", defaults={"kind": "sales"})
    for i in range(3):
        if not User.objects.filter(username=f"bench-rep{i}").exists():
            user_create(username=f"bench-rep{i}", password="x" * 12, role="sales", team=team)
    User.objects.filter(team=team).update(handoff_capacity=10_000)
    _, key = api_key_create(name="bench", source=f"bench-{int(time.time())}")
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": args.redis_url,
        "SECRET_KEY": "bench",
        "ENV_FILE": "",
    }
    worker = subprocess.Popen(
        [str(Path(sys.executable).parent / "celery"), "-A", "salesmarketing", "worker", "--pool", "solo", "--loglevel", "WARNING"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip
    client = Client()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    run = int(time.time())
    latencies = []
    try:
        time.sleep(5)  # the worker connects
        for i in range(args.leads):
            email = f"bench-{run}-{i}@bench-big.example.jp"
            client.post(
                "/api/v1/leads",
                {"email": email, "title": "製造部 部長", "company": "ベンチ精機", "company_domain": "bench-big.example.jp",
                 "employee_count": 2000, "industry": "manufacturing"},
                content_type="application/json", **auth,
            )  # fmt: skip
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
            response = client.post(
                "/api/v1/events", {"events": events}, content_type="application/json", **auth
            )
            assert response.status_code == 202, response.content
            lead_id = Lead.objects.only("id").get(email=email).pk
            deadline = started + 30
            while not Handoff.objects.filter(lead_id=lead_id, owner__isnull=False).exists():
                if time.perf_counter() > deadline:
                    raise SystemExit(f"no handoff for {email} after 30 s")
                time.sleep(0.005)
            latencies.append(time.perf_counter() - started)
    finally:
        worker.terminate()
        worker.wait(20)
    latencies.sort()
    p50 = statistics.median(latencies)
    p95 = latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))]
    result = {
        "figure": "event POST → assigned handoff (one worker, solo pool)",
        "date": dt.date.today().isoformat(),
        "size": args.size,
        "leads_in_database": Lead.objects.count(),
        "samples": len(latencies),
        "p50_seconds": p50,
        "p95_seconds": p95,
        "max_seconds": latencies[-1],
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"handoff-latency-{args.size}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"event → handoff over {len(latencies)} leads: p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms")


if __name__ == "__main__":
    main()
