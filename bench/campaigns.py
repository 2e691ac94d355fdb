"""How fast are the marketing dashboard and the campaign list on a big database? Prints figures.

    uv run python bench/campaigns.py [--leads 100000] [--requests 10] [--reset] [--rebuild]
                                     [--database-url postgres://postgres@127.0.0.1:5432/sm_campaigns_bench]

Creates the database if missing and migrates it, then (once; --reset starts over, a different --leads too)
generates inside PostgreSQL with generate_series: 300 campaigns over a year with monthly costs, four personas with
rules, companies, leads (created over a year, Japanese titles), ~10 touches per lead on average (heavy-tailed;
45 % of them carry a campaign), anonymous visitors, MQLs with handoffs (accepted / rejected with reasons) and deals
(won / lost / open). It then times the full attribution rebuild (personas, ledger, roll-ups), an incremental
refresh of 1,000 changed leads, and the pages through Django's test client (in process, no network): the
dashboard, the campaign list sorted by CPL, and one campaign's page — median / p95 over repeated requests, the
number of queries and the response size. A benchmark, not a test: it never fails for being slow.
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
MARKER = "bench-campaign"


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["DEBUG"] = "0"  # measure what production runs (cached templates)
    os.environ.setdefault("SECRET_KEY", "bench-only")
    os.environ["ALLOWED_HOSTS"] = "testserver,127.0.0.1,localhost"
    os.environ["ENV_FILE"] = ""
    os.environ.pop("REDIS_URL", None)  # tasks in-process
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "salesmarketing.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def _array(values: list[str]) -> str:
    return "ARRAY[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _pick(values: list[str], rand: str = "random()") -> str:
    return f"({_array(values)})[1 + floor({rand} * {len(values)})::int]"


TITLES = "代表取締役 取締役 部長 部長 情報システム部長 課長 課長 マネージャー 係長 主任 主任 担当 担当 担当 担当 一般社員".split()
DEPARTMENTS = "情報システム部 営業部 営業企画部 経営企画部 人事部 総務部 製造部 マーケティング部".split()
INDUSTRIES = "manufacturing manufacturing it it logistics finance retail construction healthcare services public media".split()
REGIONS = "kanto kanto kanto kinki kinki chubu chubu kyushu tohoku chugoku hokkaido shikoku".split()
CHANNELS = "web_ad sns seo whitepaper webinar seminar trade_show email referral".split()
TYPES = (
    ["page_view"] * 50
    + ["email_open"] * 14
    + ["email_click"] * 6
    + ["content_download"] * 8
    + ["ad_click"] * 8
    + ["webinar_registered"] * 4
    + ["webinar_attended"] * 4
    + ["seminar_attended"] * 2
    + ["trade_show_visit"] * 2
    + ["form_submit"] * 2
)
REASONS = "too_early too_early too_early not_a_fit no_budget bad_contact competitor".split()


def generated_size() -> int:
    from campaigns.models import Campaign
    from leads.models import Lead

    if not Campaign.objects.filter(utm_campaign__startswith=MARKER).exists():
        return 0
    return Lead.objects.count()


def generate(n_leads: int, *, log=print) -> None:
    from django.db import connection

    from campaigns.models import Campaign, Persona, PersonaRule
    from pipeline.services import pipeline_ensure_default
    from salesmarketing.models import Team, User

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            """TRUNCATE leads_touch, leads_visitor, leads_handoff, leads_assignmentlog, leads_lead, leads_company,
               campaigns_attributioncredit, campaigns_attributionday, campaigns_segmentday,
               campaigns_attributiondirtyday, campaigns_attributionstate, campaigns_campaigncost,
               campaigns_campaign_personas, campaigns_campaign, campaigns_personarule, campaigns_persona
               RESTART IDENTITY CASCADE"""
        )
    pipeline = pipeline_ensure_default()
    stages = {s.order: s for s in pipeline.stages.all()}
    open_stage = next(s for s in stages.values() if not s.is_closed)
    won_stage = next(s for s in stages.values() if s.is_won)
    lost_stage = next(s for s in stages.values() if s.is_lost)
    team, _ = Team.objects.get_or_create(name="ベンチ営業部", defaults={"kind": Team.Kind.SALES})
    rep = User.objects.filter(username="bench_campaign_rep").first() or User.objects.create_user(
        username="bench_campaign_rep", password=None, role=User.Role.SALES, team=team
    )
    if not User.objects.filter(username="bench_mktg").exists():
        User.objects.create_user(username="bench_mktg", password=None, role=User.Role.MARKETING)

    personas = [
        Persona.objects.create(name=name)
        for name in ("情シス部長 (中堅製造業)", "現場マネージャー", "中小企業の経営者", "営業企画担当")
    ]
    PersonaRule.objects.bulk_create(
        [
            PersonaRule(
                persona=personas[0], title_contains="部長", department_contains="情報システム", priority=10
            ),
            PersonaRule(
                persona=personas[0],
                title_contains="部長",
                industry="manufacturing",
                employees_min=300,
                priority=20,
            ),
            PersonaRule(persona=personas[1], title_contains="課長, マネージャー, 係長", priority=40),
            PersonaRule(persona=personas[2], title_contains="代表, 取締役", employees_max=299, priority=5),
            PersonaRule(persona=personas[3], department_contains="営業企画", priority=30),
        ]
    )
    import datetime as dt

    from django.utils import timezone

    today = timezone.localdate()
    Campaign.objects.bulk_create(
        Campaign(
            name=f"ベンチ施策 {i:03d}",
            channel=CHANNELS[i % len(CHANNELS)],
            status=Campaign.Status.ACTIVE,
            utm_campaign=f"{MARKER}-{i:03d}",
            start_date=today - dt.timedelta(days=365 - i),
            end_date=today + dt.timedelta(days=30),
            budget=1_000_000,
        )
        for i in range(300)
    )
    n_companies = max(200, n_leads // 20)
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.42)")
        cursor.execute(
            """INSERT INTO campaigns_campaigncost (campaign_id, date, amount, description, external_id, created_at)
               SELECT c.id, (date_trunc('month', now()) - m * interval '1 month')::date,
                      (50000 + floor(random() * 450000))::numeric, 'ベンチ', 'bench-' || c.id || '-' || m, now()
               FROM campaigns_campaign c CROSS JOIN generate_series(0, 11) m"""
        )
        cursor.execute(
            f"""INSERT INTO leads_company (name, domain, industry, employee_count, region, prefecture, website,
                   created_at, updated_at)
                SELECT 'ベンチ株式会社' || g, 'b' || g || '.example.jp', {_pick(INDUSTRIES)},
                       (5 + floor(power(random(), 3) * 6000))::int, {_pick(REGIONS)}, '', '', now(), now()
                FROM generate_series(1, %s) g""",
            [n_companies],
        )
        cursor.execute(
            f"""INSERT INTO leads_lead (email, name, name_kana, title, department, phone, company_id, source,
                   persona_set_by_hand, consent_email, lifecycle_stage, awareness_stage, fit_score,
                   engagement_score, total_score, created_at, updated_at)
                SELECT 'lead' || g || '@b' || (1 + g %% %s) || '.example.jp', 'ベンチ ' || g, '',
                       {_pick(TITLES)}, {_pick(DEPARTMENTS)}, '', 1 + g %% %s, 'api', false, true, 'lead',
                       {_pick(["latent", "latent", "semi", "manifest"])}, floor(random() * 50)::int,
                       floor(random() * 40)::int, floor(power(random(), 2) * 90)::int,
                       now() - random() * interval '365 days', now()
                FROM generate_series(1, %s) g""",
            [n_companies, n_companies, n_leads],
        )
        log(f"  {n_leads:,} leads, {n_companies:,} companies ({time.perf_counter() - started:.0f}s)")
        cursor.execute(
            f"""INSERT INTO leads_touch (lead_id, visitor_id, type, occurred_at, url, utm_source, utm_medium,
                   utm_campaign, utm_content, utm_term, campaign_id, properties, source, idempotency_key, created_at)
                SELECT l.id, '', {_pick(TYPES)},
                       least(now(), l.created_at - interval '20 days'
                                    + random() * (now() - l.created_at + interval '20 days')),
                       'https://www.example.jp/', '', '', '', '', '',
                       CASE WHEN random() < 0.45 THEN 1 + floor(random() * 300)::int END, '{{}}'::jsonb,
                       'bench', l.id || '-' || k, now()
                FROM leads_lead l
                CROSS JOIN LATERAL generate_series(1, 1 + floor(power(random() + 0 * l.id, 4) * 45)::int) k"""
        )
        cursor.execute(
            """INSERT INTO leads_visitor (visitor_id, lead_id, first_seen_at, identified_at)
               SELECT 'anon-' || g, NULL, now() - random() * interval '365 days', NULL
               FROM generate_series(1, %s) g""",
            [n_leads // 3],
        )
        cursor.execute(
            """INSERT INTO leads_touch (lead_id, visitor_id, type, occurred_at, url, utm_source, utm_medium,
                   utm_campaign, utm_content, utm_term, properties, source, idempotency_key, created_at)
               SELECT NULL, v.visitor_id, 'page_view', v.first_seen_at, 'https://www.example.jp/', '', '', '', '', '',
                      '{}'::jsonb, 'bench', v.visitor_id, now()
               FROM leads_visitor v"""
        )
        cursor.execute("SELECT count(*) FROM leads_touch")
        log(f"  {cursor.fetchone()[0]:,} touches ({time.perf_counter() - started:.0f}s)")
        cursor.execute(
            """UPDATE leads_lead l SET last_touch_at = t.last, first_touch_campaign_id = t.first_campaign
               FROM (SELECT lead_id, max(occurred_at) AS last,
                            (array_agg(campaign_id ORDER BY occurred_at) FILTER (WHERE campaign_id IS NOT NULL))[1]
                              AS first_campaign
                     FROM leads_touch WHERE lead_id IS NOT NULL GROUP BY lead_id) t
               WHERE l.id = t.lead_id"""
        )
        cursor.execute(
            """UPDATE leads_lead SET lifecycle_stage = 'mql', total_score = 60 + (id % 40),
                      mql_at = least(now(), created_at + random() * interval '30 days')
               WHERE random() < 0.10"""
        )
        cursor.execute(
            f"""INSERT INTO leads_handoff (lead_id, owner_id, team_id, state, score_at_handoff, fit_at_handoff, reason,
                   campaign_id, mql_at, assigned_at, first_touch_at, decided_at, decided_by_id, reject_reason,
                   reject_note, created_at)
                SELECT l.id, %s, %s, x.state, 60, 20, '', l.first_touch_campaign_id, l.mql_at, l.mql_at,
                       l.mql_at + interval '2 hours',
                       CASE WHEN x.state <> 'assigned' THEN least(now(), l.mql_at + interval '1 day') END,
                       CASE WHEN x.state <> 'assigned' THEN %s END,
                       CASE WHEN x.state = 'rejected' THEN {_pick(REASONS)} ELSE '' END, '', l.mql_at
                FROM leads_lead l
                CROSS JOIN LATERAL (SELECT CASE WHEN r < 0.5 THEN 'accepted' WHEN r < 0.9 THEN 'rejected'
                                                ELSE 'assigned' END AS state
                                    FROM (SELECT random() + 0 * l.id AS r) q) x
                WHERE l.mql_at IS NOT NULL""",
            [rep.pk, team.pk, rep.pk],
        )
        cursor.execute(
            """INSERT INTO pipeline_deal (name, company_id, contact_id, owner_id, team_id, stage_id, status, position,
                   amount, probability, expected_close_date, source, handoff_id, first_touch_campaign_id, next_step,
                   next_step_date, created_at, stage_changed_at, closed_at, won_amount, loss_cause, loss_side,
                   loss_note, version, updated_at)
               SELECT 'ベンチ商談 ' || h.id, l.company_id, l.id, %s, %s,
                      CASE x.status WHEN 'won' THEN %s WHEN 'lost' THEN %s ELSE %s END, x.status, h.id,
                      x.amount, 20, (now() + interval '60 days')::date, 'marketing', h.id,
                      l.first_touch_campaign_id, '', NULL, h.decided_at, h.decided_at,
                      CASE WHEN x.status <> 'open' THEN least(now(), h.decided_at + interval '45 days') END,
                      CASE WHEN x.status = 'won' THEN x.amount END,
                      CASE WHEN x.status = 'lost' THEN 'price' ELSE '' END,
                      CASE WHEN x.status = 'lost' THEN 'external' ELSE '' END, '', 1, now()
               FROM leads_handoff h JOIN leads_lead l ON l.id = h.lead_id
               CROSS JOIN LATERAL (SELECT CASE WHEN r < 0.3 THEN 'won' WHEN r < 0.6 THEN 'lost' ELSE 'open' END
                                            AS status,
                                          (500000 + floor(r * 5000000))::numeric AS amount
                                   FROM (SELECT random() + 0 * h.id AS r) q) x
               WHERE h.state = 'accepted'""",
            [rep.pk, team.pk, won_stage.pk, lost_stage.pk, open_stage.pk],
        )
        cursor.execute("SELECT count(*) FROM leads_handoff")
        handoffs = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM pipeline_deal WHERE name LIKE 'ベンチ商談%%'")
        deals = cursor.fetchone()[0]
        cursor.execute("ANALYZE")
    log(f"  {handoffs:,} handoffs, {deals:,} deals ({time.perf_counter() - started:.0f}s)")


def time_pages(*, requests: int, log=print) -> list[dict]:
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from campaigns.models import Campaign
    from salesmarketing.models import User

    client = Client()
    client.force_login(User.objects.get(username="bench_mktg"))
    busiest = Campaign.objects.filter(utm_campaign__startswith=MARKER).order_by("id")[150]
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
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--reset", action="store_true", help="Generate the data again.")
    parser.add_argument(
        "--rebuild", action="store_true", help="Time the full rebuild again on the existing data."
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/sm_campaigns_bench"),
    )
    args = parser.parse_args(argv)
    ensure_database(args.database_url)
    setup_django(args.database_url)
    from django.core.management import call_command
    from django.db import connection

    from campaigns.attribution import (
        LeadSelection,
        attribution_rebuild_now,
        attribution_refresh,
        rollups_refresh,
        score_bands_refresh,
    )
    from campaigns.models import AttributionCredit, AttributionDay, SegmentDay
    from campaigns.personas import personas_match
    from leads.models import Lead, Touch

    call_command("migrate", verbosity=0)
    print(f"database {args.database_url.rsplit('/', 1)[1]}")
    fresh = args.reset or generated_size() != args.leads
    if fresh:
        print(f"generating {args.leads:,} leads …")
        generate(args.leads)
    if fresh or args.rebuild:
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
               SELECT id, '', 'webinar_attended', now(), '', '', '', '', '', '', 1 + id %% 300, '{}'::jsonb,
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
