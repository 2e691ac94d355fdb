"""Fill a PostgreSQL database with deterministic demo-shaped data at design scale.

    uv run python bench/generate.py --size s|m|l [--seed 1] [--database-url postgres://…/sm_bench_l]

Sizes: s ≈ 10k leads, m ≈ 100k, l ≈ 1M, with ~10 touches per lead on average (a few hot leads, most cold),
a year of history, Japanese names and companies. Rows are generated inside PostgreSQL with generate_series
(fast, and the same for the same seed); secondary indexes are dropped before the load and rebuilt after it.
The database is migrated first and the generated tables are emptied, so a run always starts from scratch.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZES = {"s": 10_000, "m": 100_000, "l": 1_000_000}
TABLES = ["leads_touch", "leads_visitor", "leads_lead", "leads_company"]

FAMILY = "佐藤 鈴木 高橋 田中 伊藤 渡辺 山本 中村 小林 加藤 吉田 山田 佐々木 松本 井上 木村 林 清水 山口 森".split()
GIVEN = "健一 直子 大輔 美穂 翔 由美 浩二 恵 拓也 彩 誠 陽子 亮 真理子 隆 さくら 蓮 結衣 大翔 陽菜".split()
TITLES = "代表取締役 取締役 部長 部長 課長 課長 課長 係長 主任 主任 マネージャー 担当 担当 担当 担当 一般社員".split()
PREFIX = "株式会社 東邦 日本 みらい さくら 北斗 瀬戸内 中部 関西 青葉 丸の内 西日本 四国 大和 富士".split()
SUFFIX = "製作所 システムズ 物流 商事 建設 精機 化学工業 フーズ メディカル 不動産 コンサルティング 通販 エナジー".split()
INDUSTRIES = "manufacturing manufacturing it it logistics finance retail construction healthcare services public media other".split()
REGIONS = "kanto kanto kanto kinki kinki chubu chubu kyushu tohoku chugoku hokkaido shikoku".split()
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


def _array(values: list[str]) -> str:
    return "ARRAY[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _pick(values: list[str], rand: str) -> str:
    return f"({_array(values)})[1 + floor({rand} * {len(values)})::int]"


def _weighted_types() -> list[str]:
    return [kind for kind, weight in TOUCH_TYPES for _ in range(weight)]


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "salesmarketing.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only")
    os.environ.setdefault("ENV_FILE", "")
    sys.path.insert(0, str(ROOT))
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


def _secondary_indexes(cursor, table: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(constraints, plain indexes) of a table other than its primary key, as (name, definition)."""
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype IN ('u', 'x')",
        [table],
    )
    constraints = cursor.fetchall()
    cursor.execute(
        """SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT LIKE '%%_pkey'
           AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)""",
        [table, table],
    )
    return constraints, cursor.fetchall()


def generate(size: str, seed: int, *, log=print) -> dict[str, int]:
    """Load into a freshly migrated database (see ensure_database(fresh=True)); one transaction, so a failed
    load leaves nothing half-made (indexes included)."""
    from django.core.management import call_command
    from django.db import connection, transaction

    call_command("migrate", verbosity=0)
    n_leads = SIZES[size]
    n_companies = max(200, n_leads // 20)
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"TRUNCATE {', '.join(TABLES)}, leads_handoff, leads_assignmentlog RESTART IDENTITY CASCADE"
        )
        saved = {}
        for table in ("leads_touch", "leads_lead"):
            constraints, indexes = _secondary_indexes(cursor, table)
            saved[table] = (constraints, indexes)
            for name, _definition in constraints:
                cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            for name, _definition in indexes:
                cursor.execute(f'DROP INDEX "{name}"')
        cursor.execute("SELECT setseed(%s)", [(seed % 1000) / 1000])
        cursor.execute(
            f"""
            INSERT INTO leads_company (name, domain, industry, employee_count, region, prefecture, website, created_at, updated_at)
            SELECT {_pick(PREFIX, "random()")} || {_pick(SUFFIX, "random()")} || ' ' || g,
                   'c' || g || '.example.jp', {_pick(INDUSTRIES, "random()")},
                   (10 + floor(power(random(), 3) * 5000))::int, {_pick(REGIONS, "random()")}, '', '',
                   now() - interval '400 days', now()
            FROM generate_series(1, %s) g
            """,
            [n_companies],
        )
        log(f"  companies: {n_companies:,} ({time.perf_counter() - started:.1f}s)")
        cursor.execute(
            f"""
            INSERT INTO leads_lead (email, name, name_kana, title, department, phone, company_id, source, persona_set_by_hand,
                consent_email, lifecycle_stage, awareness_stage, fit_score, engagement_score, total_score,
                created_at, updated_at)
            SELECT 'lead' || g || '@c' || (1 + (g::bigint * 7919) %% %s) || '.example.jp',
                   {_pick(FAMILY, "random()")} || ' ' || {_pick(GIVEN, "random()")}, '',
                   {_pick(TITLES, "random()")}, '', '', 1 + (g::bigint * 7919) %% %s, 'import', false,
                   random() < 0.8, 'lead', 'latent', 0, 0, 0,
                   now() - (random() * interval '365 days'), now()
            FROM generate_series(1, %s) g
            """,
            [n_companies, n_companies, n_leads],
        )
        log(f"  leads: {n_leads:,} ({time.perf_counter() - started:.1f}s)")
        # Touches per lead: heavy-tailed (most leads a few, a few leads dozens); ~10 on average.
        types = _weighted_types()
        cursor.execute(
            f"""
            INSERT INTO leads_touch (lead_id, visitor_id, type, occurred_at, url, utm_source, utm_medium, utm_campaign,
                utm_content, utm_term, properties, source, idempotency_key, created_at)
            SELECT l.id, '', {_pick(types, "random()")}, l.created_at + (random() * (now() - l.created_at)),
                   'https://www.example.jp' || {_pick(PAGES, "random()")}, '', '', '', '', '', '{{}}'::jsonb,
                   'bench', l.id || '-' || k, now()
            FROM leads_lead l
            CROSS JOIN LATERAL generate_series(1, 1 + floor(power(random() + 0 * l.id, 4) * 45)::int) k
            """
        )
        cursor.execute("SELECT count(*) FROM leads_touch")
        n_touches = cursor.fetchone()[0]
        log(f"  touches: {n_touches:,} ({time.perf_counter() - started:.1f}s)")
        cursor.execute(
            """UPDATE leads_lead SET last_touch_at = t.last FROM (SELECT lead_id, max(occurred_at) AS last FROM leads_touch
               GROUP BY lead_id) t WHERE leads_lead.id = t.lead_id"""
        )
        # Run the deferred foreign-key checks now: PostgreSQL will not alter a table with checks pending.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for table, (constraints, indexes) in saved.items():
            for name, definition in constraints:
                cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
            for _name, definition in indexes:
                cursor.execute(definition)
        cursor.execute("ANALYZE leads_company, leads_lead, leads_touch")
        log(f"  indexes rebuilt, analyzed ({time.perf_counter() - started:.1f}s)")
    return {
        "companies": n_companies,
        "leads": n_leads,
        "touches": n_touches,
        "seconds": time.perf_counter() - started,
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", choices=SIZES, default="s")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/sm_bench"),
    )
    args = parser.parse_args(argv)
    ensure_database(args.database_url, fresh=True)
    setup_django(args.database_url)
    print(f"generating size {args.size} into {args.database_url.rsplit('/', 1)[1]}")
    counts = generate(args.size, args.seed)
    print(f"done in {counts['seconds']:.1f}s: {counts['leads']:,} leads, {counts['touches']:,} touches")


if __name__ == "__main__":
    main()
