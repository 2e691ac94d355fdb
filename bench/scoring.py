"""Full lead rescore against its floor: the bare SQL aggregate + update for the same engagement formula.

    uv run python bench/scoring.py --size l [--generate] [--runs 3] [--workers 1|2]

bench/run.py runs the same functions (run_floor, run_rescore) as one figure of the whole suite.

The rescore is the production path: id-range batches (leads.scoring.services.rescore_batch_run), each one
statement computing fit + capped, decayed engagement and writing changed rows, plus the MQL check. The floor is
one hand-written UPDATE … FROM (SELECT … GROUP BY) over all leads with the same touch-rule matching (the same
type-equality join, URLs lowered) and decay, writing the same columns (engagement, total, scored_at, last touch)
of the rows that change, without caps, fit, property rules, batching or the MQL check. Each run moves `now` one
day on so that decay changes scores, as the nightly rescore sees. Prints median and p95 and writes
bench/results/scoring-<size>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project first: `bench.…`, then the apps
from bench.generate import SIZES, ensure_database, generate, setup_django  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"

FLOOR_SQL = """
UPDATE leads_lead SET engagement_score = s.e, total_score = leads_lead.fit_score + s.e, scored_at = %(at)s,
    last_touch_at = (SELECT MAX(t.occurred_at) FROM leads_touch t WHERE t.lead_id = leads_lead.id)
FROM (
    SELECT m.lead_id, ROUND(SUM(m.pts))::int AS e FROM (
        SELECT t.lead_id, r.points * POWER(0.5, (%(now)s::float8 - EXTRACT(EPOCH FROM t.occurred_at)::float8) / (r.half_life_days * 86400.0)) AS pts
        FROM leads_touch t
        JOIN leads_scoringrule r ON r.kind = 'engagement' AND r.is_active AND r.touch_type = t.type
        WHERE t.occurred_at <= %(at)s AND (r.url_contains = '' OR LOWER(t.url) LIKE ('%%' || LOWER(r.url_contains) || '%%'))
        UNION ALL
        SELECT t.lead_id, r.points * POWER(0.5, (%(now)s::float8 - EXTRACT(EPOCH FROM t.occurred_at)::float8) / (r.half_life_days * 86400.0))
        FROM leads_touch t
        JOIN leads_scoringrule r ON r.kind = 'engagement' AND r.is_active AND r.touch_type = ''
        WHERE t.occurred_at <= %(at)s AND (r.url_contains = '' OR LOWER(t.url) LIKE ('%%' || LOWER(r.url_contains) || '%%'))
    ) m GROUP BY m.lead_id
) s
WHERE leads_lead.id = s.lead_id AND leads_lead.engagement_score <> s.e
"""


_started = None  # in a pool process: the barrier every process of the pool waits at once it has started


def _worker_start(database_url: str, started) -> None:
    """A pool process's start: Django set up and connected, as a worker's process is before the nightly rescore."""
    global _started
    _started = started
    setup_django(database_url)
    from django.db import connection

    connection.ensure_connection()


def _worker_ready(_: int) -> None:
    _started.wait()  # each process takes one of these and holds it until all have started, so all of them have


def _batch_worker(args: tuple[int, float]) -> bool:
    batch_id, now_ts = args
    from leads.scoring.services import rescore_batch_run

    return rescore_batch_run(batch_id=batch_id, now=dt.datetime.fromtimestamp(now_ts, dt.UTC))


def run_rescore(database_url: str, now: dt.datetime, workers: int) -> float:
    """Seconds to run every batch of a full rescore. With several workers, the processes are started (Django set
    up, connected) before the clock starts, as a worker pool is running when beat queues the nightly rescore;
    they then take the batches one at a time, as the workers take the queued batch tasks."""
    from django.db import connections, transaction

    from leads.models import RescoreBatch
    from leads.scoring.services import rescore_batch_run, rescore_start

    with transaction.atomic():
        run = rescore_start(
            reason="bench"
        )  # queued tasks run after commit; the bench drives the batches itself
    batch_ids = list(RescoreBatch.objects.filter(run=run).order_by("first_id").values_list("id", flat=True))
    if workers == 1:
        started = time.perf_counter()
        for batch_id in batch_ids:
            rescore_batch_run(batch_id=batch_id, now=now)
        return time.perf_counter() - started
    connections.close_all()  # each worker process opens its own connection
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        workers,
        mp_context=context,
        initializer=_worker_start,
        initargs=(database_url, context.Barrier(workers)),
    ) as pool:
        list(pool.map(_worker_ready, range(workers)))
        started = time.perf_counter()
        list(pool.map(_batch_worker, [(batch_id, now.timestamp()) for batch_id in batch_ids]))
        return time.perf_counter() - started


def run_floor(now: dt.datetime) -> float:
    from django.db import connection, transaction

    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(FLOOR_SQL, {"now": now.timestamp(), "at": now})
    return time.perf_counter() - started


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", choices=SIZES, default="s")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1)
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
    from celery import current_app

    current_app.conf.task_always_eager = False  # the bench runs the batches itself
    current_app.conf.broker_url = "memory://"
    from django.db import connection

    from leads.models import Lead, Touch
    from leads.scoring.defaults import ensure_default_scoring

    if args.generate or not Lead.objects.exists():
        generate(args.size, seed=1)
    ensure_default_scoring()
    leads, touches = Lead.objects.count(), Touch.objects.count()
    print(
        f"size {args.size}: {leads:,} leads, {touches:,} touches; {args.runs} runs, {args.workers} worker(s)"
    )
    base = dt.datetime.now(dt.UTC)
    ours, floor = [], []
    for i in range(args.runs):
        now = base + dt.timedelta(days=i + 1)
        floor.append(run_floor(now))
        ours.append(run_rescore(url, now, args.workers))
        print(f"  run {i + 1}: rescore {ours[-1]:.2f}s, floor {floor[-1]:.2f}s")

    def summary(values):
        values = sorted(values)
        return {
            "median": statistics.median(values),
            "p95": values[min(len(values) - 1, round(0.95 * (len(values) - 1)))],
        }

    result = {
        "figure": "full lead rescore",
        "date": dt.date.today().isoformat(),
        "size": args.size,
        "leads": leads,
        "touches": touches,
        "workers": args.workers,
        "rescore_seconds": summary(ours),
        "floor_seconds": summary(floor),
        "ratio": statistics.median(ours) / statistics.median(floor),
        "postgres": connection.cursor().connection.info.server_version,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"scoring-{args.size}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"rescore median {result['rescore_seconds']['median']:.2f}s (p95 {result['rescore_seconds']['p95']:.2f}s), "
        f"floor median {result['floor_seconds']['median']:.2f}s, ratio {result['ratio']:.2f}×"
    )


if __name__ == "__main__":
    main()
