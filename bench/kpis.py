"""Render times and query counts of the shared dashboard and the weekly review on PostgreSQL.

    uv run python bench/kpis.py [--size s|m|l] [--runs 5] [--keep] [--database-url postgres://…/sm_bench_kpis]

Fills its own database with a year of demo-shaped history by bulk inserts inside PostgreSQL (generate_series):
s ≈ 10k leads, m ≈ 100k leads, l ≈ 1M leads, with ~6 touches per lead plus anonymous visitors, a handoff for
15 % of leads, a deal for every accepted handoff plus sales-sourced ones, activities with customer voices, daily
costs for 200 campaigns. `--keep` reuses the data of an earlier run of the same size.
Then renders each page `--runs` times (after one warm-up) through Django's test client, logged in as a manager,
and prints the median and slowest time and the number of SQL queries. Not part of the test suite: it only prints
figures (and writes bench/results/kpis-<size>.json).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

from generate import ensure_database  # bench/ is on sys.path when a bench script runs

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
SIZES = {"s": 10_000, "m": 100_000, "l": 1_000_000}
CAMPAIGNS = 200
REPS_PER_TEAM = 8
LOSS = [
    ("price", "external"),
    ("competitor", "external"),
    ("timing", "external"),
    ("poor_fit", "marketing"),
    ("weak_proposal", "sales"),
    ("slow_follow_up", "sales"),
    ("product_gap", "product"),
]
VOICES = [
    "部下の残業が多くて困っている",
    "月末の締め作業が大変",
    "コストより現場の負担を減らしたい",
    "承認に1週間かかる",
]


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "salesmarketing.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only")
    os.environ.setdefault("ENV_FILE", "")
    os.environ["DEBUG"] = "0"  # production-like: cached templates, no debug toolbar of any kind
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def _array(values) -> str:
    return "ARRAY[" + ", ".join(str(v) if isinstance(v, int) else "'" + v + "'" for v in values) + "]"


def generate(n_leads: int, *, log=print) -> dict:
    """Bulk-load a year of history. One transaction; ~1 minute for m on a laptop."""
    from django.core.management import call_command
    from django.db import connection, transaction

    from pipeline.models import Stage
    from pipeline.services import pipeline_ensure_default
    from salesmarketing.models import Team, User

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    with transaction.atomic():
        teams = [
            Team.objects.get_or_create(name=name, defaults={"kind": kind})[0]
            for name, kind in (
                ("ベンチ マーケ", "marketing"),
                ("ベンチ 営業東", "sales"),
                ("ベンチ 営業西", "sales"),
            )
        ]
        reps = []
        for team in teams[1:]:
            for i in range(REPS_PER_TEAM):
                user, _ = User.objects.get_or_create(
                    username=f"bench-{team.pk}-{i}", defaults={"role": "sales", "team": team}
                )
                reps.append(user)
        manager, _ = User.objects.get_or_create(
            username="bench-manager", defaults={"role": "manager", "team": teams[1]}
        )
        pipeline_ensure_default()
        stages = list(Stage.objects.filter(pipeline__is_default=True).order_by("order"))
        won_stage = next(s.pk for s in stages if s.is_won)
        lost_stage = next(s.pk for s in stages if s.is_lost)
        open_stages = [s.pk for s in stages if not s.is_won and not s.is_lost]
        rep_ids, rep_teams = [r.pk for r in reps], [r.team_id for r in reps]
        k = len(reps)

        with connection.cursor() as cur:
            cur.execute(
                "TRUNCATE kpis_actionitem, kpis_weeklysnapshot, pipeline_activity, pipeline_stagechange, pipeline_task, "
                "pipeline_deal, leads_assignmentlog, leads_handoff, leads_touch, leads_visitor, leads_lead, "
                "leads_company, campaigns_campaigncost, campaigns_campaign_personas, campaigns_campaign "
                "RESTART IDENTITY CASCADE"
            )
            cur.execute("SELECT setseed(0.42)")
            cur.execute(
                """INSERT INTO campaigns_campaign (name, channel, objective, status, awareness_stage, budget, utm_campaign,
                       utm_source, utm_medium, description, created_at)
                   SELECT 'ベンチ施策 ' || g, (ARRAY['web_ad','webinar','whitepaper','seminar','sns'])[1 + g %% 5],
                          'lead_generation', 'active', '', 1000000, 'bench-' || g, '', '', '', now()
                   FROM generate_series(1, %s) g""",
                [CAMPAIGNS],
            )
            cur.execute(
                """INSERT INTO campaigns_campaigncost (campaign_id, date, amount, description, external_id, created_at)
                   SELECT c.id, (now() AT TIME ZONE 'Asia/Tokyo')::date - d, 5000 + floor(random() * 45000), '', '', now()
                   FROM campaigns_campaign c CROSS JOIN generate_series(0, 364) d"""
            )
            cur.execute(
                """INSERT INTO leads_company (name, domain, industry, employee_count, region, prefecture, website,
                       created_at, updated_at)
                   SELECT 'ベンチ株式会社 ' || g, 'b' || g || '.example.jp', 'manufacturing', 100, 'kanto', '', '',
                          now(), now()
                   FROM generate_series(1, %s) g""",
                [max(200, n_leads // 20)],
            )
            n_companies = max(200, n_leads // 20)
            # Rows go in in time order, as a live system appends them (the KPI queries read time ranges).
            cur.execute(
                f"""INSERT INTO leads_lead (email, name, name_kana, title, department, phone, company_id, source,
                       persona_set_by_hand, consent_email, lifecycle_stage, awareness_stage, fit_score, engagement_score,
                       total_score, created_at, updated_at, first_touch_campaign_id, owner_id)
                   SELECT * FROM (
                       SELECT 'bench' || g || '@b' || (1 + g %% {n_companies}) || '.example.jp', 'ベンチ ' || g, '',
                              '課長', '', '', 1 + g %% {n_companies}, 'web_form', false, true, 'lead', 'latent', 0, 0, 0,
                              now() - random() * interval '365 days' AS created_at, now(),
                              CASE WHEN random() < 0.7 THEN 1 + floor(random() * {CAMPAIGNS})::int END,
                              CASE WHEN random() < 0.4 THEN ({_array(rep_ids)})[1 + floor(random() * {k})::int] END
                       FROM generate_series(1, %s) g
                   ) x ORDER BY created_at""",
                [n_leads],
            )
            log(f"  campaigns, costs, companies, {n_leads:,} leads ({time.perf_counter() - started:.1f}s)")
            cur.execute(
                """INSERT INTO leads_touch (lead_id, visitor_id, type, occurred_at, url, utm_source, utm_medium,
                       utm_campaign, utm_content, utm_term, properties, source, idempotency_key, created_at)
                   SELECT * FROM (
                       SELECT l.id, CASE WHEN random() < 0.6 THEN 'v' || l.id ELSE '' END,
                              (ARRAY['page_view','page_view','page_view','email_open','content_download'])[1 + floor(random() * 5)::int],
                              l.created_at + random() * (now() - l.created_at) AS occurred_at, 'https://www.example.jp/',
                              '', '', '', '', '', '{}'::jsonb, 'bench', l.id || '-' || s, now()
                       FROM leads_lead l
                       CROSS JOIN LATERAL generate_series(1, 1 + floor(power(random() + 0 * l.id, 3) * 20)::int) s
                       UNION ALL
                       SELECT NULL, 'anon' || floor(random() * %s)::int, 'page_view', now() - random() * interval '365 days',
                              'https://www.example.jp/', '', '', '', '', '', '{}'::jsonb, 'bench-anon', g::text, now()
                       FROM generate_series(1, %s) g
                   ) t ORDER BY occurred_at""",
                [n_leads, n_leads * 2],
            )
            cur.execute("SELECT count(*) FROM leads_touch")
            n_touches = cur.fetchone()[0]
            log(f"  {n_touches:,} touches ({time.perf_counter() - started:.1f}s)")
            cur.execute(
                f"""INSERT INTO leads_handoff (lead_id, owner_id, team_id, state, score_at_handoff, fit_at_handoff, reason,
                       campaign_id, mql_at, assigned_at, sla_due_at, first_touch_at, decided_at, decided_by_id,
                       reject_reason, reject_note, created_at)
                   SELECT id, ({_array(rep_ids)})[i], ({_array(rep_teams)})[i], st, 70, 30, '', first_touch_campaign_id,
                          mql, mql + interval '5 minutes', mql + interval '4 hours 5 minutes',
                          CASE WHEN touched THEN mql + interval '5 minutes' + r3 * interval '8 hours' END,
                          CASE WHEN st IN ('accepted', 'rejected') THEN mql + interval '9 hours' + r3 * interval '2 days' END,
                          CASE WHEN st IN ('accepted', 'rejected') THEN ({_array(rep_ids)})[i] END,
                          CASE WHEN st = 'rejected' THEN 'too_early' ELSE '' END,
                          CASE WHEN st = 'rejected' THEN '資料を見ただけ' ELSE '' END, mql
                   FROM (
                       SELECT l.id, l.first_touch_campaign_id, 1 + floor(random() * {k})::int AS i, random() AS r3,
                              l.created_at + random() * (now() - l.created_at) * 0.5 AS mql,
                              random() < 0.9 AS touched,
                              (ARRAY['accepted','accepted','rejected','assigned'])[1 + floor(random() * 4)::int] AS st
                       FROM leads_lead l WHERE random() < 0.15
                   ) x
                   WHERE st IN ('accepted', 'rejected') OR mql > now() - interval '14 days' OR true"""
            )
            # A decision needs a first touch first; backdated decisions in the future are moved to now.
            cur.execute(
                """UPDATE leads_handoff SET first_touch_at = COALESCE(first_touch_at, decided_at),
                       decided_at = LEAST(decided_at, now())
                   WHERE decided_at IS NOT NULL"""
            )
            cur.execute(
                f"""INSERT INTO pipeline_deal (name, status, position, amount, probability, expected_close_date, source,
                       next_step, created_at, stage_changed_at, closed_at, won_amount, loss_cause, loss_side, loss_note,
                       version, updated_at, company_id, contact_id, handoff_id, owner_id, team_id, stage_id,
                       first_touch_campaign_id)
                   SELECT 'ベンチ商談 ' || src_id, st, 0, amount, CASE st WHEN 'won' THEN 100 WHEN 'lost' THEN 0 ELSE 30 END,
                          (created + interval '60 days')::date, source, '', created, COALESCE(closed, created), closed,
                          CASE WHEN st = 'won' THEN amount END,
                          CASE WHEN st = 'lost' THEN ({_array([c for c, _ in LOSS])})[li] ELSE '' END,
                          CASE WHEN st = 'lost' THEN ({_array([s for _, s in LOSS])})[li] ELSE '' END,
                          CASE WHEN st = 'lost' THEN '他社で決定' ELSE '' END, 1, now(), company_id, contact_id, handoff_id,
                          owner_id, team_id,
                          CASE st WHEN 'won' THEN {won_stage} WHEN 'lost' THEN {lost_stage}
                               ELSE ({_array(open_stages)})[1 + floor(random() * {len(open_stages)})::int] END,
                          campaign_id
                   FROM (
                       SELECT *, CASE WHEN st <> 'open' THEN created + r3 * LEAST(now() - created, interval '120 days') END AS closed
                       FROM (
                           SELECT *, CASE WHEN created < now() - interval '20 days' AND r1 < 0.7
                                          THEN CASE WHEN r2 < 0.4 THEN 'won' ELSE 'lost' END ELSE 'open' END AS st,
                                     1 + floor(random() * {len(LOSS)})::int AS li,
                                     (300000 + floor(random() * 50) * 100000)::numeric AS amount
                           FROM (
                               SELECT h.id AS src_id, h.decided_at AS created, 'marketing' AS source, l.company_id,
                                      l.id AS contact_id, h.id AS handoff_id, h.owner_id, h.team_id,
                                      h.campaign_id, random() AS r1, random() AS r2, random() AS r3
                               FROM leads_handoff h JOIN leads_lead l ON l.id = h.lead_id WHERE h.state = 'accepted'
                               UNION ALL
                               SELECT -g, now() - random() * interval '365 days', 'sales', 1 + g % {n_companies}, NULL,
                                      NULL, ({_array(rep_ids)})[1 + g % {k}], ({_array(rep_teams)})[1 + g % {k}], NULL,
                                      random(), random(), random()
                               FROM generate_series(1, {max(100, n_leads // 20)}) g
                           ) a
                       ) b
                   ) c"""
            )
            cur.execute(
                f"""INSERT INTO pipeline_activity (deal_id, type, subject, body, outcome, occurred_at, is_voice, voice_text,
                       created_by_id, created_at)
                   SELECT d.id, 'call', 'ヒアリング', '', '', d.created_at + random() * (now() - d.created_at),
                          v, CASE WHEN v THEN ({_array(VOICES)})[1 + floor(random() * {len(VOICES)})::int] ELSE '' END,
                          d.owner_id, now()
                   FROM (SELECT d.*, random() < 0.15 AS v FROM pipeline_deal d, generate_series(1, 2) s
                         WHERE random() < 0.3) d"""
            )
            cur.execute(
                "SELECT (SELECT count(*) FROM leads_handoff), (SELECT count(*) FROM pipeline_deal), (SELECT count(*) FROM pipeline_activity)"
            )
            n_handoffs, n_deals, n_activities = cur.fetchone()
            cur.execute("ANALYZE")
        log(
            f"  {n_handoffs:,} handoffs, {n_deals:,} deals, {n_activities:,} activities ({time.perf_counter() - started:.1f}s)"
        )

        from kpis import services
        from kpis.periods import Period

        week = Period.last_complete_week()
        for i in range(40):
            services.action_item_create(
                title=f"ベンチの宿題 {i}",
                owner=reps[i % k],
                due_date=week.end,
                week=week.shift(-(i % 6)),
                by=manager,
            )
    return {
        "leads": n_leads,
        "touches": n_touches,
        "handoffs": n_handoffs,
        "deals": n_deals,
        "activities": n_activities,
        "cost_lines": CAMPAIGNS * 365,
        "seconds": round(time.perf_counter() - started, 1),
    }


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
    parser.add_argument("--size", choices=SIZES, default="m")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="reuse the data of an earlier run")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_KPIS_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/sm_bench_kpis"),
    )
    args = parser.parse_args(argv)
    ensure_database(args.database_url)
    setup_django(args.database_url)
    from django.test import Client
    from django.test.utils import setup_test_environment

    from kpis.models import WeeklySnapshot
    from kpis.periods import Period
    from kpis.services import snapshot_freeze_week
    from salesmarketing.models import User

    setup_test_environment()
    if args.keep and User.objects.filter(username="bench-manager").exists():
        counts = {"reused": True}
        print("reusing the existing data")
    else:
        print(f"generating size {args.size} into {args.database_url.rsplit('/', 1)[1]}")
        counts = generate(SIZES[args.size])
    client = Client()
    client.force_login(User.objects.get(username="bench-manager"))
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
