"""Mixed load on the whole app for a fixed time, then a consistency check; exits 1 on any inconsistency.

    uv run python bench/load.py --seconds 60
    uv run python bench/load.py --url http://127.0.0.1:8000 --seconds 60    # a server (and worker) you run

For --seconds, several client threads post event batches to `POST /api/v1/events` (new ids, and now and then a
replay of a batch already sent) while others work the pipeline board as logged-in users do: GET the board, then
move a card with the CSRF token from `<body hx-headers>`, as htmx does; and every --rescore-every seconds a
marketer saves the MQL thresholds on the scoring page, which rescores every lead in the worker while the events
keep coming (what the nightly rescore does). Then it checks that:

- no request was answered with a 5xx (or another status the endpoint should not give);
- every event id sent is stored exactly once, and the 202 reports add up (accepted once, then duplicates);
- every moved deal has one unbroken stage history that ends in its current stage;
- the Celery worker drains (its queue empty, every rescore finished and no lead with a touch received after it
  was scored) within --drain-timeout; then every loaded lead's stored fit / engagement / total equals the
  scoring engine's result at that lead's `scored_at` (`leads.scoring.engine.score_leads` run again on the same
  leads in a transaction that is rolled back), and every lead over the MQL threshold has one open handoff.

Without --url it starts gunicorn and a Celery worker itself against --database-url / --redis-url (default
$DATABASE_URL / $REDIS_URL; both required) and stops them at the end. With --url the server and its worker must
use that same database and Redis. Everything runs against 127.0.0.1: other hosts are refused. The data it adds
(a team, users, deals, an API key, leads) is named after the run, so runs never collide; the rescores cover
every lead in the database, so use --rescore-every 0 on a database of benchmark size.

Prints requests, events/second and p50 / p95 latency per endpoint, and every inconsistency found.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import random
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import defaultdict
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import ensure_database, setup_django  # noqa: E402
from ingest import free_port, server_env  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}

EVENTS = "POST /api/v1/events"
BOARD = "GET /pipeline/"
MOVE = "POST /pipeline/deals/{id}/move/"
LOGIN = "POST /accounts/login/"
RESCORE = "POST /leads/scoring/thresholds"
# The answers each endpoint may give; a 409 on events asks for the batch again (it is resent, not a failure).
EXPECTED = {EVENTS: {202}, BOARD: {200}, MOVE: {200}, LOGIN: {302}, RESCORE: {302}}

PAGES = ["/", "/pricing", "/case/acme", "/compare", "/product", "/whitepaper", "/seminar/2026"]
KINDS = [
    ("page_view", 40),
    ("email_open", 10),
    ("email_click", 10),
    ("form_submit", 15),
    ("content_download", 10),
    ("webinar_attended", 8),
    ("demo_request", 4),
    ("trade_show_visit", 3),
]
TITLES = ["代表取締役", "情報システム部 部長", "総務課 課長", "担当", "主任", ""]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=60, help="how long the load runs (default 60)")
    parser.add_argument("--url", help="a running server on 127.0.0.1, e.g. http://127.0.0.1:8000")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", ""))
    parser.add_argument("--no-migrate", action="store_true", help="the database is already migrated")
    parser.add_argument("--event-threads", type=int, default=4, help="threads posting events (default 4)")
    parser.add_argument("--board-threads", type=int, default=3, help="threads using the board (default 3)")
    parser.add_argument("--batch", type=int, default=50, help="events per request (default 50)")
    parser.add_argument("--replay", type=float, default=0.15, help="share of posts that resend a batch")
    parser.add_argument("--leads", type=int, default=300, help="distinct people in the events (default 300)")
    parser.add_argument("--deals", type=int, default=40, help="open deals on the board (default 40)")
    parser.add_argument(
        "--rescore-every", type=float, default=5, help="seconds between full rescores (0: none; default 5)"
    )
    parser.add_argument("--web-workers", type=int, default=3, help="gunicorn workers (default 3)")
    parser.add_argument("--worker-concurrency", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--drain-timeout", type=float, default=120, help="seconds to wait for the worker")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    if not args.database_url or not args.database_url.startswith(("postgres://", "postgresql://")):
        parser.error("needs a PostgreSQL --database-url (or DATABASE_URL)")
    if not args.redis_url:
        parser.error("needs --redis-url (or REDIS_URL): the worker's broker")
    for name, value in (
        ("--url", args.url),
        ("--database-url", args.database_url),
        ("--redis-url", args.redis_url),
    ):
        host = urllib.parse.urlsplit(value).hostname if value else None
        if value and host not in LOCAL_HOSTS and not (name == "--database-url" and not host):
            parser.error(
                f"{name} must point at 127.0.0.1 (got {host!r}): this bench never loads another host"
            )
    if not 1 <= args.batch <= 1000:
        parser.error("--batch must be between 1 and 1000")
    if args.seconds <= 0 or args.event_threads < 1 or args.board_threads < 0:
        parser.error("--seconds and --event-threads must be positive")
    return args


# --- HTTP ----------------------------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


class Browser:
    """One client with its own connection and cookies (stdlib only)."""

    def __init__(self, base_url: str, headers: dict[str, str] | None = None):
        parts = urllib.parse.urlsplit(base_url)
        self.base_url, self.host, self.port = base_url, parts.hostname, parts.port
        self.headers = headers or {}
        self.cookies: dict[str, str] = {}
        self.csrf_token = ""
        self.conn: http.client.HTTPConnection | None = None

    def request(
        self, method: str, path: str, *, body: bytes | None = None, headers: dict | None = None
    ) -> Answer:
        sent = {"Origin": self.base_url, **self.headers, **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            self.conn.request(method, path, body=body, headers=sent)
            raw = self.conn.getresponse()
            payload = raw.read()
        except (
            OSError,
            http.client.HTTPException,
        ):  # no answer: a failure for the caller; the next one reconnects
            self.conn.close()
            self.conn = None
            raise
        received = raw.getheaders()
        for name, value in received:
            if name.lower() == "set-cookie":
                for morsel in SimpleCookie(value).values():
                    if morsel.value and morsel["max-age"] != "0":
                        self.cookies[morsel.key] = morsel.value
                    else:
                        self.cookies.pop(morsel.key, None)
        answer = Answer(raw.status, {name.lower(): value for name, value in received}, payload)
        token = re.search(rb"hx-headers='\{\"X-CSRFToken\": \"([^\"]+)\"\}'", payload)
        if token:
            self.csrf_token = token.group(1).decode()
        return answer

    def form(self, path: str, data: dict, headers: dict | None = None) -> Answer:
        return self.request(
            "POST",
            path,
            body=urllib.parse.urlencode(data).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded", **(headers or {})},
        )

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


@dataclass
class Stats:
    """What the clients saw, shared by the threads (under `lock`)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, dict[int, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    failures: list[str] = field(default_factory=list)
    sent_ids: set[str] = field(default_factory=set)
    events_posted: int = 0  # in answered (202) posts, replays included
    events_replayed: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    resent_on_conflict: int = 0
    moved_deals: set[int] = field(default_factory=set)

    def record(self, endpoint: str, started: float, answer: Answer | None, error: str = "") -> None:
        elapsed = time.perf_counter() - started
        with self.lock:
            self.latencies[endpoint].append(elapsed)
            if answer is None:
                self.statuses[endpoint][0] += 1
                self.failures.append(f"{endpoint}: no answer ({error})")
                return
            self.statuses[endpoint][answer.status] += 1
            if answer.status not in EXPECTED[endpoint] and not (endpoint == EVENTS and answer.status == 409):
                self.failures.append(f"{endpoint}: HTTP {answer.status} {answer.body[:200]!r}")


def client_thread(stats: Stats, name: str, target, *args) -> threading.Thread:
    """A client thread; one that stops on an error is a failure of the run, not a traceback to miss."""

    def run() -> None:
        try:
            target(*args)
        except Exception as exc:
            with stats.lock:
                stats.failures.append(f"{name} stopped: {exc!r}")

    return threading.Thread(target=run, name=name)


def timed(stats: Stats, endpoint: str, call) -> Answer | None:
    started = time.perf_counter()
    try:
        answer = call()
    except (OSError, http.client.HTTPException) as exc:
        stats.record(endpoint, started, None, repr(exc))
        return None
    stats.record(endpoint, started, answer)
    return answer


# --- The clients -----------------------------------------------------------------------------------------------


def make_batch(rng: random.Random, run: str, thread: int, seq: int, args: argparse.Namespace) -> list[dict]:
    kinds = [kind for kind, weight in KINDS for _ in range(weight)]
    events = []
    for n in range(args.batch):
        person = rng.randrange(args.leads)
        email = f"p{person}.{run}@load{person % 25}.example.jp"
        kind = rng.choice(kinds)
        event: dict = {"id": f"{run}-{thread}-{seq}-{n}", "type": kind}
        if kind == "page_view":
            event.update(visitor_id=f"v-{run}-{person}", url="https://www.example.co.jp" + rng.choice(PAGES))
            if rng.random() < 0.3:  # a page view that names the person too (a known browser)
                event["email"] = email
        elif kind == "form_submit":
            event.update(
                email=email,
                visitor_id=f"v-{run}-{person}",
                name=f"負荷 太郎{person}",
                company=f"株式会社負荷{person % 25}",
                company_domain=f"load{person % 25}.example.jp",
                title=rng.choice(TITLES),
                employee_count=rng.choice([20, 150, 800, 3000]),
                industry=rng.choice(["manufacturing", "it", "retail", "finance"]),
            )
        else:
            event["email"] = email.upper() if rng.random() < 0.1 else email
            if kind.startswith("email"):
                event.update(utm_source="newsletter", utm_medium="email", utm_campaign=f"load-{person % 5}")
        if rng.random() < 0.2:  # some happened days ago: their points have decayed
            when = time.time() - rng.uniform(0, 40 * 86400)
            event["occurred_at"] = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(when))
        events.append(event)
    return events


def event_client(url: str, key: str, run: str, thread: int, deadline: float, stats: Stats, args) -> None:
    rng = random.Random(f"{args.seed}-{thread}" if args.seed is not None else None)
    client = Browser(url, headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    sent: list[tuple[bytes, int]] = []
    seq = 0
    try:
        while time.monotonic() < deadline:
            if sent and rng.random() < args.replay:
                body, count = rng.choice(sent)
                replay = True
            else:
                events = make_batch(rng, run, thread, seq, args)
                seq += 1
                body, count = json.dumps({"events": events}, ensure_ascii=False).encode(), len(events)
                with stats.lock:
                    stats.sent_ids.update(e["id"] for e in events)
                sent.append((body, count))
                replay = False
            for _attempt in range(4):  # a 409 asks for the batch again
                answer = timed(stats, EVENTS, lambda b=body: client.request("POST", "/api/v1/events", body=b))
                if answer is None or answer.status != 409:
                    break
                with stats.lock:
                    stats.resent_on_conflict += 1
            if answer is not None and answer.status == 202:
                report = json.loads(answer.body)
                with stats.lock:
                    stats.events_posted += count
                    stats.events_replayed += count if replay else 0
                    stats.accepted += report["accepted"]
                    stats.duplicates += report["duplicates"]
                    stats.rejected += len(report["rejected"])
    finally:
        client.close()


def login(url: str, username: str, password: str, stats: Stats) -> Browser | None:
    browser = Browser(url)
    page = browser.request("GET", "/accounts/login/")
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.body)
    if token is None:
        stats.failures.append(f"login page without a CSRF token (HTTP {page.status})")
        return None
    done = timed(
        stats,
        LOGIN,
        lambda: browser.form(
            "/accounts/login/",
            {"username": username, "password": password, "csrfmiddlewaretoken": token.group(1).decode()},
        ),
    )
    return browser if done is not None and done.status == 302 else None


def board_client(url: str, username: str, password: str, thread: int, deadline: float, stats: Stats, args):
    rng = random.Random(f"{args.seed}-board-{thread}" if args.seed is not None else None)
    browser = login(url, username, password, stats)
    if browser is None:
        return
    try:
        while time.monotonic() < deadline:
            page = timed(stats, BOARD, lambda: browser.request("GET", "/pipeline/"))
            if page is None or page.status != 200:
                continue
            deals = [int(d) for d in re.findall(rb'data-deal="(\d+)"', page.body)]
            stages = [
                int(s)
                for s in re.findall(
                    rb'<ol class="board-cards"[^>]* data-stage="(\d+)" data-closed=""', page.body
                )
            ]
            if not deals or not stages:
                stats.failures.append(f"{username}'s board shows no deals or no open stages")
                return
            for _move in range(3):  # a few drags per look at the board
                deal = rng.choice(deals)
                form = {"stage": rng.choice(stages), "before": "", "after": "", "next": "/pipeline/"}
                answer = timed(
                    stats,
                    MOVE,
                    lambda d=deal, f=form: browser.form(
                        f"/pipeline/deals/{d}/move/",
                        f,
                        headers={"HX-Request": "true", "X-CSRFToken": browser.csrf_token},
                    ),
                )
                if answer is not None and answer.status == 200:
                    with stats.lock:
                        stats.moved_deals.add(deal)
    finally:
        browser.close()


def marketer_client(url: str, username: str, password: str, deadline: float, stats: Stats, args) -> None:
    """Saves the thresholds unchanged now and then: the model's version moves and every lead is rescored."""
    browser = login(url, username, password, stats)
    if browser is None:
        return
    next_at = time.monotonic() + args.rescore_every / 2
    try:
        while next_at < deadline:
            time.sleep(max(0.0, next_at - time.monotonic()))
            next_at += args.rescore_every
            page = browser.request("GET", "/leads/scoring/")
            fields = dict(
                re.findall(
                    rb'name="(fit_threshold|total_threshold|csrfmiddlewaretoken)" value="([^"]*)"', page.body
                )
            )
            if len(fields) != 3:
                stats.failures.append(f"the scoring page has no threshold form (HTTP {page.status})")
                return
            form = {name.decode(): value.decode() for name, value in fields.items()}
            timed(stats, RESCORE, lambda f=form: browser.form("/leads/scoring/thresholds", f))
    finally:
        browser.close()


# --- Set-up and processes -----------------------------------------------------------------------------------


def setup_data(run: str, args: argparse.Namespace) -> tuple[str, list[tuple[str, str]], tuple[str, str]]:
    """An API key, a sales team (a manager and reps) with open deals across the stages, and a marketer; returns
    the key, the board users' (username, password) and the marketer's."""
    from leads.scoring.defaults import ensure_default_scoring
    from leads.services import company_resolve
    from pipeline.models import Stage
    from pipeline.services import deal_create, pipeline_ensure_default
    from salesmarketing.models import Team, User
    from salesmarketing.services import api_key_create, user_create

    ensure_default_scoring()
    pipeline = pipeline_ensure_default()
    open_stages = list(Stage.objects.filter(pipeline=pipeline, is_won=False, is_lost=False).order_by("order"))
    team = Team.objects.create(name=f"負荷 {run}", kind=Team.Kind.SALES)
    password = secrets.token_urlsafe(12)
    manager = user_create(username=f"load-{run}-mgr", password=password, role=User.Role.MANAGER, team=team)
    team.manager = manager
    team.save(update_fields=["manager"])
    reps = [
        user_create(username=f"load-{run}-rep{i}", password=password, role=User.Role.SALES, team=team)
        for i in range(max(1, args.board_threads - 1))
    ]
    User.objects.filter(team=team).update(handoff_capacity=30_000)  # every MQL of the run gets a rep
    for n in range(args.deals):
        owner = reps[n % len(reps)]
        company = company_resolve(name=f"株式会社負荷商談{n}", domain=f"deal{n}.{run}.example.jp")
        deal_create(
            name=f"負荷商談 {run}-{n}",
            owner=owner,
            by=owner,
            company=company,
            stage=open_stages[n % len(open_stages)],
            amount=100_000 * (n + 1),
        )
    marketing = Team.objects.create(name=f"負荷マーケ {run}", kind=Team.Kind.MARKETING)
    marketer = user_create(
        username=f"load-{run}-mktg", password=password, role=User.Role.MARKETING, team=marketing
    )
    _key, plain = api_key_create(name=f"load {run}", source=f"load-{run}", scopes=["events:write"])
    # Board threads: the manager (who sees the team's deals) and the reps (their own), so both drag the same cards.
    users = [manager.username] + [rep.username for rep in reps]
    return (
        plain,
        [(users[i % len(users)], password) for i in range(args.board_threads)],
        (marketer.username, password),
    )


def start_processes(args: argparse.Namespace, logs: Path) -> tuple[list[subprocess.Popen], str]:
    """Start gunicorn and the worker; they boot while the data is set up (see wait_until_serving)."""
    env = server_env(args)
    port = free_port()
    web = subprocess.Popen(
        [str(BIN / "gunicorn"), "salesmarketing.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", str(args.web_workers), "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=(logs / "web.log").open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    worker = subprocess.Popen(
        [str(BIN / "celery"), "-A", "salesmarketing", "worker", "--loglevel", "WARNING",
         "--concurrency", str(args.worker_concurrency), "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=env, stdout=(logs / "worker.log").open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    return [web, worker], f"http://127.0.0.1:{port}"


def wait_until_serving(web: subprocess.Popen, url: str, logs: Path) -> None:
    port = urllib.parse.urlsplit(url).port
    for _ in range(240):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        if web.poll() is not None:
            break
        time.sleep(0.25)
    sys.exit(f"gunicorn did not answer /healthz:\n{(logs / 'web.log').read_text()[-3000:]}")


def stop_processes(processes: list[subprocess.Popen]) -> None:
    for proc in processes:
        proc.terminate()
    for proc in processes:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- Checks ----------------------------------------------------------------------------------------------------


def check_events(source: str, stats: Stats) -> list[str]:
    from django.db.models import Count

    from leads.models import Touch

    problems = []
    stored = dict(
        Touch.objects.filter(source=source)
        .values("idempotency_key")
        .annotate(n=Count("id"))
        .values_list("idempotency_key", "n")
    )
    missing = stats.sent_ids - stored.keys()
    unknown = stored.keys() - stats.sent_ids
    twice = [key for key, n in stored.items() if n > 1]
    if missing:
        problems.append(f"{len(missing):,} events sent but not stored, e.g. {sorted(missing)[:3]}")
    if unknown:
        problems.append(f"{len(unknown):,} stored events were never sent, e.g. {sorted(unknown)[:3]}")
    if twice:
        problems.append(f"{len(twice):,} events stored more than once, e.g. {twice[:3]}")
    if stats.accepted != len(stats.sent_ids):
        problems.append(
            f"the reports accepted {stats.accepted:,} events, but {len(stats.sent_ids):,} were sent"
        )
    if stats.accepted + stats.duplicates != stats.events_posted:
        problems.append(
            f"accepted {stats.accepted:,} + duplicates {stats.duplicates:,} ≠ {stats.events_posted:,} events posted"
        )
    if stats.rejected:
        problems.append(f"{stats.rejected:,} valid events were rejected")
    return problems


def check_deals(deal_ids: set[int]) -> list[str]:
    from pipeline.models import Deal, StageChange

    problems = []
    changes: dict[int, list] = defaultdict(list)
    for change in StageChange.objects.filter(deal_id__in=deal_ids).order_by("deal_id", "changed_at", "id"):
        changes[change.deal_id].append(change)
    for deal in Deal.objects.filter(pk__in=deal_ids):
        history = changes[deal.pk]
        broken = [
            (a.to_stage_id, b.from_stage_id)
            for a, b in zip(history, history[1:], strict=False)
            if b.from_stage_id != a.to_stage_id
        ]
        if not history or history[0].from_stage_id is not None or broken:
            problems.append(f"deal {deal.pk}: its stage history is broken {broken[:3]}")
        elif history[-1].to_stage_id != deal.stage_id:
            problems.append(
                f"deal {deal.pk}: in stage {deal.stage_id}, its history ends in {history[-1].to_stage_id}"
            )
    return problems


def queued_messages(redis_url: str) -> int:
    """Messages waiting in the named queues (each priority level) plus delivered but not acknowledged."""
    import redis
    from django.conf import settings

    from salesmarketing.celery import broker_queue_keys

    client = redis.Redis.from_url(redis_url)
    try:
        waiting = sum(
            client.llen(key) for queue in settings.TASK_QUEUE_NAMES for key in broker_queue_keys(queue)
        )
        return waiting + client.hlen("unacked")
    finally:
        client.close()


def leads_behind(lead_ids: list[int]) -> int:
    """Leads never scored, or with a touch received after their last scoring."""
    from django.db.models import Exists, OuterRef, Q

    from leads.models import Lead, Touch

    newer = Touch.objects.filter(lead_id=OuterRef("pk"), created_at__gt=OuterRef("scored_at"))
    return Lead.objects.filter(pk__in=lead_ids).filter(Q(scored_at__isnull=True) | Exists(newer)).count()


def rescores_running(since: dt.datetime) -> int:
    """Rescore batches (and runs) started during the load that are not done yet."""
    from leads.models import RescoreBatch, RescoreRun

    batches = RescoreBatch.objects.filter(run__created_at__gte=since, done_at__isnull=True).count()
    return batches + RescoreRun.objects.filter(created_at__gte=since, finished_at__isnull=True).count()


def wait_for_drain(
    lead_ids: list[int], redis_url: str, timeout: float, *, since: dt.datetime
) -> tuple[float, str]:
    started = time.monotonic()
    settled = 0
    while True:
        queued, behind, batches = queued_messages(redis_url), leads_behind(lead_ids), rescores_running(since)
        settled = settled + 1 if queued == 0 and behind == 0 and batches == 0 else 0
        if settled >= 3:  # quiet for a moment: nothing in flight between a fetch and an ack
            return time.monotonic() - started, ""
        if time.monotonic() - started > timeout:
            return time.monotonic() - started, (
                f"the worker did not drain in {timeout:.0f} s: {queued} messages queued, {batches} rescore "
                f"batches not done, {behind} leads with touches newer than their score"
            )
        time.sleep(0.5)


def check_scores(lead_ids: list[int]) -> list[str]:
    """Stored scores against a fresh computation at each lead's scored_at (rolled back), and the handoffs."""
    from django.db import transaction
    from django.db.models import Count, Q

    from leads.choices import LifecycleStage
    from leads.models import Handoff, Lead, ScoringConfig
    from leads.scoring.engine import LeadFilter, score_leads

    columns = ("pk", "scored_at", "fit_score", "engagement_score", "total_score")
    stored = {pk: rest for pk, *rest in Lead.objects.filter(pk__in=lead_ids).values_list(*columns)}
    by_time: dict = defaultdict(list)
    for pk, (scored_at, *_scores) in stored.items():
        by_time[scored_at].append(pk)

    with transaction.atomic():
        for scored_at, pks in by_time.items():
            if scored_at is not None:
                for start in range(0, len(pks), 1000):
                    score_leads(LeadFilter(ids=tuple(sorted(pks)[start : start + 1000])), now=scored_at)
        fresh = {pk: rest for pk, *rest in Lead.objects.filter(pk__in=lead_ids).values_list(*columns)}
        transaction.set_rollback(True)  # a copy: nothing stored changes
    problems = [
        f"lead {pk}: stored (fit, engagement, total) {tuple(old[1:])}, computed {tuple(fresh[pk][1:])} at {old[0]}"
        for pk, old in sorted(stored.items())
        if old[0] is None or tuple(old[1:]) != tuple(fresh[pk][1:])
    ]
    config = ScoringConfig.get()
    unqualified = Lead.objects.filter(
        pk__in=lead_ids,
        fit_score__gte=config.fit_threshold,
        total_score__gte=config.total_threshold,
        lifecycle_stage__in=[LifecycleStage.SUBSCRIBER, LifecycleStage.LEAD],
    ).count()
    if unqualified:
        problems.append(f"{unqualified} leads are over the MQL threshold but were not handed over")
    without_handoff = (
        Lead.objects.filter(pk__in=lead_ids, lifecycle_stage=LifecycleStage.MQL)
        .annotate(open=Count("handoffs", filter=Q(handoffs__state__in=Handoff.OPEN_STATES)))
        .exclude(open=1)
        .count()
    )
    if without_handoff:
        problems.append(f"{without_handoff} MQLs do not have exactly one open handoff")
    return problems


# --- Main ------------------------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


def summary(stats: Stats, elapsed: float) -> None:
    print(
        f"{'endpoint':34} {'requests':>9} {'2xx/3xx':>8} {'4xx':>5} {'5xx':>5} {'failed':>6} {'p50 ms':>8} {'p95 ms':>8}"
    )
    for endpoint in (EVENTS, BOARD, MOVE, RESCORE, LOGIN):
        if endpoint not in stats.latencies:
            continue
        codes = stats.statuses.get(endpoint, {})
        times = stats.latencies.get(endpoint, [])
        ok = sum(n for code, n in codes.items() if 200 <= code < 400)
        client = sum(n for code, n in codes.items() if 400 <= code < 500)
        server = sum(n for code, n in codes.items() if code >= 500)
        print(
            f"{endpoint:34} {len(times):>9,} {ok:>8,} {client:>5,} {server:>5,} {codes.get(0, 0):>6,} "
            f"{percentile(times, 0.5) * 1000:>8.0f} {percentile(times, 0.95) * 1000:>8.0f}"
        )
    print(
        f"events: {stats.events_posted:,} posted ({stats.events_replayed:,} in replayed batches), "
        f"{stats.accepted:,} accepted, {stats.duplicates:,} duplicates, {stats.resent_on_conflict} batches resent "
        f"after a 409; {stats.accepted / elapsed:,.0f} events/s stored, {stats.events_posted / elapsed:,.0f} events/s "
        f"posted over {elapsed:.1f} s"
    )


def main(argv=None) -> int:
    args = parse_args(argv)
    run = secrets.token_hex(3)
    clock = time.monotonic()
    os.environ["REDIS_URL"] = args.redis_url  # set-up through the services queues its work for the worker
    if args.url is None:
        ensure_database(args.database_url)
    setup_django(args.database_url)
    from django.core.management import call_command

    from leads.models import Touch

    if args.url is None and not args.no_migrate:
        call_command("migrate", verbosity=0)
    source = f"api:load-{run}"
    processes: list[subprocess.Popen] = []
    logs = Path(tempfile.mkdtemp(prefix="sm-load-"))
    if args.url:
        url = args.url.rstrip("/")
    else:
        processes, url = start_processes(args, logs)
    stats = Stats()
    failures: list[str] = []
    try:
        key, users, marketer = setup_data(run, args)
        if processes:
            wait_until_serving(processes[0], url, logs)
        prepared_in = time.monotonic() - clock
        print(
            f"load {run}: {args.seconds:.0f} s against {url} — {args.event_threads} event threads "
            f"(batches of {args.batch}), {args.board_threads} board threads",
            flush=True,
        )
        started = time.monotonic()
        load_started_at = dt.datetime.now(dt.UTC)
        deadline = started + args.seconds
        threads = [
            client_thread(stats, f"events-{i}", event_client, url, key, run, i, deadline, stats, args)
            for i in range(args.event_threads)
        ] + [
            client_thread(
                stats, f"board-{i}", board_client, url, username, password, i, deadline, stats, args
            )
            for i, (username, password) in enumerate(users)
        ]
        if args.rescore_every > 0:
            threads.append(
                client_thread(stats, "marketer", marketer_client, url, *marketer, deadline, stats, args)
            )
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        summary(stats, elapsed)

        failures += stats.failures[:20]
        if len(stats.failures) > 20:
            failures.append(f"… and {len(stats.failures) - 20} more failed requests")
        failures += check_events(source, stats)
        failures += check_deals(stats.moved_deals)
        lead_ids = sorted(
            set(Touch.objects.filter(source=source, lead__isnull=False).values_list("lead_id", flat=True))
        )
        drained_in, not_drained = wait_for_drain(
            lead_ids, args.redis_url, args.drain_timeout, since=load_started_at
        )
        if not_drained:
            failures.append(not_drained)
        checked = time.monotonic()
        failures += check_scores(lead_ids)[:20]
        print(
            f"set-up {prepared_in:.1f} s; the worker drained {drained_in:.1f} s after the load; "
            f"{len(lead_ids):,} leads' scores checked in {time.monotonic() - checked:.1f} s; "
            f"{len(stats.moved_deals)} moved deals' stage histories checked"
        )
    finally:
        stop_processes(processes)
    worker_log = (logs / "worker.log").read_text() if (logs / "worker.log").exists() else ""
    errors = [line for line in worker_log.splitlines() if "ERROR/" in line or "CRITICAL/" in line]
    if errors:
        failures.append(f"the worker logged {len(errors)} errors, e.g. {errors[0][:300]}")
    if failures:
        print("INCONSISTENT:")
        for failure in failures:
            print(f"  - {failure}")
        print(f"(server and worker logs in {logs})")
        return 1
    print("consistent: every event stored once, no 5xx, stage histories whole, scores match the engine")
    return 0


if __name__ == "__main__":
    sys.exit(main())
