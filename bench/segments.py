"""A three-rule dynamic segment's count against its floor, the bare SQL COUNT of the same predicate.

    uv run python bench/segments.py --size s [--generate] [--runs 30] [--database-url postgres://…]

The segment: awareness 準顕在層 (semi) AND engagement ≥ 20 AND a page_view touch of a campaign in the last 30 days
(the campaign with the most such touches, so the EXISTS has the most to look at). Ours is the production path:
the rules checked (as the page and the API do: the campaign looked up), compiled and counted through
nurture.segments.selectors.segment_count for a marketer (who sees every lead: one COUNT). The floor is the same
predicate written by hand as one SELECT COUNT(*) … WHERE … AND EXISTS (…). Both run `--runs` times after one
warm-up each, alternating. Target at size l: p95 < 300 ms. bench/run.py runs `figure()` as one figure of the suite.
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
from bench.generate import SIZES, ensure_database, generate, setup_django  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_MS = 300
DAYS = 30

FLOOR_SQL = """
SELECT COUNT(*) FROM leads_lead l
WHERE l.awareness_stage = 'semi' AND l.engagement_score >= 20
  AND EXISTS (SELECT 1 FROM leads_touch t WHERE t.lead_id = l.id AND t.type = 'page_view'
              AND t.campaign_id = %(campaign)s AND t.occurred_at >= %(since)s)
"""


def busiest_campaign() -> int | None:
    """The campaign with the most page views in the window (the rule's hardest case)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT campaign_id FROM leads_touch WHERE type = 'page_view' AND campaign_id IS NOT NULL "
            "AND occurred_at >= now() - interval '30 days' GROUP BY campaign_id ORDER BY count(*) DESC LIMIT 1"
        )
        row = cursor.fetchone()
    return row[0] if row else None


def rules(campaign: int) -> dict:
    return {
        "op": "and",
        "rules": [
            {"field": "awareness", "op": "eq", "value": "semi"},
            {"field": "engagement_score", "op": "gte", "value": 20},
            {"field": "touch", "op": "exists", "type": "page_view", "campaign": campaign, "days": DAYS},
        ],
    }


def _ours(segment, viewer) -> tuple[float, int]:
    from nurture.segments.rules import validate
    from nurture.segments.selectors import segment_count

    started = time.perf_counter()
    assert not validate(segment.rules)
    count = segment_count(segment=segment, viewer=viewer).visible
    return (time.perf_counter() - started) * 1000, count


def _floor(campaign: int) -> tuple[float, int]:
    import datetime as dt

    from django.db import connection
    from django.utils import timezone

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(FLOOR_SQL, {"campaign": campaign, "since": timezone.now() - dt.timedelta(days=DAYS)})
        count = cursor.fetchone()[0]
    return (time.perf_counter() - started) * 1000, count


def _summary(values: list[float]) -> dict:
    values = sorted(values)
    return {
        "median": statistics.median(values),
        "p95": values[min(len(values) - 1, round(0.95 * (len(values) - 1)))],
        "min": values[0],
        "max": values[-1],
        "samples": len(values),
    }


def figure(runs: int, log=print) -> dict:
    """The figure as bench/run.py reports it (Django set up on the bench database)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from nurture.models import Segment
    from salesmarketing.models import User

    campaign = busiest_campaign()
    if campaign is None:
        raise SystemExit("no page views of a campaign in the last 30 days: generate the data first")
    viewer = (
        User.objects.filter(role=User.Role.MARKETING).first()
        or User.objects.filter(is_superuser=True).first()
    )
    segment, _created = Segment.objects.update_or_create(
        name="bench: 準顕在層 × engagement ≥ 20 × page view (30 days)",
        defaults={"kind": "dynamic", "rules": rules(campaign)},
    )
    _ours(segment, viewer), _floor(campaign)  # warm-up
    ours, floor, counts = [], [], set()
    for _i in range(runs):
        with CaptureQueriesContext(connection) as queries:
            ms, count = _ours(segment, viewer)
        ours.append(ms)
        floor_ms, floor_count = _floor(campaign)
        floor.append(floor_ms)
        counts |= {count, floor_count}
    mine, bare = _summary(ours), _summary(floor)
    log(f"  segment count: p95 {mine['p95']:.1f} ms (floor p95 {bare['p95']:.1f} ms), {counts} leads")
    return {
        "key": "segment_count",
        "figure": "three-rule dynamic segment count",
        "unit": "ms",
        **mine,
        "queries": len(queries),
        "members": sorted(counts),
        "floor": {
            "what": "the same predicate as one hand-written SELECT COUNT(*) … AND EXISTS (…)",
            **bare,
            "queries": 1,
        },
        "ratio": mine["median"] / bare["median"],
        "target": f"p95 < {TARGET_MS} ms at size l",
        "met": mine["p95"] < TARGET_MS and len(counts) == 1,
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", choices=SIZES, default="s")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--generate", action="store_true", help="(re)generate the data first")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args(argv)
    url = (
        args.database_url
        or os.environ.get("BENCH_DATABASE_URL")
        or f"postgres://postgres@127.0.0.1:5432/sm_bench_{args.size}"
    )
    ensure_database(url, fresh=args.generate)
    setup_django(url)
    from django.core.management import call_command

    from leads.models import Lead

    call_command("migrate", verbosity=0)
    if args.generate or not Lead.objects.exists():
        generate(args.size, seed=1)
    print(f"size {args.size}: {Lead.objects.count():,} leads; {args.runs} runs")
    result = {"size": args.size, **figure(args.runs)}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"segments-{args.size}.json").write_text(
        json.dumps(result, ensure_ascii=False, indent=2) + "\n"
    )
    print(
        f"ours median {result['median']:.1f} ms, p95 {result['p95']:.1f} ms; floor median "
        f"{result['floor']['median']:.1f} ms; ratio {result['ratio']:.2f}× ({'met' if result['met'] else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
