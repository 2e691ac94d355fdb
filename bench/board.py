"""How fast is the pipeline board for a manager with 5,000 open deals and 100,000 closed ones? Prints figures.

    uv run python bench/board.py [--requests 30] [--open 5000] [--closed 100000] [--reset]
                                 [--database-url postgres://postgres@127.0.0.1:5432/sm_pipeline_bench]

Creates the database if missing and migrates it, then (once; --reset starts over) generates one sales team with
40 reps, 3,000 companies, the open deals spread over the open stages and the closed deals (won and lost, over
three years) with five stage changes each, inside PostgreSQL with generate_series. It then times the board through
Django's test client (in process, no network): the manager's board, a rep's board, an HTMX move of one card
and the forecast, reporting median / p95 over repeated requests, the number of queries, the response size and the
slowest queries. A benchmark, not a test: it lives outside tests/ and never fails for being slow.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from generate import ensure_database  # bench/ is on sys.path when a bench script runs

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "ベンチ"


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["DEBUG"] = "0"  # measure what production runs (templates cached, no debug toolbar)
    os.environ.setdefault("SECRET_KEY", "bench-only")
    os.environ["ALLOWED_HOSTS"] = "testserver,127.0.0.1,localhost"
    os.environ["ENV_FILE"] = ""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "salesmarketing.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def generate(*, n_open: int, n_closed: int, reset: bool, log=print):
    """The bench team and its deals; reuses them when a previous run made the same amounts."""
    from django.db import connection, transaction

    from pipeline.models import Deal
    from pipeline.services import pipeline_ensure_default
    from salesmarketing.models import Team, User

    pipeline = pipeline_ensure_default()
    stages = list(pipeline.stages.order_by("order"))
    open_ids = [s.pk for s in stages if not s.is_closed]
    open_probs = [s.probability for s in stages if not s.is_closed]
    won_id = next(s.pk for s in stages if s.is_won)
    lost_id = next(s.pk for s in stages if s.is_lost)

    team, _ = Team.objects.get_or_create(name=f"{PREFIX}営業部", defaults={"kind": Team.Kind.SALES})
    manager = User.objects.filter(username="bench_mgr").first() or User.objects.create_user(
        username="bench_mgr", password=None, role=User.Role.MANAGER, team=team, display_name="ベンチ 課長"
    )
    if team.manager_id != manager.pk:
        team.manager = manager
        team.save(update_fields=["manager"])
    reps = []
    for i in range(1, 41):
        rep = User.objects.filter(username=f"bench_rep{i:02}").first() or User.objects.create_user(
            username=f"bench_rep{i:02}",
            password=None,
            role=User.Role.SALES,
            team=team,
            display_name=f"ベンチ 担当{i:02}",
        )
        reps.append(rep.pk)

    bench_deals = Deal.objects.filter(name__startswith=PREFIX)
    have_open = bench_deals.filter(status="open").count()
    have_closed = bench_deals.exclude(status="open").count()
    if not reset and (have_open, have_closed) == (n_open, n_closed):
        log(f"data: reusing {have_open:,} open and {have_closed:,} closed bench deals")
        return manager, User.objects.get(pk=reps[0])

    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM pipeline_stagechange WHERE deal_id IN (SELECT id FROM pipeline_deal WHERE name LIKE %s)",
            [PREFIX + "%"],
        )
        cursor.execute("DELETE FROM pipeline_deal WHERE name LIKE %s", [PREFIX + "%"])
        cursor.execute("DELETE FROM leads_company WHERE name LIKE %s", [PREFIX + "%"])
        cursor.execute(
            """
            INSERT INTO leads_company (name, domain, industry, employee_count, region, prefecture, website,
                                       created_at, updated_at)
            SELECT %s || '株式会社' || g || '製作所', 'bench' || g || '.example.jp', 'manufacturing', 100 + g %% 900,
                   'kanto', '', '', now(), now()
            FROM generate_series(1, 3000) g
            """,
            [PREFIX],
        )
        cursor.execute(
            "SELECT array_agg(id ORDER BY id) FROM leads_company WHERE name LIKE %s", [PREFIX + "%"]
        )
        companies = cursor.fetchone()[0]
        common = """
            name, company_id, owner_id, team_id, stage_id, status, position, amount, probability,
            expected_close_date, source, next_step, next_step_date, created_at, stage_changed_at, closed_at,
            won_amount, loss_cause, loss_side, loss_note, version, updated_at
        """
        # Open deals: spread over the open stages and 40 reps, positions with the services' gap.
        cursor.execute(
            f"""
            INSERT INTO pipeline_deal ({common})
            SELECT %(prefix)s || '商談 ' || g, (%(companies)s::bigint[])[1 + g %% %(nc)s],
                   (%(reps)s::bigint[])[1 + g %% 40], %(team)s,
                   (%(stages)s::bigint[])[1 + g %% 4], 'open', (g / 4)::bigint * 1048576,
                   (1 + (g * 7919) %% 120) * 100000, (%(probs)s::int[])[1 + g %% 4],
                   current_date + (g %% 180) - 30, (ARRAY['marketing','sales','referral','partner'])[1 + g %% 4],
                   '見積の再提示', current_date + (g %% 21) - 7,
                   now() - make_interval(days => 30 + g %% 200), now() - make_interval(days => g %% 60),
                   NULL, NULL, '', '', '', 1, now()
            FROM generate_series(1, %(n)s) g
            """,
            {
                "prefix": PREFIX,
                "companies": companies,
                "nc": len(companies),
                "reps": reps,
                "team": team.pk,
                "stages": open_ids,
                "probs": open_probs,
                "n": n_open,
            },
        )
        # Closed deals over three years: 40 % won, the rest lost with a cause and a side.
        cursor.execute(
            f"""
            INSERT INTO pipeline_deal ({common})
            SELECT %(prefix)s || '成約済 ' || g, (%(companies)s::bigint[])[1 + g %% %(nc)s],
                   (%(reps)s::bigint[])[1 + g %% 40], %(team)s,
                   CASE WHEN g %% 5 < 2 THEN %(won)s ELSE %(lost)s END,
                   CASE WHEN g %% 5 < 2 THEN 'won' ELSE 'lost' END, g::bigint * 1048576,
                   (1 + (g * 7919) %% 120) * 100000, CASE WHEN g %% 5 < 2 THEN 100 ELSE 0 END,
                   (now() - make_interval(days => g %% 1095))::date, 'marketing', '', NULL,
                   now() - make_interval(days => g %% 1095 + 20 + g %% 120),
                   now() - make_interval(days => g %% 1095), now() - make_interval(days => g %% 1095),
                   CASE WHEN g %% 5 < 2 THEN (1 + (g * 7919) %% 120) * 100000 END,
                   CASE WHEN g %% 5 < 2 THEN '' ELSE (ARRAY['price','competitor','timing','poor_fit','weak_proposal','slow_follow_up'])[1 + g %% 6] END,
                   CASE WHEN g %% 5 < 2 THEN '' ELSE (ARRAY['external','external','external','marketing','sales','sales'])[1 + g %% 6] END,
                   '', 1, now()
            FROM generate_series(1, %(n)s) g
            """,
            {
                "prefix": PREFIX,
                "companies": companies,
                "nc": len(companies),
                "reps": reps,
                "team": team.pk,
                "won": won_id,
                "lost": lost_id,
                "n": n_closed,
            },
        )
        # Stage history: closed deals went through every open stage, then closed (five rows each);
        # open deals have their creation row and one move into their stage.
        cursor.execute(
            """
            INSERT INTO pipeline_stagechange (deal_id, from_stage_id, to_stage_id, changed_by_id, changed_at,
                                              seconds_in_from_stage)
            SELECT d.id,
                   CASE WHEN k = 0 THEN NULL ELSE (%(stages)s::bigint[])[k] END,
                   CASE WHEN k < 4 THEN (%(stages)s::bigint[])[k + 1] ELSE d.stage_id END,
                   d.owner_id,
                   d.created_at + (d.closed_at - d.created_at) * k * (0.7 + (d.id %% 7) / 10.0) / 4,
                   CASE WHEN k = 0 THEN NULL
                        ELSE (extract(epoch FROM d.closed_at - d.created_at) * (0.7 + (d.id %% 7) / 10.0) / 4)::bigint END
            FROM pipeline_deal d CROSS JOIN generate_series(0, 4) k
            WHERE d.name LIKE %(pattern)s AND d.status <> 'open'
            """,
            {"stages": open_ids, "pattern": PREFIX + "%"},
        )
        cursor.execute(
            """
            INSERT INTO pipeline_stagechange (deal_id, from_stage_id, to_stage_id, changed_by_id, changed_at,
                                              seconds_in_from_stage)
            SELECT d.id, NULL, %(first)s, d.owner_id, d.created_at, NULL
            FROM pipeline_deal d WHERE d.name LIKE %(pattern)s AND d.status = 'open'
            UNION ALL
            SELECT d.id, %(first)s, d.stage_id, d.owner_id, d.stage_changed_at,
                   extract(epoch FROM d.stage_changed_at - d.created_at)::bigint
            FROM pipeline_deal d WHERE d.name LIKE %(pattern)s AND d.status = 'open' AND d.stage_id <> %(first)s
            """,
            {"first": open_ids[0], "pattern": PREFIX + "%"},
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE pipeline_deal; ANALYZE pipeline_stagechange; ANALYZE leads_company")
    log(
        f"data: {n_open:,} open and {n_closed:,} closed deals generated in {time.perf_counter() - started:.1f} s"
    )
    return manager, User.objects.get(pk=reps[0])


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
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/sm_pipeline_bench"),
    )
    parser.add_argument("--open", type=int, default=5000, dest="n_open")
    parser.add_argument("--closed", type=int, default=100_000, dest="n_closed")
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--reset", action="store_true", help="regenerate the bench deals")
    args = parser.parse_args()
    if not args.database_url.startswith("postgres"):
        sys.exit("bench/board.py measures PostgreSQL: give a postgres:// --database-url")

    ensure_database(args.database_url)
    setup_django(args.database_url)
    from django.core.management import call_command
    from django.test import Client

    call_command("migrate", verbosity=0)
    manager, rep = generate(n_open=args.n_open, n_closed=args.n_closed, reset=args.reset)

    from pipeline.models import Deal, Stage

    n = args.requests
    print(f"\nboard timings over {n} requests each (Django test client, in process, DEBUG=0, PostgreSQL):")
    client = Client()
    client.force_login(manager)
    from django.core.cache import cache

    report("manager board (team: all open deals)", timed(client, "get", "/pipeline/", n))
    report("  same, usual-time cache cold", timed(client, "get", "/pipeline/", n, before=cache.clear))
    report(
        "manager board, HTMX filter (search)",
        timed(client, "get", "/pipeline/?q=%E5%95%86%E8%AB%87+1", n, HTTP_HX_REQUEST="true"),
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
