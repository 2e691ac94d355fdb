"""Throughput of `POST /api/v1/events` against PostgreSQL behind gunicorn on 127.0.0.1. Prints events/second.

    uv run python bench/ingest.py --events 100000 --batch 1000

Without --url it sets everything up itself: creates the database (default `sm_bench`) if missing, migrates it,
creates an API key, starts gunicorn on a free port, sends the batches from --concurrency client threads, and
stops gunicorn again. With --url and --key it only sends (to a server you run). Event ids carry a run id, so
runs never collide; a final replay of one batch checks that repeats count as duplicates.

A benchmark, not a test: it prints figures and fails only when the server answers with errors. bench/run.py uses
these functions for its ingest figure, with the events' emails taken from the generated leads and, as the floor,
the bare INSERT of the same rows (floor_insert).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project first: `bench.…`, then the apps
from bench.generate import ensure_database  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

PAGES = ["/", "/pricing", "/case/acme", "/blog/dx", "/compare", "/product", "/whitepaper", "/seminar/2026"]
TYPES = [
    ("page_view", 55),
    ("email_open", 12),
    ("email_click", 8),
    ("form_submit", 8),
    ("content_download", 7),
    ("webinar_registered", 5),
    ("webinar_attended", 3),
    ("demo_request", 2),
]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000, help="events to send (default 100,000)")
    parser.add_argument("--batch", type=int, default=1000, help="events per request (at most 1,000)")
    parser.add_argument("--concurrency", type=int, default=8, help="client threads (default 8)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes (default 4)")
    parser.add_argument("--leads", type=int, default=20_000, help="distinct emails in the generated events")
    parser.add_argument("--visitors", type=int, default=50_000, help="distinct visitor ids")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/sm_bench"),
        help="PostgreSQL database for the server (created if missing)",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("REDIS_URL", ""),
        help="broker for the scoring tasks the ingest schedules (default $REDIS_URL; empty: run them in-process)",
    )
    parser.add_argument("--no-migrate", action="store_true", help="the database is already migrated")
    parser.add_argument("--url", help="an already running server, e.g. http://127.0.0.1:8000 (needs --key)")
    parser.add_argument("--key", help="API key with events:write for --url")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if not 1 <= args.batch <= 1000:
        parser.error("--batch must be between 1 and 1000")
    if args.url and not args.key:
        parser.error("--url needs --key")
    return args


def make_batches(args: argparse.Namespace, run_id: str, emails: list[str] | None = None) -> list[bytes]:
    """The request bodies, built before the clock starts; `emails` (known leads) replaces the made-up ones."""
    rng = random.Random(args.seed)
    kinds = [kind for kind, weight in TYPES for _ in range(weight)]
    campaigns = [f"bench-{n}" for n in range(20)]
    bodies: list[bytes] = []
    for start in range(0, args.events, args.batch):
        events = []
        for n in range(start, min(start + args.batch, args.events)):
            kind = rng.choice(kinds)
            event: dict = {
                "id": f"{run_id}-{n}",
                "type": kind,
                "url": "https://www.example.co.jp" + rng.choice(PAGES),
            }
            lead = rng.randrange(args.leads)
            email = rng.choice(emails) if emails else f"lead{lead}@bench{lead % 500}.example.jp"
            if kind == "page_view":
                event["visitor_id"] = f"v{rng.randrange(args.visitors)}"
                if rng.random() < 0.3:
                    event.update(utm_source="google", utm_medium="cpc", utm_campaign=rng.choice(campaigns))
            elif kind == "form_submit":
                event.update(
                    email=email,
                    visitor_id=f"v{rng.randrange(args.visitors)}",
                    name=f"ベンチ 太郎{lead}",
                    company=f"株式会社ベンチ{lead % 500}",
                    title=rng.choice(["部長", "課長", "担当", ""]),
                )
            else:
                event["email"] = email
                if kind.startswith("email"):
                    event.update(
                        utm_source="newsletter", utm_medium="email", utm_campaign=rng.choice(campaigns)
                    )
            events.append(event)
        bodies.append(json.dumps({"events": events}, ensure_ascii=False).encode())
    return bodies


def known_emails(n: int) -> list[str]:
    """n emails of leads spread evenly over the table (Django must be set up)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM leads_lead")
        step = max(1, cursor.fetchone()[0] // n)
        cursor.execute("SELECT email FROM leads_lead WHERE id %% %s = 0 ORDER BY id LIMIT %s", [step, n])
        return [email for (email,) in cursor.fetchall()]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(args: argparse.Namespace) -> dict[str, str]:
    return {
        **os.environ,
        "ENV_FILE": "",
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "DEBUG": "0",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "") or secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_COOKIES": "0",
        "LOG_LEVEL": "WARNING",
    }


def analyze(url: str) -> None:
    """Fresh planner statistics, as autovacuum keeps them in production: a table that grew from empty since
    the last ANALYZE gets poor plans (e.g. a scan of every anonymous touch instead of their partial index)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE leads_touch, leads_lead, leads_visitor, leads_company")


def manage(env: dict[str, str], *argv: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *argv], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode:
        sys.exit(f"manage.py {' '.join(argv)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def start_server(args: argparse.Namespace, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "salesmarketing.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.workers),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2):
                return proc, url
        except OSError:
            if proc.poll() is not None:
                sys.exit("gunicorn exited during start-up")
            time.sleep(0.25)
    proc.terminate()
    sys.exit("gunicorn did not answer /healthz within 30 s")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (Linux /proc), 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def server_pids(server: subprocess.Popen | None, database_url: str) -> dict[str, list[int]]:
    """The gunicorn workers and the PostgreSQL backends serving the bench database (same machine only)."""
    import psycopg

    pids: dict[str, list[int]] = {"gunicorn": [], "postgres": []}
    if server is not None:
        children = Path(f"/proc/{server.pid}/task/{server.pid}/children")
        if children.exists():
            pids["gunicorn"] = [server.pid, *map(int, children.read_text().split())]
    try:
        with psycopg.connect(database_url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchall()
        pids["postgres"] = [pid for (pid,) in rows]
    except psycopg.Error:
        pass
    return pids


def send_all(url: str, key: str, bodies: list[bytes], concurrency: int) -> tuple[float, list[float], dict]:
    target = urllib.parse.urlsplit(url)
    local = threading.local()
    totals = {"accepted": 0, "duplicates": 0, "rejected": 0, "errors": 0}
    lock = threading.Lock()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def post(body: bytes) -> float:
        if not hasattr(local, "conn"):
            local.conn = http.client.HTTPConnection(target.hostname, target.port, timeout=120)
        started = time.perf_counter()
        local.conn.request("POST", "/api/v1/events", body=body, headers=headers)
        response = local.conn.getresponse()
        payload = response.read()
        elapsed = time.perf_counter() - started
        with lock:
            if response.status != 202:
                totals["errors"] += 1
                print(f"HTTP {response.status}: {payload[:300]!r}", file=sys.stderr)
            else:
                data = json.loads(payload)
                totals["accepted"] += data["accepted"]
                totals["duplicates"] += data["duplicates"]
                totals["rejected"] += len(data["rejected"])
        return elapsed

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        latencies = list(pool.map(post, bodies))
    return time.perf_counter() - started, latencies, totals


FLOOR_SQL = """
INSERT INTO leads_touch (lead_id, visitor_id, type, occurred_at, url, utm_source, utm_medium, utm_campaign,
    utm_content, utm_term, properties, source, idempotency_key, created_at)
SELECT l.id, e.visitor_id, e.type, now(), e.url, e.utm_source, e.utm_medium, e.utm_campaign, '', '', '{}'::jsonb,
       'bench-floor', e.key, now()
FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[])
     AS e(key, type, email, visitor_id, url, utm_source, utm_medium, utm_campaign)
LEFT JOIN leads_lead l ON lower(l.email) = lower(e.email)
ON CONFLICT (source, idempotency_key) DO NOTHING
"""


def floor_insert(database_url: str, bodies: list[bytes], concurrency: int) -> float:
    """The floor of the ingest: the same events as rows, one INSERT … SELECT FROM unnest per batch (the email
    resolved to its lead by a join), from as many connections as the client has threads. Seconds; the rows
    are deleted again afterwards."""
    import psycopg

    fields = ("id", "type", "email", "visitor_id", "url", "utm_source", "utm_medium", "utm_campaign")
    batches = []
    for body in bodies:
        events = json.loads(body)["events"]
        batches.append([[str(e.get(f, "")) for e in events] for f in fields])
    local = threading.local()
    connections = []
    lock = threading.Lock()

    def insert(columns) -> None:
        if not hasattr(local, "conn"):
            local.conn = psycopg.connect(database_url, autocommit=True)
            with lock:
                connections.append(local.conn)
        local.conn.execute(FLOOR_SQL, columns)

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(insert, batches))
    elapsed = time.perf_counter() - started
    for conn in connections:
        conn.close()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DELETE FROM leads_touch WHERE source = 'bench-floor'")
    return elapsed


def main(argv=None) -> int:
    args = parse_args(argv)
    run_id = secrets.token_hex(4)
    server = None
    if args.url:
        url, key = args.url.rstrip("/"), args.key
    else:
        env = server_env(args)
        ensure_database(args.database_url)
        if not args.no_migrate:
            manage(env, "migrate", "--noinput")
        analyze(args.database_url)
        key = manage(env, "create_api_key", f"bench {run_id}", "--source", "bench", "--scope", "events:write")
        key = key.strip().splitlines()[-1]
        server, url = start_server(args, env)
    try:
        bodies = make_batches(args, run_id)
        # Warm up: every gunicorn worker imports the URL conf and opens its database connection on its first
        # request; that start-up is not ingest throughput.
        warmup = make_batches(
            argparse.Namespace(**{**vars(args), "events": 40 * args.concurrency, "batch": 10}),
            f"{run_id}-warmup",
        )
        send_all(url, key, warmup, args.concurrency)
        size = sum(len(b) for b in bodies)
        print(
            f"Sending {args.events:,} events in {len(bodies):,} batches of {args.batch:,} "
            f"({size / 1e6:.1f} MB) to {url} with {args.concurrency} client threads…",
            flush=True,
        )
        pids = server_pids(server, args.database_url) if not args.url else {}
        cpu_before = {name: sum(map(_cpu_seconds, group)) for name, group in pids.items()}
        elapsed, latencies, totals = send_all(url, key, bodies, args.concurrency)
        cpu = {name: sum(map(_cpu_seconds, group)) - cpu_before[name] for name, group in pids.items()}
        # A replay of the first batch must be all duplicates.
        _, _, replay = send_all(url, key, bodies[:1], 1)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
    rate = args.events / elapsed if elapsed else 0.0
    latencies.sort()
    p95 = latencies[max(0, int(len(latencies) * 0.95) - 1)]
    print(
        f"accepted {totals['accepted']:,}, duplicates {totals['duplicates']:,}, rejected {totals['rejected']:,}, "
        f"failed requests {totals['errors']:,}"
    )
    print(f"batch latency: median {statistics.median(latencies) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms")
    print(f"replay of one batch: {replay['duplicates']:,} duplicates, {replay['accepted']:,} accepted")
    if cpu and all(cpu.values()):
        per_thousand = {name: seconds * 1000 / args.events * 1000 for name, seconds in cpu.items()}
        total = sum(per_thousand.values())
        print(
            f"server CPU per 1,000 events: {total:.0f} ms (gunicorn {per_thousand['gunicorn']:.0f} ms, "
            f"PostgreSQL {per_thousand['postgres']:.0f} ms): at most {2000 / total * 1000:,.0f} events/second "
            f"on 2 cores doing nothing else"
        )
    print(f"{rate:,.0f} events/second ({args.events:,} events in {elapsed:.2f} s)")
    ok = (
        totals["errors"] == 0
        and replay["accepted"] == 0
        and totals["accepted"] + totals["duplicates"] == args.events
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
