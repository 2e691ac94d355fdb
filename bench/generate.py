"""Fill a PostgreSQL database with deterministic demo-shaped data at design scale: one run feeds every benchmark.

    uv run python bench/generate.py --size s|m|l|peer [--quick] [--open-share 0.05] [--seed 1]
                                    [--database-url postgres://…/sm_bench_l]

Sizes: s ≈ 10k leads, m ≈ 100k, l ≈ 1M (--quick: 2k, for the smoke test), with a year of history; `peer` is
shaped like the peers' demo data we compare with (Horilla CRM, DjangoCRM): ~20k leads, 2k companies, 50 campaigns,
500 users and ~6k deals, ~2/3 of them (~4k) open, so board-shaped pages carry a like-for-like load:

- users: a marketing team with a marketer (`bench_mktg`), two sales teams of reps (`bench_rep01`…), one manager
  of both (`bench_mgr`) and an admin (`bench_admin`); every password is `bench-pass-2026`;
- 300 campaigns with UTM codes, owners, personas and daily costs for a year;
- companies and leads (Japanese names, titles, departments, industries, regions), created over the year;
- ~10 touches per lead (heavy-tailed: most leads cold, a few hot), 45 % of them from a campaign (with its UTM
  tags), identified and anonymous visitors, and one lead with a long timeline (2,000 touches) for its page;
- handoffs for ~15 % of leads (accepted / rejected / open), deals from the accepted ones plus sales-sourced ones
  (~10 % of the lead count, ~5 % of them open: 100k deals with ~5k open at l; at `peer` ~30 % of the lead
  count, 67 % open; --open-share sets the open share at any size), stage history, activities with the
  customer's voice, and action items for the weekly review.

Rows are generated inside PostgreSQL with generate_series (fast, and the same for the same seed); secondary
indexes of the big tables are dropped before the load and rebuilt after it, and the visitor roll-up's trigger is
off during the load and the roll-up built once after it. Then personas, the attribution ledger and its roll-ups
are computed by the same code as the workers' (`attribution_rebuild_now`, one id range per core). The database
is dropped and created again first, so the schema is exactly what the migrations make. What was made is
recorded in the table `bench_meta` for the runner.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import sys
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZES = {"s": 10_000, "m": 100_000, "l": 1_000_000, "peer": 20_000}
# The share of deals still open, by size (--open-share overrides it): a year of our own history leaves most deals
# closed; the peers' demo data keeps most of them open.
OPEN_SHARE = {"s": 0.05, "m": 0.05, "l": 0.05, "peer": 0.67}
QUICK_LEADS = 2_000
PASSWORD = "bench-pass-2026"
MARKER = "bench-campaign"
# Tables the load fills; they are emptied first when the database is reused.
TABLES = [
    "kpis_actionitem", "kpis_weeklysnapshot", "pipeline_activity", "pipeline_stagechange", "pipeline_task",
    "pipeline_deal", "leads_assignmentlog", "leads_handoff", "leads_touch", "leads_visitor", "leads_lead",
    "leads_company", "campaigns_attributioncredit", "campaigns_attributionday", "campaigns_attributionmonth",
    "campaigns_attributionweek", "campaigns_segmentday", "campaigns_attributiondirtyday",
    "campaigns_attributionstate", "campaigns_campaigncost", "campaigns_campaigncostmonth", "campaigns_campaignverdictmonth",
    "campaigns_campaign_personas", "campaigns_campaign", "campaigns_personarule", "campaigns_persona",
    "salesmarketing_notification", "salesmarketing_apikey", "kpis_target", "leads_territoryrule",
    "leads_importjob", "django_admin_log",
]  # fmt: skip
# Secondary indexes of these are dropped for the load and rebuilt after it.
INDEXED = [
    "leads_touch",
    "leads_lead",
    "leads_handoff",
    "pipeline_deal",
    "pipeline_stagechange",
    "pipeline_activity",
]

FAMILY = "佐藤 鈴木 高橋 田中 伊藤 渡辺 山本 中村 小林 加藤 吉田 山田 佐々木 松本 井上 木村 林 清水 山口 森".split()
GIVEN = "健一 直子 大輔 美穂 翔 由美 浩二 恵 拓也 彩 誠 陽子 亮 真理子 隆 さくら 蓮 結衣 大翔 陽菜".split()
TITLES = "代表取締役 取締役 部長 部長 情報システム部長 課長 課長 マネージャー 係長 主任 主任 担当 担当 担当 担当 一般社員".split()
DEPARTMENTS = "情報システム部 営業部 営業企画部 経営企画部 人事部 総務部 製造部 マーケティング部".split()
PREFIX = "株式会社 東邦 日本 みらい さくら 北斗 瀬戸内 中部 関西 青葉 丸の内 西日本 四国 大和 富士".split()
SUFFIX = "製作所 システムズ 物流 商事 建設 精機 化学工業 フーズ メディカル 不動産 コンサルティング 通販 エナジー".split()
INDUSTRIES = "manufacturing manufacturing it it logistics finance retail construction healthcare services public media other".split()
REGIONS = "kanto kanto kanto kinki kinki chubu chubu kyushu tohoku chugoku hokkaido shikoku".split()
SOURCES = "web_form web_form web_form api import import trade_show seminar referral tracking".split()
CHANNELS = "web_ad sns seo whitepaper webinar seminar trade_show email referral".split()
UTM = {"web_ad": ("google", "cpc"), "sns": ("facebook", "paid_social"), "seo": ("google", "organic"),
       "whitepaper": ("newsletter", "email"), "webinar": ("newsletter", "email"), "seminar": ("newsletter", "email"),
       "trade_show": ("event", "offline"), "email": ("newsletter", "email"), "referral": ("partner", "referral")}  # fmt: skip
TOUCH_TYPES = [("page_view", 55), ("email_open", 14), ("email_click", 6), ("content_download", 6), ("ad_click", 6),
               ("webinar_registered", 4), ("webinar_attended", 3), ("seminar_attended", 2), ("trade_show_visit", 2),
               ("form_submit", 2)]  # fmt: skip
PAGES = [
    "/",
    "/features",
    "/blog/overtime",
    "/blog/kpi",
    "/case/manufacturing",
    "/pricing",
    "/compare",
    "/contact",
]
REASONS = "too_early too_early too_early not_a_fit no_budget bad_contact competitor".split()
LOSS = [("price", "external"), ("competitor", "external"), ("timing", "external"), ("poor_fit", "marketing"),
        ("weak_proposal", "sales"), ("slow_follow_up", "sales"), ("product_gap", "product")]  # fmt: skip
VOICES = [
    "部下の残業が多くて困っている",
    "月末の締め作業が大変",
    "コストより現場の負担を減らしたい",
    "承認に1週間かかる",
]


def plan(size: str, *, quick: bool = False, open_share: float | None = None) -> dict:
    """How much of everything a size gets (`open_share`: the share of deals left open; default by size)."""
    leads = QUICK_LEADS if quick else SIZES[size]
    peer = size == "peer"
    share = OPEN_SHARE[size] if open_share is None else open_share
    if not 0 <= share <= 1:
        raise ValueError(f"open share {share} is not between 0 and 1")
    return {
        "leads": leads,
        "companies": leads // 10 if peer else max(200, leads // 20),
        "campaigns": 40 if quick else 50 if peer else 300,
        # peer: 500 users with the marketer, the manager and the admin
        "reps": {"s": 10, "m": 20, "l": 40, "peer": 497}[size],
        "hot_touches": 300 if quick else 2_000,  # the one lead with a long timeline
        "anonymous_visitors": leads // 3,
        # Sales-sourced deals beside the ~7.5 % of leads whose handoff was accepted: ~10 % of the lead count in
        # deals, at peer ~30 % (6k deals for 20k leads).
        "sales_deals": leads * 9 // 40 if peer else leads // 40,
        "open_share": share,
    }


def _array(values) -> str:
    return (
        "ARRAY["
        + ", ".join(str(v) if isinstance(v, int) else "'" + v.replace("'", "''") + "'" for v in values)
        + "]"
    )


def _pick(values, rand: str = "random()") -> str:
    return f"({_array(values)})[1 + floor({rand} * {len(values)})::int]"


def _weighted_types() -> list[str]:
    return [kind for kind, weight in TOUCH_TYPES for _ in range(weight)]


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "salesmarketing.settings")
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))  # DEBUG is off: a strong key
    os.environ.setdefault("ENV_FILE", "")
    os.environ.setdefault("SECURE_COOKIES", "0")  # served over plain HTTP on 127.0.0.1: no HTTPS redirect
    if str(ROOT) not in sys.path[:1]:
        sys.path.insert(0, str(ROOT))  # before bench/, so that `kpis` and `campaigns` are the apps
    import django

    django.setup()


def ensure_database(database_url: str, *, fresh: bool = False) -> None:
    """Create the database if missing; `fresh` drops it first, so the schema is exactly what migrations make."""
    import psycopg

    parts = urllib.parse.urlsplit(database_url)
    name = parts.path.lstrip("/")
    admin = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        if fresh:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(database_url: str) -> None:
    import psycopg

    parts = urllib.parse.urlsplit(database_url)
    admin = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')


def _secondary_indexes(cursor, table: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(constraints, plain indexes) of a table other than its primary key, as (name, definition). Foreign keys
    count too: checked row by row during a load, they cost more than one validating join afterwards."""
    cursor.execute(
        """SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass
           AND contype IN ('u', 'x', 'f') ORDER BY contype DESC""",
        [table],
    )
    constraints = cursor.fetchall()
    cursor.execute(
        """SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT LIKE '%%_pkey'
           AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)""",
        [table, table],
    )
    return constraints, cursor.fetchall()


def read_meta() -> dict | None:
    """What the last generate() recorded in this database, or None."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('bench_meta') IS NOT NULL")
        if not cursor.fetchone()[0]:
            return None
        cursor.execute("SELECT value FROM bench_meta WHERE key = 'generate'")
        row = cursor.fetchone()
    if not row:
        return None
    return row[0] if isinstance(row[0], dict) else json.loads(row[0])


def _users(n_reps: int) -> dict:
    from django.contrib.auth.hashers import make_password

    from salesmarketing.models import Team, User

    password = make_password(PASSWORD)  # hashed once: hashing per user would dominate a small load

    def user(username: str, display: str, role: str, team=None, **extra) -> User:
        obj = User(username=username, display_name=display, role=role, team=team, password=password, **extra)
        obj.save()
        return obj

    marketing = Team.objects.create(name="ベンチ マーケティング部", kind=Team.Kind.MARKETING)
    east = Team.objects.create(name="ベンチ 営業一部 (東日本)", kind=Team.Kind.SALES)
    west = Team.objects.create(name="ベンチ 営業二部 (西日本)", kind=Team.Kind.SALES)
    marketer = user("bench_mktg", "ベンチ 広報", User.Role.MARKETING, marketing)
    manager = user("bench_mgr", "ベンチ 課長", User.Role.MANAGER, east)
    admin = user("bench_admin", "ベンチ 管理者", User.Role.ADMIN, None, is_staff=True, is_superuser=True)
    Team.objects.filter(pk__in=[east.pk, west.pk]).update(manager=manager)  # the manager sees every deal
    Team.objects.filter(pk=marketing.pk).update(manager=marketer)
    reps = [
        user(f"bench_rep{i:02}", f"{FAMILY[i % len(FAMILY)]} 担当{i:02}", User.Role.SALES,
             east if i % 2 else west, handoff_capacity=10_000)
        for i in range(1, n_reps + 1)
    ]  # fmt: skip
    return {"marketer": marketer, "manager": manager, "admin": admin, "reps": reps}


def _campaigns(n: int, marketer) -> None:
    """campaigns with personas and rules (from the former bench/campaigns.py)."""
    from django.utils import timezone

    from campaigns.models import PersonaRule
    from leads.models import Campaign, Persona

    personas = [
        Persona.objects.create(name=name)
        for name in ("情シス部長 (中堅製造業)", "現場マネージャー", "中小企業の経営者", "営業企画担当")
    ]
    PersonaRule.objects.bulk_create(
        [
            PersonaRule(persona=personas[0], title_contains="部長", department_contains="情報システム", priority=10),
            PersonaRule(persona=personas[0], title_contains="部長", industry="manufacturing", employees_min=300, priority=20),
            PersonaRule(persona=personas[1], title_contains="課長, マネージャー, 係長", priority=40),
            PersonaRule(persona=personas[2], title_contains="代表, 取締役", employees_max=299, priority=5),
            PersonaRule(persona=personas[3], department_contains="営業企画", priority=30),
        ]
    )  # fmt: skip
    today = timezone.localdate()
    made = Campaign.objects.bulk_create(
        Campaign(
            name=f"ベンチ施策 {i:03d}",
            channel=CHANNELS[i % len(CHANNELS)],
            status=Campaign.Status.ACTIVE,
            utm_campaign=f"{MARKER}-{i:03d}",
            utm_source=UTM[CHANNELS[i % len(CHANNELS)]][0],
            utm_medium=UTM[CHANNELS[i % len(CHANNELS)]][1],
            start_date=today - dt.timedelta(days=365 - i % 300),
            end_date=today + dt.timedelta(days=30),
            budget=1_000_000,
            owner=marketer,
        )
        for i in range(n)
    )
    Campaign.personas.through.objects.bulk_create(
        Campaign.personas.through(campaign_id=c.pk, persona_id=personas[i % len(personas)].pk)
        for i, c in enumerate(made)
    )


def generate(
    size: str, seed: int = 1, *, quick: bool = False, open_share: float | None = None, log=print
) -> dict:
    """Load into a freshly migrated database (see ensure_database(fresh=True)); one transaction, so a failed
    load leaves nothing half-made (indexes included). Returns the counts, also stored in `bench_meta`."""
    from django.core.management import call_command
    from django.db import connection, transaction

    from campaigns.personas import persona_expression
    from kpis.services import visitor_periods_rebuild
    from leads.models import Lead
    from leads.records.normalize import company_name_key
    from leads.scoring.defaults import ensure_default_scoring
    from pipeline.services import pipeline_ensure_default

    call_command("migrate", verbosity=0)
    p = plan(size, quick=quick, open_share=open_share)
    n_leads, n_companies, n_campaigns = p["leads"], p["companies"], p["campaigns"]
    started = time.perf_counter()

    def step(text: str) -> None:
        log(f"  {text} ({time.perf_counter() - started:.1f}s)")

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
        cursor.execute("DELETE FROM salesmarketing_user WHERE username LIKE 'bench%%'")
        cursor.execute("DELETE FROM salesmarketing_team WHERE name LIKE 'ベンチ%%'")
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no checks pending when the tables are altered below
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
        cursor.execute("SET LOCAL synchronous_commit = off")
        saved = {}
        for table in INDEXED:
            constraints, indexes = _secondary_indexes(cursor, table)
            saved[table] = (constraints, indexes)
            for name, _definition in constraints:
                cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            for name, _definition in indexes:
                cursor.execute(f'DROP INDEX "{name}"')

        users = _users(p["reps"])
        rep_ids = [r.pk for r in users["reps"]]
        rep_teams = [r.team_id for r in users["reps"]]
        k = len(rep_ids)
        pipeline = pipeline_ensure_default()
        stages = list(pipeline.stages.order_by("order"))
        open_ids = [s.pk for s in stages if not s.is_closed]
        open_probs = [s.probability for s in stages if not s.is_closed]
        won_id = next(s.pk for s in stages if s.is_won)
        lost_id = next(s.pk for s in stages if s.is_lost)
        ensure_default_scoring()
        _campaigns(n_campaigns, users["marketer"])
        cursor.execute("SELECT min(id), max(id) FROM campaigns_campaign")
        first_campaign, last_campaign = cursor.fetchone()
        cursor.execute("SELECT setseed(%s)", [(seed % 1000) / 1000])
        # Daily costs over the last year, from each campaign's start (from the former bench/kpis.py).
        cursor.execute(
            """INSERT INTO campaigns_campaigncost (campaign_id, date, amount, description, external_id, created_at)
               SELECT c.id, d, 5000 + floor(random() * 45000), 'ベンチ', 'bench-' || c.id || '-' || d, now()
               FROM campaigns_campaign c
               CROSS JOIN generate_series(c.start_date, (now() AT TIME ZONE 'Asia/Tokyo')::date, interval '1 day') d"""
        )
        step(f"users ({k} reps), {n_campaigns} campaigns with a year of daily costs")

        cursor.execute(
            f"""
            INSERT INTO leads_company (name, domain, industry, employee_count, region, prefecture, website, created_at, updated_at)
            SELECT {_pick(PREFIX)} || {_pick(SUFFIX)} || ' ' || g, 'c' || g || '.example.jp', {_pick(INDUSTRIES)},
                   (10 + floor(power(random(), 3) * 5000))::int, {_pick(REGIONS)}, '', '',
                   now() - interval '400 days', now()
            FROM generate_series(1, %s) g
            """,
            [n_companies],
        )
        # Leads go in in time order, as a live system appends them (pages read time ranges); 40 % have an owner.
        cursor.execute(
            f"""
            INSERT INTO leads_lead (email, name, name_kana, title, department, phone, company_id, source,
                persona_set_by_hand, consent_email, lifecycle_stage, awareness_stage, fit_score, engagement_score,
                total_score, created_at, updated_at, owner_id, email_key, name_key, work_domain)
            SELECT *, email, replace(name, ' ', ''), split_part(email, '@', 2) FROM (
                SELECT 'lead' || g || '@c' || (1 + (g::bigint * 7919) %% %(nc)s) || '.example.jp' AS email,
                       {_pick(FAMILY)} || ' ' || {_pick(GIVEN)} AS name, '', {_pick(TITLES)}, {_pick(DEPARTMENTS)}, '',
                       1 + (g::bigint * 7919) %% %(nc)s, {_pick(SOURCES)}, false, random() < 0.8, 'lead',
                       {_pick(["latent", "latent", "semi", "manifest"])}, floor(random() * 50)::int,
                       floor(power(random(), 3) * 50)::int, floor(power(random(), 2) * 90)::int,
                       now() - (random() * interval '365 days') AS created_at, now(),
                       CASE WHEN random() < 0.4 THEN {_pick(rep_ids)} END
                FROM generate_series(1, %(n)s) g
            ) x ORDER BY created_at
            """,
            {"nc": n_companies, "n": n_leads},
        )
        # The lead with the long timeline: the oldest one (id 1), a 部長 at a big manufacturer.
        cursor.execute(
            "UPDATE leads_lead SET title = '製造本部 部長', name = '高橋 健一', name_key = '高橋健一', "
            "created_at = now() - interval '365 days' WHERE id = 1"
        )
        # The companies' match keys (leads.records.normalize), as save() keeps them: a few thousand rows.
        from leads.models import Company

        companies = list(Company.objects.only("pk", "name"))
        for company in companies:
            company.name_key = company_name_key(company.name)
        Company.objects.bulk_update(companies, ["name_key"], batch_size=2000)
        # Personas as the workers' rule matching gives them; set here, while the leads have no indexes to update.
        Lead.objects.update(persona_id=persona_expression())
        step(f"{n_companies:,} companies, {n_leads:,} leads")
        # Touches per lead: heavy-tailed (most leads a few, a few leads dozens); ~10 on average. 60 % of leads
        # browse with a visitor cookie; 45 % of touches come from a campaign, with its UTM tags. Anonymous
        # visitors add page views of their own. All in time order.
        types = _weighted_types()
        # The visitor roll-up is built once after the load: the trigger's per-statement upsert of 10M page views
        # took three quarters of this step.
        cursor.execute("ALTER TABLE leads_touch DISABLE TRIGGER kpis_visitor_period_add")
        cursor.execute(
            f"""
            INSERT INTO leads_touch (lead_id, visitor_id, type, occurred_at, url, utm_source, utm_medium, utm_campaign,
                utm_content, utm_term, campaign_id, properties, source, idempotency_key, created_at)
            SELECT lead_id, visitor_id, type, occurred_at, url, coalesce(cc.utm_source, ''),
                   coalesce(cc.utm_medium, ''), coalesce(cc.utm_campaign, ''), '', '', c, '{{}}'::jsonb, t.source, key,
                   now()
            FROM (
                SELECT l.id AS lead_id, CASE WHEN l.id %% 5 < 3 THEN 'v' || l.id ELSE '' END AS visitor_id,
                       {_pick(types)} AS type,
                       least(now(), l.created_at - interval '20 days'
                                    + random() * (now() - l.created_at + interval '20 days')) AS occurred_at,
                       'https://www.example.jp' || {_pick(PAGES)} AS url,
                       CASE WHEN random() < 0.45 THEN %(c0)s + floor(random() * %(nc)s)::int END AS c,
                       'bench' AS source, l.id || '-' || k AS key
                FROM leads_lead l
                CROSS JOIN LATERAL generate_series(1, 1 + floor(power(random() + 0 * l.id, 4) * 45)::int) k
                UNION ALL
                SELECT 1, 'v1', {_pick(types)}, now() - random() * interval '365 days',
                       'https://www.example.jp' || {_pick(PAGES)},
                       CASE WHEN random() < 0.45 THEN %(c0)s + floor(random() * %(nc)s)::int END, 'bench', 'hot-' || g
                FROM generate_series(1, %(hot)s) g
                UNION ALL
                SELECT NULL, 'anon' || (1 + floor(random() * %(anon)s)::int), 'page_view',
                       now() - random() * interval '365 days', 'https://www.example.jp' || {_pick(PAGES)},
                       CASE WHEN random() < 0.3 THEN %(c0)s + floor(random() * %(nc)s)::int END, 'bench-anon', 'anon-' || g
                FROM generate_series(1, %(anon_touches)s) g
            ) t LEFT JOIN campaigns_campaign cc ON cc.id = t.c ORDER BY occurred_at
            """,
            {
                "c0": first_campaign,
                "nc": last_campaign - first_campaign + 1,
                "hot": p["hot_touches"],
                "anon": p["anonymous_visitors"],
                "anon_touches": p["anonymous_visitors"] * 3,
            },
        )
        n_touches = cursor.rowcount
        step(f"{n_touches:,} touches")
        cursor.execute("ALTER TABLE leads_touch ENABLE TRIGGER kpis_visitor_period_add")
        visitor_periods_rebuild()
        cursor.execute(
            """INSERT INTO leads_visitor (visitor_id, lead_id, first_seen_at, identified_at)
               SELECT visitor_id, lead_id, min(occurred_at), CASE WHEN lead_id IS NOT NULL THEN min(occurred_at) END
               FROM leads_touch WHERE visitor_id <> '' GROUP BY visitor_id, lead_id"""
        )
        step("visitors, and the visitors per week, month and quarter")
        cursor.execute(
            """UPDATE leads_lead l SET last_touch_at = t.last, first_touch_campaign_id = t.first_campaign
               FROM (SELECT lead_id, max(occurred_at) AS last,
                            (array_agg(campaign_id ORDER BY occurred_at) FILTER (WHERE campaign_id IS NOT NULL))[1]
                              AS first_campaign
                     FROM leads_touch WHERE lead_id IS NOT NULL GROUP BY lead_id) t
               WHERE l.id = t.lead_id"""
        )
        # Handoffs for ~15 % of leads (from the former bench/kpis.py): half accepted, a quarter rejected, the
        # rest still with the rep.
        cursor.execute(
            f"""INSERT INTO leads_handoff (lead_id, owner_id, team_id, state, score_at_handoff, fit_at_handoff, reason,
                   campaign_id, mql_at, assigned_at, sla_due_at, first_touch_at, decided_at, decided_by_id,
                   reject_reason, reject_note, created_at, updated_at)
               SELECT id, ({_array(rep_ids)})[i], ({_array(rep_teams)})[i], st, 70, 30, '', first_touch_campaign_id,
                      mql, mql + interval '5 minutes', mql + interval '4 hours 5 minutes',
                      CASE WHEN touched OR st IN ('accepted', 'rejected') THEN mql + interval '5 minutes' + r3 * interval '8 hours' END,
                      CASE WHEN st IN ('accepted', 'rejected') THEN least(now(), mql + interval '9 hours' + r3 * interval '2 days') END,
                      CASE WHEN st IN ('accepted', 'rejected') THEN ({_array(rep_ids)})[i] END,
                      CASE WHEN st = 'rejected' THEN {_pick(REASONS)} ELSE '' END,
                      CASE WHEN st = 'rejected' THEN '資料を見ただけ' ELSE '' END, mql, mql
               FROM (
                   SELECT l.id, l.first_touch_campaign_id, 1 + floor(random() * {k})::int AS i, random() AS r3,
                          l.created_at + random() * (now() - l.created_at) * 0.5 AS mql,
                          random() < 0.9 AS touched,
                          (ARRAY['accepted','accepted','rejected','assigned'])[1 + floor(random() * 4)::int] AS st
                   FROM leads_lead l WHERE random() < 0.15 OR l.id = 1
               ) x"""
        )
        cursor.execute(
            """UPDATE leads_handoff SET first_touch_at = least(first_touch_at, decided_at) WHERE decided_at IS NOT NULL"""
        )
        cursor.execute(
            """UPDATE leads_lead l SET mql_at = h.mql_at, total_score = greatest(l.total_score, 60 + l.id % 40),
                      fit_score = greatest(l.fit_score, 30),
                      lifecycle_stage = CASE h.state WHEN 'accepted' THEN 'opportunity' WHEN 'rejected' THEN 'recycled'
                                                     ELSE 'mql' END
               FROM leads_handoff h WHERE h.lead_id = l.id"""
        )
        # Deals: one per accepted handoff plus sales-sourced ones; the open share (~5 %, at peer 67 %) on the
        # board, the rest won (40 %) or lost with a cause and a side, closed within 120 days.
        cursor.execute(
            f"""INSERT INTO pipeline_deal (name, status, position, amount, probability, expected_close_date, source,
                   next_step, next_step_date, created_at, stage_changed_at, closed_at, won_amount, loss_cause, loss_side,
                   loss_note, version, updated_at, company_id, contact_id, handoff_id, owner_id, team_id, stage_id,
                   first_touch_campaign_id)
               SELECT {_pick(PREFIX, "r2")} || '様 ' || {_pick(["業務改善", "勤怠刷新", "全社導入", "追加ライセンス", "PoC"], "r3")} || ' ' || n,
                      st, n::bigint * 1048576, amount,
                      CASE st WHEN 'won' THEN 100 WHEN 'lost' THEN 0 ELSE (%(probs)s::int[])[(1 + n %% %(n_open)s)::int] END,
                      CASE WHEN st = 'open' THEN current_date + (n %% 180)::int - 30 ELSE (created + interval '60 days')::date END,
                      source, CASE WHEN st = 'open' THEN '見積の再提示' ELSE '' END,
                      CASE WHEN st = 'open' THEN current_date + (n %% 21)::int - 7 END,
                      created, CASE WHEN st = 'open' THEN created + (now() - created) * r3 ELSE closed END, closed,
                      CASE WHEN st = 'won' THEN amount END,
                      CASE WHEN st = 'lost' THEN ({_array([c for c, _ in LOSS])})[li] ELSE '' END,
                      CASE WHEN st = 'lost' THEN ({_array([s for _, s in LOSS])})[li] ELSE '' END,
                      CASE WHEN st = 'lost' THEN '他社で決定' ELSE '' END, 1, now(), company_id, contact_id, handoff_id,
                      owner_id, team_id,
                      CASE st WHEN 'won' THEN %(won)s WHEN 'lost' THEN %(lost)s
                           ELSE (%(stages)s::bigint[])[(1 + n %% %(n_open)s)::int] END,
                      campaign_id
               FROM (
                   SELECT *, CASE WHEN st <> 'open' THEN created + r3 * LEAST(now() - created, interval '120 days') END AS closed
                   FROM (
                       SELECT *, row_number() OVER () AS n,
                              CASE WHEN r1 < %(open_share)s THEN 'open' WHEN r2 < 0.4 THEN 'won' ELSE 'lost' END AS st,
                              1 + floor(random() * {len(LOSS)})::int AS li,
                              (300000 + floor(random() * 50) * 100000)::numeric AS amount
                       FROM (
                           SELECT h.decided_at AS created, 'marketing' AS source, l.company_id,
                                  l.id AS contact_id, h.id AS handoff_id, h.owner_id, h.team_id,
                                  h.campaign_id, random() AS r1, random() AS r2, random() AS r3
                           FROM leads_handoff h JOIN leads_lead l ON l.id = h.lead_id WHERE h.state = 'accepted'
                           UNION ALL
                           SELECT now() - random() * interval '365 days', 'sales', 1 + g %% %(nc)s, NULL,
                                  NULL, ({_array(rep_ids)})[1 + g %% {k}], ({_array(rep_teams)})[1 + g %% {k}], NULL,
                                  random(), random(), random()
                           FROM generate_series(1, %(sales)s) g
                       ) a ORDER BY created
                   ) b
               ) c""",
            {
                "probs": open_probs,
                "n_open": len(open_ids),
                "stages": open_ids,
                "won": won_id,
                "lost": lost_id,
                "nc": n_companies,
                "sales": p["sales_deals"],
                "open_share": p["open_share"],
            },
        )
        # Stage history (from the former bench/board.py): closed deals went through every open stage, then
        # closed; open deals have their creation row and one move into their stage.
        cursor.execute(
            """
            INSERT INTO pipeline_stagechange (deal_id, from_stage_id, to_stage_id, changed_by_id, changed_at,
                                              seconds_in_from_stage)
            SELECT d.id,
                   CASE WHEN k = 0 THEN NULL ELSE (%(stages)s::bigint[])[k] END,
                   CASE WHEN k < %(n_open)s THEN (%(stages)s::bigint[])[k + 1] ELSE d.stage_id END,
                   d.owner_id,
                   d.created_at + (d.closed_at - d.created_at) * k * (0.7 + (d.id %% 7) / 10.0) / (%(n_open)s + 1),
                   CASE WHEN k = 0 THEN NULL
                        ELSE (extract(epoch FROM d.closed_at - d.created_at) * (0.7 + (d.id %% 7) / 10.0) / (%(n_open)s + 1))::bigint END
            FROM pipeline_deal d CROSS JOIN generate_series(0, %(n_open)s) k
            WHERE d.status <> 'open'
            """,
            {"stages": open_ids, "n_open": len(open_ids)},
        )
        cursor.execute(
            """
            INSERT INTO pipeline_stagechange (deal_id, from_stage_id, to_stage_id, changed_by_id, changed_at,
                                              seconds_in_from_stage)
            SELECT d.id, NULL, %(first)s, d.owner_id, d.created_at, NULL
            FROM pipeline_deal d WHERE d.status = 'open'
            UNION ALL
            SELECT d.id, %(first)s, d.stage_id, d.owner_id, d.stage_changed_at,
                   extract(epoch FROM d.stage_changed_at - d.created_at)::bigint
            FROM pipeline_deal d WHERE d.status = 'open' AND d.stage_id <> %(first)s
            """,
            {"first": open_ids[0]},
        )
        cursor.execute(
            """UPDATE leads_lead l SET lifecycle_stage = 'customer' FROM pipeline_deal d
               WHERE d.contact_id = l.id AND d.status = 'won'"""
        )
        # Activities with the customer's voice (from the former bench/kpis.py).
        cursor.execute(
            f"""INSERT INTO pipeline_activity (deal_id, lead_id, type, subject, body, outcome, occurred_at, is_voice,
                   voice_text, created_by_id, created_at, updated_at)
               SELECT d.id, d.contact_id, {_pick(["call", "call", "meeting", "email"])}, 'ヒアリング', '', '',
                      least(now(), d.created_at + random() * (coalesce(d.closed_at, now()) - d.created_at)),
                      v, CASE WHEN v THEN {_pick(VOICES)} ELSE '' END, d.owner_id, now(), now()
               FROM (SELECT d.*, random() < 0.15 AS v FROM pipeline_deal d, generate_series(1, 2) s
                     WHERE random() < 0.5) d"""
        )
        cursor.execute(
            """SELECT (SELECT count(*) FROM leads_handoff), (SELECT count(*) FROM pipeline_deal),
                      (SELECT count(*) FROM pipeline_deal WHERE status = 'open'), (SELECT count(*) FROM pipeline_activity)"""
        )
        n_handoffs, n_deals, n_open, n_activities = cursor.fetchone()
        step(f"{n_handoffs:,} handoffs, {n_deals:,} deals ({n_open:,} open), {n_activities:,} activities")

        # Run the deferred foreign-key checks now: PostgreSQL will not alter a table with checks pending.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        took = []
        for table, (constraints, indexes) in saved.items():
            t0 = time.perf_counter()
            for name, definition in constraints:
                cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
            for _name, definition in indexes:
                cursor.execute(definition)
            took.append(f"{table.split('_', 1)[1]} {time.perf_counter() - t0:.1f}s")
        step(f"indexes and constraints rebuilt: {', '.join(took)}")

        from kpis import services
        from kpis.periods import Period

        week = Period.last_complete_week()
        for i in range(40):
            services.action_item_create(
                title=f"ベンチの宿題 {i}",
                owner=users["reps"][i % k],
                due_date=week.end,
                week=week.shift(-(i % 6)),
                by=users["manager"],
            )
        cursor.execute("ANALYZE")
    load_seconds = time.perf_counter() - started
    # What the workers would have built by now: personas, the attribution ledger, its roll-ups, score bands.
    # Two workers at once, as on a 2-core machine.
    from campaigns.rebuild import attribution_rebuild_now

    attribution_rebuild_now(workers=os.cpu_count() or 2)
    derived_seconds = time.perf_counter() - started - load_seconds
    step("attribution ledger and roll-ups built")
    # As autovacuum would have by now: the visibility map (index-only scans) and hint bits set, the dead rows of
    # the updates above gone, fresh statistics; the first timed request does not pay for any of it.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE)")
    step("vacuumed and analyzed")
    meta = {
        "size": size,
        "quick": quick,
        "seed": seed,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "leads": n_leads,
        "companies": n_companies,
        "touches": n_touches,
        "campaigns": n_campaigns,
        "users": k + 3,
        "reps": k,
        "handoffs": n_handoffs,
        "deals": n_deals,
        "open_deals": n_open,
        "open_share": p["open_share"],
        "activities": n_activities,
        "hot_lead_id": 1,
        "hot_lead_touches": p["hot_touches"],
        "load_seconds": round(load_seconds, 1),
        "derived_seconds": round(derived_seconds, 1),
        "seconds": round(time.perf_counter() - started, 1),
    }
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_meta (key text PRIMARY KEY, value jsonb NOT NULL)")
        cursor.execute(
            """INSERT INTO bench_meta (key, value) VALUES ('generate', %s)
               ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value""",
            [json.dumps(meta)],
        )
    return meta


def peek_meta(database_url: str) -> dict | None:
    """read_meta() without Django: None when the database or its bench data is missing."""
    import psycopg

    try:
        with psycopg.connect(database_url, autocommit=True) as conn:
            if not conn.execute("SELECT to_regclass('bench_meta') IS NOT NULL").fetchone()[0]:
                return None
            row = conn.execute("SELECT value FROM bench_meta WHERE key = 'generate'").fetchone()
    except psycopg.OperationalError:
        return None
    return row[0] if row else None


def ensure_generated(
    database_url: str,
    size: str,
    *,
    quick: bool = False,
    regenerate: bool = False,
    open_share: float | None = None,
    log=print,
) -> dict:
    """Set Django up on the bench database, generating the data first unless it already holds this size (with
    this open share of deals)."""
    meta = None if regenerate else peek_meta(database_url)
    share = plan(size, quick=quick, open_share=open_share)["open_share"]
    if (
        meta is None
        or meta.get("size") != size
        or bool(meta.get("quick")) != quick
        or meta.get("open_share", OPEN_SHARE.get(size)) != share
    ):
        ensure_database(database_url, fresh=True)
        setup_django(database_url)
        log(f"generating size {size}{' (quick)' if quick else ''} into {database_url.rsplit('/', 1)[1]}")
        return generate(size, quick=quick, open_share=share, log=log)
    setup_django(database_url)
    log(f"reusing size {size} data generated {meta['date']}")
    return meta


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", choices=SIZES, default="s")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_LEADS:,} leads (smoke tests)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--open-share",
        type=float,
        default=None,
        help="share of deals left open, 0–1 (default: "
        + ", ".join(f"{k} {v}" for k, v in OPEN_SHARE.items())
        + ")",
    )
    parser.add_argument("--database-url", default=None, help="default: …/sm_bench_<size>")
    args = parser.parse_args(argv)
    url = args.database_url or os.environ.get("BENCH_DATABASE_URL") or default_url(args.size)
    ensure_database(url, fresh=True)
    setup_django(url)
    print(f"generating size {args.size}{' (quick)' if args.quick else ''} into {url.rsplit('/', 1)[1]}")
    meta = generate(args.size, args.seed, quick=args.quick, open_share=args.open_share)
    print(
        f"done in {meta['seconds']:.1f}s: {meta['leads']:,} leads, {meta['touches']:,} touches, "
        f"{meta['deals']:,} deals ({meta['open_deals']:,} open)"
    )


def default_url(size: str) -> str:
    return f"postgres://postgres@127.0.0.1:5432/sm_bench_{size}"


if __name__ == "__main__":
    main()
