"""How fast does an "all matching" bulk assign run over the lead list's filter at size l (1,000,000 leads)?

    uv run python bench/bulk_assign.py [--size s|m|l] [--quick] [--query "awareness=semi"] [--keep]
                                        [--batch-size 1000] [--database-url postgres://…/sm_bench_<size>]

Uses the data of bench/generate.py (generated first when the database does not hold that size). As the admin
(`bench_admin`, who sees every lead), it queues what the lead list's bulk form queues for "all N matching" — the
job keeps the list's query string, never ids — and runs it as the bulk worker does (leads.bulk_actions.services),
in process: the count when the job starts, then keyset batches over ids, each one transaction with a fixed number
of statements (the filter's next ids, the rows locked, one UPDATE, one INSERT of the owner-change log, the job's
counters). It reports the count's time, each batch's median / p95 and queries, and the leads per second overall.

By default everything runs inside one outer transaction that is rolled back at the end (each batch is then a
savepoint), so the bench data keeps its owners for the other benches; `--keep` commits each batch as production
does. A benchmark, not a test: it lives outside tests/ and never fails for being slow.
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


class _RolledBack(Exception):
    pass


def _p95(values: list[float]) -> float:
    values = sorted(values)
    return values[max(0, int(round(0.95 * len(values))) - 1)]


def run(*, query: str, batch_size: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from leads.bulk_actions import services
    from leads.models import BulkJob
    from salesmarketing.models import User

    admin = User.objects.get(username="bench_admin")
    target = User.objects.get(username="bench_rep01")
    started = time.perf_counter()
    # The row the bulk form's service writes (bulk_job_create), without queuing its task: this process runs it.
    job = BulkJob.objects.create(
        created_by=admin,
        action="assign",
        params={"owner": target.pk, "reason": "bench: bulk assign"},
        all_matching=True,
        query=query,
    )
    services.bulk_job_start(job_id=job.pk)
    count_ms = (time.perf_counter() - started) * 1000
    batches, queries, slowest = [], set(), []
    more = True
    while more:
        t0 = time.perf_counter()
        with CaptureQueriesContext(connection) as captured:
            more = services.bulk_job_run_batch(job_id=job.pk, batch_size=batch_size)
        batches.append((time.perf_counter() - t0) * 1000)
        queries.add(len(captured.captured_queries))
        slowest = sorted(
            [
                *slowest,
                *(
                    (float(q["time"]) * 1000, " ".join(q["sql"].split())[:120])
                    for q in captured.captured_queries
                ),
            ],
            reverse=True,
        )[:4]
        if len(batches) % 50 == 0:
            done = BulkJob.objects.values_list("done", flat=True).get(pk=job.pk)
            print(f"  … {len(batches)} batches, {done:,} leads", flush=True)
    elapsed = time.perf_counter() - started
    job.refresh_from_db()
    return {
        "total": job.total,
        "done": job.done,
        "changed": job.changed,
        "count_ms": count_ms,
        "batches": len(batches),
        "batch_median": statistics.median(batches),
        "batch_p95": _p95(batches),
        "batch_queries": sorted(queries),
        "seconds": elapsed,
        "per_second": job.done / elapsed if elapsed else 0.0,
        "slowest": slowest,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", choices=SIZES, default="s")
    parser.add_argument("--quick", action="store_true", help="bench/generate.py's quick data (2,000 leads)")
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--query", default="", help="the lead list's filter, e.g. awareness=semi (default: all)"
    )
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--keep", action="store_true", help="commit the new owners (default: roll back)")
    args = parser.parse_args()
    url = args.database_url or os.environ.get("BENCH_DATABASE_URL") or default_url(args.size)
    os.environ["DEBUG"] = "0"
    ensure_generated(url, args.size, quick=args.quick)
    from django.db import transaction

    from leads.models import Lead

    print(f"size {args.size}: {Lead.objects.count():,} leads; filter {args.query or '(none: every lead)'}")
    figures: dict = {}
    try:
        if args.keep:
            figures = run(query=args.query, batch_size=args.batch_size)
        else:
            with transaction.atomic():
                figures = run(query=args.query, batch_size=args.batch_size)
                raise _RolledBack
    except _RolledBack:
        print("(rolled back: the bench data keeps its owners)")
    print(
        f"all matching assign: {figures['done']:,} of {figures['total']:,} leads ({figures['changed']:,} changed) in "
        f"{figures['seconds']:.1f} s = {figures['per_second']:,.0f} leads/s\n"
        f"  count at start {figures['count_ms']:.0f} ms; {figures['batches']} batches of {args.batch_size}: "
        f"median {figures['batch_median']:.0f} ms, p95 {figures['batch_p95']:.0f} ms, "
        f"queries per batch {figures['batch_queries']}"
    )
    print("  slowest statements:")
    for ms, sql in figures["slowest"]:
        print(f"    {ms:7.1f} ms  {sql}")


if __name__ == "__main__":
    main()
