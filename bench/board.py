"""How fast is the pipeline board for a manager with ~5,000 open deals and ~100,000 closed ones (size l)?

    uv run python bench/board.py [--size s|m|l] [--requests 30] [--database-url postgres://…/sm_bench_<size>]

Uses the data of bench/generate.py (generated first when the database does not hold that size: the deals, their
stage history and the manager of both sales teams come from there). It then times the board through Django's test
client (in process, no network): the manager's board, a rep's board, an HTMX move of one card and the forecast,
reporting median / p95 over repeated requests, the number of queries, the response size and the slowest queries.
bench/run.py times the same pages (`pages()`) through gunicorn as part of the whole suite. A benchmark, not a
test: it lives outside tests/ and never fails for being slow.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project first: `bench.…`, then the apps
from bench.generate import SIZES, default_url, ensure_generated  # noqa: E402


def pages(meta: dict) -> list[tuple[str, str, str]]:
    """(figure, path, username) of the pages bench/run.py times."""
    return [
        ("pipeline board (manager, all deals)", "/pipeline/", "bench_mgr"),
        ("forecast (manager)", "/pipeline/forecast/", "bench_mgr"),
        ("deal detail (manager)", f"/pipeline/deals/{_busy_deal().pk}/", "bench_mgr"),
    ]


def _busy_deal():
    """An open deal of the manager's teams with the most activities (a stable pick for a given data set)."""
    from django.db.models import Count

    from pipeline.models import Deal

    return (
        Deal.objects.filter(status="open", owner__username__startswith="bench_rep")
        .annotate(n=Count("activities"))
        .order_by("-n", "pk")
        .first()
    )


def drag_moves(client, requests: int, warmup: int = 3) -> dict:
    """Drag one open card of the manager's board back and forth between two open stages, as the board does
    (HTMX POST with the board's filters; the answer is the two columns): times of each move and the queries of
    one, in process through `client` (logged in as the manager)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from pipeline.models import Deal, Stage

    deal = _busy_deal()
    stages = list(
        Stage.objects.filter(pipeline__is_default=True, is_won=False, is_lost=False).order_by("order")
    )
    targets = [s for s in stages if s.pk != deal.stage_id][:2]

    def move(i: int):
        version = Deal.objects.values_list("version", flat=True).get(pk=deal.pk)
        return client.post(
            f"/pipeline/deals/{deal.pk}/move/",
            {"stage": targets[i % 2].pk, "version": version, "scope": "team"},
            HTTP_HX_REQUEST="true",
        )

    for i in range(warmup):
        move(i)
    times = []
    for i in range(warmup, warmup + requests):
        started = time.perf_counter()
        response = move(i)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    version = Deal.objects.values_list("version", flat=True).get(pk=deal.pk)
    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            f"/pipeline/deals/{deal.pk}/move/",
            {"stage": targets[(warmup + requests) % 2].pk, "version": version, "scope": "team"},
            HTTP_HX_REQUEST="true",
        )
    assert response.status_code == 200, response.status_code
    return {"times": times, "queries": len(queries), "bytes": len(response.content)}


def timed(client, method: str, url: str, n: int, before=None, **kwargs) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    call = getattr(client, method)
    for _ in range(3):  # warm up: template loading, connection, caches
        call(url, **kwargs)
    times = []
    for _ in range(n):
        if before:
            before()
        started = time.perf_counter()
        response = call(url, **kwargs)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code < 400, (url, response.status_code)
    if before:
        before()
    with CaptureQueriesContext(connection) as queries:
        response = call(url, **kwargs)
    times.sort()
    slowest = sorted(queries.captured_queries, key=lambda q: float(q["time"]), reverse=True)[:3]
    return {
        "median": statistics.median(times),
        "p95": times[max(0, int(round(0.95 * len(times))) - 1)],
        "queries": len(queries),
        "kb": len(response.content) / 1024,
        "slowest": [(float(q["time"]) * 1000, " ".join(q["sql"].split())[:110]) for q in slowest],
    }


def report(label: str, figures: dict) -> None:
    print(
        f"{label:<42} median {figures['median']:7.1f} ms   p95 {figures['p95']:7.1f} ms   "
        f"{figures['queries']:2d} queries   {figures['kb']:7.1f} KB"
    )
    for ms, sql in figures["slowest"]:
        print(f"    {ms:7.1f} ms  {sql}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", choices=SIZES, default="s")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    url = args.database_url or os.environ.get("BENCH_DATABASE_URL") or default_url(args.size)
    os.environ["DEBUG"] = "0"  # measure what production runs (templates cached, no debug toolbar)
    os.environ["ALLOWED_HOSTS"] = "testserver,127.0.0.1,localhost"
    ensure_generated(url, args.size)
    from django.test import Client

    from pipeline.models import Deal, Stage
    from salesmarketing.models import User

    manager = User.objects.get(username="bench_mgr")
    rep = User.objects.get(username="bench_rep01")
    n = args.requests
    print(f"\nboard timings over {n} requests each (Django test client, in process, DEBUG=0, PostgreSQL):")
    client = Client()
    client.force_login(manager)
    from django.core.cache import cache

    report("manager board (team: all open deals)", timed(client, "get", "/pipeline/", n))
    report("  same, usual-time cache cold", timed(client, "get", "/pipeline/", n, before=cache.clear))
    report(
        "manager board, HTMX filter (search)",
        timed(client, "get", "/pipeline/?q=PoC", n, HTTP_HX_REQUEST="true"),
    )
    report("forecast (manager, 6 months)", timed(client, "get", "/pipeline/forecast/", n))

    # One card moved back and forth between two stages: each POST answers with two columns.
    deal = Deal.objects.filter(owner__team=manager.team, status="open").order_by("pk").first()
    stages = list(
        Stage.objects.filter(pipeline__is_default=True, is_won=False, is_lost=False).order_by("order")
    )
    moves = []
    for i in range(n):
        target = stages[1] if i % 2 == 0 else stages[2]
        started = time.perf_counter()
        response = client.post(
            f"/pipeline/deals/{deal.pk}/move/", {"stage": target.pk, "scope": "team"}, HTTP_HX_REQUEST="true"
        )
        moves.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    moves.sort()
    print(
        f"{'HTMX move (two columns back)':<42} median {statistics.median(moves):7.1f} ms   "
        f"p95 {moves[max(0, int(round(0.95 * len(moves))) - 1)]:7.1f} ms   {len(response.content) / 1024:.1f} KB"
    )

    rep_client = Client()
    rep_client.force_login(rep)
    report(
        f"rep board ({Deal.objects.filter(owner=rep, status='open').count()} open deals)",
        timed(rep_client, "get", "/pipeline/", n),
    )


if __name__ == "__main__":
    main()
