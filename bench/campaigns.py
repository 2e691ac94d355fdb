"""How fast are the marketing dashboard and the campaign list on a big database? Prints figures.

    uv run python bench/campaigns.py [--size s|m|l] [--requests 10] [--rebuild] [--database-url postgres://…]

Uses the data of bench/generate.py (generated first when the database does not hold that size: 300 campaigns
over a year with daily costs, personas with rules, leads with ~10 touches each, 45 % of them from a campaign,
anonymous visitors, MQLs with handoffs and deals). It then times the full attribution rebuild (personas, ledger,
roll-ups; --rebuild), an incremental refresh of 1,000 changed leads, and the pages through Django's test client
(in process, no network): the dashboard, the campaign list sorted by CPL, and one campaign's page — median / p95
over repeated requests, the number of queries and the response size. bench/run.py times the same pages
(`pages()`) through gunicorn as part of the whole suite. A benchmark, not a test: it never fails for being slow.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project first: `bench.…`, then the apps
from bench.generate import MARKER, SIZES, default_url, ensure_generated  # noqa: E402


def pages(meta: dict) -> list[tuple[str, str, str]]:
    """(figure, path, username) of the pages bench/run.py times."""
    return [
        ("campaign list (12 months, W-shaped ROI)", "/campaigns/?period=12m&sort=-roi", "bench_mktg"),
        ("marketing dashboard (90 days)", "/campaigns/dashboard/", "bench_mktg"),
    ]


def time_pages(*, requests: int, log=print) -> list[dict]:
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from leads.models import Campaign
    from salesmarketing.models import User

    client = Client()
    client.force_login(User.objects.get(username="bench_mktg"))
    busiest = Campaign.objects.filter(utm_campaign__startswith=MARKER).order_by("id")[
        Campaign.objects.count() // 2
    ]
    pages = [
        ("dashboard (last 90 days)", "/campaigns/dashboard/"),
        ("dashboard (last 12 months, seniority)", "/campaigns/dashboard/?period=12m&dimension=seniority"),
        ("campaign list (90 days, sorted by CPL)", "/campaigns/?sort=cpl"),
        ("campaign list (12 months, W-shaped ROI)", "/campaigns/?period=12m&sort=-roi"),
        ("one campaign (12 months)", f"/campaigns/{busiest.pk}/?period=12m"),
    ]
    results = []
    for label, url in pages:
        times = []
        for i in range(requests + 1):
            reset_queries()
            with CaptureQueriesContext(connection) as ctx:
                started = time.perf_counter()
                response = client.get(url)
                elapsed = time.perf_counter() - started
            assert response.status_code == 200, (url, response.status_code)
            if i:  # the first request warms caches and connections
                times.append(elapsed * 1000)
        times.sort()
        results.append(
            {
                "page": label,
                "median_ms": statistics.median(times),
                "p95_ms": times[min(len(times) - 1, int(len(times) * 0.95))],
                "queries": len(ctx.captured_queries),
                "kb": len(response.content) / 1024,
                "slowest": sorted(ctx.captured_queries, key=lambda q: -float(q["time"]))[:1],
            }
        )
        r = results[-1]
        log(f"  {label:<42} median {r['median_ms']:7.1f} ms   p95 {r['p95_ms']:7.1f} ms   "
            f"{r['queries']:2d} queries   {r['kb']:6.1f} KB")  # fmt: skip
        if r["slowest"]:
            q = r["slowest"][0]
            log(f"      slowest query {float(q['time']) * 1000:.0f} ms: {q['sql'][:110]}…")
    return results


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", choices=SIZES, default="s")
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument(
        "--rebuild", action="store_true", help="Time the full rebuild again on the existing data."
    )
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args(argv)
    url = args.database_url or os.environ.get("BENCH_DATABASE_URL") or default_url(args.size)
    os.environ["DEBUG"] = "0"  # measure what production runs (cached templates)
    os.environ["ALLOWED_HOSTS"] = "testserver,127.0.0.1,localhost"
    os.environ.pop("REDIS_URL", None)  # tasks in-process
    ensure_generated(url, args.size)
    from django.db import connection

    from campaigns.attribution import (
        LeadSelection,
        attribution_refresh,
        rollups_refresh,
        score_bands_refresh,
    )
    from campaigns.models import AttributionCredit, AttributionDay, SegmentDay
    from campaigns.personas import personas_match
    from campaigns.rebuild import attribution_rebuild_now
    from leads.models import Lead, Touch

    print(f"database {url.rsplit('/', 1)[1]}")
    if args.rebuild:
        started = time.perf_counter()
        attribution_rebuild_now()
        print(f"full rebuild (personas, ledger, roll-ups): {time.perf_counter() - started:.1f}s")
    print(
        f"data: {Lead.objects.count():,} leads, {Touch.objects.count():,} touches, "
        f"{AttributionCredit.objects.count():,} credits, {AttributionDay.objects.count():,} campaign-days, "
        f"{SegmentDay.objects.count():,} segment-days"
    )
    # Five minutes of activity: 1,000 leads get a campaign touch now, 100 of them become MQLs; then the work one
    # refresh_leads task does for them (personas, ledger, roll-ups of the days whose credits changed).
    ids = list(Lead.objects.order_by("?").values_list("id", flat=True)[:1000])
    stamp = int(time.time())
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO leads_touch (lead_id, visitor_id, type, occurred_at, url, utm_source, utm_medium,
                   utm_campaign, utm_content, utm_term, campaign_id, properties, source, idempotency_key, created_at)
               SELECT id, '', 'webinar_attended', now(), '', '', '', '', '', '', (SELECT min(id) FROM campaigns_campaign) + id %% 40, '{}'::jsonb,
                      'bench-incremental', id || '-' || %s, now()
               FROM leads_lead WHERE id = ANY(%s)""",
            [stamp, ids],
        )
        cursor.execute(
            "UPDATE leads_lead SET lifecycle_stage = 'mql', mql_at = now() WHERE id = ANY(%s)", [ids[:100]]
        )
    started = time.perf_counter()
    selection = LeadSelection(ids=tuple(ids))
    personas_match(selection=selection)
    days = attribution_refresh(selection=selection)
    rolled = rollups_refresh()
    print(
        f"incremental refresh of 1,000 changed leads (one task): {time.perf_counter() - started:.2f}s "
        f"({len(days)} dirty days, {rolled} rolled up)"
    )
    started = time.perf_counter()
    score_bands_refresh()
    print(f"score bands (sweep, every 5 minutes): {(time.perf_counter() - started) * 1000:.0f} ms")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"pages ({args.requests} requests each, after one warm-up):")
    time_pages(requests=args.requests)


if __name__ == "__main__":
    main()
