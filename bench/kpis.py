"""Render times and query counts of the shared dashboard and the weekly review on PostgreSQL.

    uv run python bench/kpis.py [--size s|m|l] [--runs 5] [--database-url postgres://…/sm_bench_<size>]

Uses the data of bench/generate.py (generated first when the database does not hold that size: a year of
history with leads, touches and anonymous visitors, handoffs, deals, activities with customer voices, daily
campaign costs and action items). Then renders each page `--runs` times (after one warm-up) through Django's test
client, logged in as the manager, and prints the median and slowest time and the number of SQL queries.
bench/run.py times the same pages (`pages()`) through gunicorn as part of the whole suite. Not part of the test
suite: it only prints figures (and writes bench/results/kpis-<size>.json).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project first: `bench.…`, then the apps
from bench.generate import SIZES, default_url, ensure_generated  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"


def pages(meta: dict) -> list[tuple[str, str, str]]:
    """(figure, path, username) of the pages bench/run.py times: the dashboard per period, the live review of
    the last complete week."""
    from kpis.periods import Period

    week = Period.last_complete_week()
    return [
        ("KPI dashboard (week)", "/?period=week", "bench_mgr"),
        ("KPI dashboard (month)", "/?period=month", "bench_mgr"),
        ("KPI dashboard (quarter)", "/?period=quarter", "bench_mgr"),
        ("weekly review (last week, live)", f"/kpis/weekly/?week={week.label}", "bench_mgr"),
    ]


def measure(client, path: str, runs: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(path)  # warm-up (template compilation, connection)
    times, queries = [], 0
    for _ in range(runs):
        with CaptureQueriesContext(connection) as ctx:
            started = time.perf_counter()
            response = client.get(path)
            times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
        queries = len(ctx.captured_queries)
        sql_ms = sum(float(q["time"]) for q in ctx.captured_queries) * 1000
    return {
        "path": path,
        "median_ms": round(statistics.median(times), 1),
        "max_ms": round(max(times), 1),
        "queries": queries,
        "sql_ms_last_run": round(sql_ms, 1),
        "bytes": len(response.content),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", choices=SIZES, default="s")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args(argv)
    url = args.database_url or os.environ.get("BENCH_DATABASE_URL") or default_url(args.size)
    os.environ["DEBUG"] = "0"  # production-like: cached templates, no debug toolbar of any kind
    os.environ["ALLOWED_HOSTS"] = "testserver,127.0.0.1,localhost"
    counts = ensure_generated(url, args.size)
    from django.test import Client
    from django.test.utils import setup_test_environment

    from kpis.models import WeeklySnapshot
    from kpis.periods import Period
    from kpis.services import snapshot_freeze_week
    from salesmarketing.models import User

    setup_test_environment()
    client = Client()
    client.force_login(User.objects.get(username="bench_mgr"))
    week = Period.last_complete_week()
    WeeklySnapshot.objects.filter(week_start=week.start).delete()

    pages = [
        ("dashboard, week (8-week trend)", "/?period=week"),
        ("dashboard, month (8-month trend)", "/?period=month"),
        ("dashboard, quarter (8-quarter trend)", "/?period=quarter"),
        ("weekly review, live", f"/kpis/weekly/?week={week.label}"),
        ("drill-down: leads, page 1", f"/kpis/leads_acquired/?period={week.label}"),
        ("drill-down: win rate (deals)", "/kpis/win_rate/?period=quarter"),
    ]
    results = {label: measure(client, path, args.runs) for label, path in pages}
    started = time.perf_counter()
    snapshot_freeze_week(week=week, team=None)
    freeze_ms = (time.perf_counter() - started) * 1000
    results["weekly review, frozen"] = measure(client, f"/kpis/weekly/?week={week.label}", args.runs)
    results["freeze one week (task body)"] = {"median_ms": round(freeze_ms, 1), "queries": "-", "max_ms": "-"}

    print(f"\n{'page':40} {'median':>10} {'slowest':>10} {'queries':>8} {'of it SQL':>10}")
    for label, r in results.items():
        median = f"{r['median_ms']} ms"
        slowest = f"{r['max_ms']} ms" if r["max_ms"] != "-" else "-"
        sql = f"{r['sql_ms_last_run']} ms" if "sql_ms_last_run" in r else "-"
        print(f"{label:40} {median:>10} {slowest:>10} {r['queries']!s:>8} {sql:>10}")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"kpis-{args.size}.json"
    out.write_text(
        json.dumps({"size": args.size, "data": counts, "results": results}, ensure_ascii=False, indent=2)
    )
    print(f"\nwrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
