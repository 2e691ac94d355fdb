"""Event → assigned handoff while bulk work runs, on the scale-out topology (docs/capacity.md).

    uv run python bench/under_load.py [--size l] [--leads 60] [--ingest-rate 5000] [--seconds 60]
                                      [--replica-url postgres://…:5433/sm_bench_l] [--database-url …]

The processes `docker compose --profile scale up` runs, started here as processes on this machine:
- web: two gunicorn masters bound to one port with SO_REUSEPORT (`--reuse-port`), --web-workers each; with
  --replica-url they serve the read-only pages from the streaming replica (DATABASE_REPLICA_URL); and web-ingest,
  one more under `nice -n 10` on a port of its own, which the batch API client posts to;
- workers: two per queue (realtime, ingest, bulk, email) and one for integrations, solo pool; one beat
  (salesmarketing.beat claims each run);
- PostgreSQL (and the replica) and Redis as they run on this machine (a Redis database for the shared cache,
  CACHE_URL, its KPI values put there first, as beat's refresh keeps them); a local SMTP sink (aiosmtpd, in its own
  process, as bench/mail.py starts it) stands for the mail server.

1. Idle: the floor (a no-op task's round trip on the realtime queue) and --leads leads' event POST → assigned
   handoff, with nothing else running.
2. Under load, all at once: a full rescore of every lead queued on `bulk` (what a scoring-rule change starts),
   an ingest client posting 1,000-event batches of known leads' events at --ingest-rate events/s to web-ingest
   (their scoring queues on `ingest`, the batch lane), a manager opening the KPI dashboard
   every second, and a broadcast to --recipients leads (100,000 by default, or every emailable lead if fewer)
   sending on `email` through the production path (`broadcast_schedule`: the freeze of its recipients, then
   batches of --broadcast-throttle messages a minute) to the sink; and --leads more leads measured as in 1 (one
   after another, for at least --seconds; a handoff not assigned within 120 s counts as 120 s, and three such
   stop the measuring). The broadcast is made ready before the load (a static segment of the first emailable
   leads, a template, the sender profile, through nurture's services), scheduled first, and cancelled when the
   measuring ends (the previous run's is deleted first); the rest of the load and the measuring start once it
   sends its first message (its recipients are frozen before it sends), so all three run in the window.

Before measuring, leads and handoffs are vacuumed, and during the load the handoffs once a minute at autovacuum's
pace, as autovacuum would (it is off on the bench machine).

Prints, and writes <results-dir>/under-load-<size>.json and .md: p50/p95/p99 idle and under load beside the floor,
each handoff's time split into its parts (handoff_latency.STAGES) and the parts of the slowest three, the ingest
rate reached, the rescore's time under load, the dashboard's p95 under load, the realtime and ingest queues'
backlogs, and the broadcast's send rate under load. Target (size l, 2 cores): event → handoff p95 < 500 ms under
load.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project first: `bench.…`, then the apps
from bench import handoff_latency, ingest, kpis, mail  # noqa: E402
from bench.generate import SIZES, default_url, ensure_database, read_meta, setup_django  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
TARGET_MS = 500
HANDOFF_TIMEOUT_S = 120.0
MAX_TIMEOUTS = 3  # handoffs that time out before the measuring stops (the target is missed beyond doubt)
# Workers per queue, as `docker compose --profile scale up` runs them (docker-compose.yml), and their niceness
# (bulk and email under `nice -n 10`: salesmarketing/priority.py).
WORKERS = {"realtime": 2, "ingest": 2, "bulk": 2, "email": 2, "integrations": 1}
NICE = {"ingest": 10, "bulk": 10, "email": 10}
BROADCAST = "bench: under load"


def percentiles(values: list[float]) -> dict:
    values = sorted(values)

    def at(q: float) -> float:
        return values[min(len(values) - 1, round(q * (len(values) - 1)))]

    return {"p50": statistics.median(values), "p95": at(0.95), "p99": at(0.99), "max": values[-1],
            "samples": len(values)}  # fmt: skip


# --- The topology -------------------------------------------------------------------------------------------


def start_web(args: argparse.Namespace) -> tuple[list[subprocess.Popen], str, str]:
    """Two gunicorn masters on one port: the kernel spreads connections over both (SO_REUSEPORT); and, as compose's
    web-ingest, one under `nice -n 10` on a port of its own for the batch API clients (unless --no-ingest-pool).
    Returns the processes, the pages' URL and the batch clients' URL."""
    env = ingest.server_env(argparse.Namespace(database_url=args.database_url, redis_url=args.redis_url))
    if args.replica_url:
        env["DATABASE_REPLICA_URL"] = args.replica_url

    def gunicorn(port: int) -> list[str]:
        # --no-control-socket: two masters of one user would both take ~/.gunicorn/gunicorn.ctl.
        return [str(ingest.BIN / "gunicorn"), "salesmarketing.wsgi", "--bind", f"127.0.0.1:{port}", "--reuse-port",
                "--workers", str(args.web_workers), "--timeout", "120", "--log-level", "warning",
                "--no-control-socket"]  # fmt: skip

    port, ingest_port = ingest.free_port(), ingest.free_port()
    masters = [subprocess.Popen(gunicorn(port), cwd=ROOT, env=env) for _ in range(2)]
    urls = [f"http://127.0.0.1:{port}"]
    if args.ingest_pool:
        command = ["nice", "-n", str(NICE["ingest"]), *gunicorn(ingest_port)]
        masters.append(subprocess.Popen(command, cwd=ROOT, env=env))
        urls.append(f"http://127.0.0.1:{ingest_port}")
    for _ in range(480):  # two cores starting six workers, under load: allow two minutes
        try:
            for url in urls:
                with urllib.request.urlopen(f"{url}/healthz", timeout=5):
                    pass
            return masters, urls[0], urls[-1]
        except OSError:
            if any(master.poll() is not None for master in masters):
                sys.exit("gunicorn exited during start-up")
            time.sleep(0.25)
    stop(masters)
    sys.exit("gunicorn did not answer /healthz within two minutes")


def start_workers(args: argparse.Namespace) -> list[subprocess.Popen]:
    """The workers of WORKERS, and one beat."""
    workers = [
        handoff_latency.start_worker(
            args.database_url, args.redis_url, queues=queue, name=f"{queue}{n}", nice=NICE.get(queue, 0)
        )
        for queue, count in WORKERS.items()
        for n in range(1, count + 1)
    ]
    schedule = Path(tempfile.mkdtemp(prefix="bench-beat-")) / "schedule"
    env = {**ingest.server_env(argparse.Namespace(database_url=args.database_url, redis_url=args.redis_url)),
           "PYTHONPATH": str(ROOT)}  # fmt: skip
    beat = subprocess.Popen(
        [str(ingest.BIN / "celery"), "-A", "salesmarketing", "beat", "--loglevel", "WARNING", "--schedule",
         str(schedule)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip
    return [*workers, beat]


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def prioritize_database() -> bool:
    """The prioritize extension in the bench database when the server has it (a superuser runs the bench), so the
    niced workers' queries run niced too, as salesmarketing/priority.py does in production; whether it is there."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM pg_available_extensions WHERE name = 'prioritize'")
        if not cursor.fetchone()[0]:
            return False
        cursor.execute("CREATE EXTENSION IF NOT EXISTS prioritize")
    return True


# --- The loads ----------------------------------------------------------------------------------------------


class Load(threading.Thread):
    """Runs `step` until stopped; `step` returns a latency in seconds or None."""

    def __init__(self, step, interval: float):
        super().__init__(daemon=True)
        self.step, self.interval, self.latencies, self.errors = step, interval, [], []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            started = time.perf_counter()
            try:
                self.latencies.append(self.step())
            except Exception as error:  # noqa: BLE001  (reported with the results, not fatal to the run)
                self.errors.append(repr(error))
            self.halt.wait(max(0.0, self.interval - (time.perf_counter() - started)))


class PacedIngest(threading.Thread):
    """Posts the batches at `rate` events/s (a batch is due at t0 + i × batch / rate) from a pool of clients."""

    def __init__(self, url: str, key: str, bodies: list[bytes], batch: int, rate: float):
        super().__init__(daemon=True)
        self.url, self.key, self.bodies, self.batch, self.rate = url, key, bodies, batch, rate
        self.halt = threading.Event()
        self.sent_events = 0
        self.errors: list[str] = []
        self.elapsed = 0.0
        self.dropped = 0

    def post(self, body: bytes) -> None:
        _, _, totals = ingest.send_all(self.url, self.key, [body], 1)
        if totals["errors"]:
            self.errors.append("HTTP error on an event batch")
        else:
            self.sent_events += totals["accepted"] + totals["duplicates"] + totals["rejected"]

    def run(self) -> None:
        started = time.perf_counter()
        pool = ThreadPoolExecutor(8)
        posts = []
        try:
            for i, body in enumerate(self.bodies):
                if self.halt.wait(max(0.0, started + i * self.batch / self.rate - time.perf_counter())):
                    break
                posts.append(pool.submit(self.post, body))
        finally:
            # The batches still queued in the client when the measuring ends are dropped (a server slower than the
            # rate leaves a backlog that would take long after the window to post); the ones in flight finish.
            pool.shutdown(wait=True, cancel_futures=True)
        self.dropped = sum(post.cancelled() for post in posts)
        self.elapsed = time.perf_counter() - started


def analyze_hot_tables() -> None:
    """What autovacuum does to the tables the load changes most (it is off on this machine): fresh planner
    statistics (the rescore flips thousands of leads to MQL with their handoffs, and a plan made for the handoffs
    before it, a few unassigned, scans them all after), and the handoffs vacuumed: round-robin counts each rep's
    open handoffs from an index, which reads only the index where the visibility map is set."""
    from django.db import connection

    with connection.cursor() as cursor:
        # at autovacuum's pace (its default cost delay and limit), not a manual VACUUM's full speed
        cursor.execute("SET vacuum_cost_delay = 2")
        cursor.execute("SET vacuum_cost_limit = 200")
        cursor.execute("VACUUM (ANALYZE) leads_handoff")
        cursor.execute("ANALYZE leads_lead")
        cursor.execute("RESET vacuum_cost_delay")
        cursor.execute("RESET vacuum_cost_limit")


def vacuum_before_measuring() -> float:
    """An earlier run's rescore and ingest rewrote leads and handed thousands over; on a live system autovacuum
    has cleared their dead rows and set the visibility map since (as bench/run.py does after its rescores).
    Returns the seconds it took."""
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) leads_lead")
        cursor.execute("VACUUM (ANALYZE) leads_handoff")
    return time.perf_counter() - started


def refresh_dashboards() -> float:
    """What beat's refresh (kpis.tasks.refresh_dashboards, every 10 minutes) has in the shared cache on a running
    system: every dashboard's closed periods and the days before today. Returns the seconds it took."""
    from kpis.selectors.dashboard import dashboards_refresh

    started = time.perf_counter()
    dashboards_refresh()
    return time.perf_counter() - started


def dashboard_step(url: str, meta: dict):
    from django.conf import settings
    from django.test import Client

    from salesmarketing.models import User

    _, path, username = kpis.pages(meta)[0]
    client = Client()
    client.force_login(User.objects.get(username=username))  # a real session row gunicorn reads
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"

    def step() -> float:
        request = urllib.request.Request(url + path, headers={"Cookie": cookie, "Accept-Language": "ja"})
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()
        return time.perf_counter() - started

    return path, step


def rescore_progress(run_id: int) -> tuple[int, int, dt.datetime | None]:
    from leads.models import RescoreBatch, RescoreRun

    batches = RescoreBatch.objects.filter(run_id=run_id)
    return (
        batches.exclude(done_at=None).count(),
        batches.count(),
        RescoreRun.objects.values_list("finished_at", flat=True).get(pk=run_id),
    )


class RescoreWatch(threading.Thread):
    """Notes when the run is first seen finished, polling twice a second (its finished_at is not that moment: a
    batch stamps the time it began)."""

    def __init__(self, run_id: int, started: float):
        super().__init__(daemon=True)
        self.run_id, self.started, self.seconds = run_id, started, None
        self.halt = threading.Event()

    def run(self) -> None:
        from django.db import connection

        try:
            while not self.halt.is_set():
                if rescore_progress(self.run_id)[2] is not None:
                    self.seconds = time.perf_counter() - self.started
                    return
                self.halt.wait(0.5)
        finally:
            connection.close()  # this thread's own


def broadcast_prepare(recipients: int, throttle: int):
    """A draft broadcast to the first `recipients` emailable leads (a static segment), its template, campaign and
    the sender profile, through nurture's services; the previous run's broadcast is deleted. Returns it and the
    number of recipients."""
    from leads.models import Campaign, Lead
    from nurture.mail import services
    from nurture.mail.selectors import sender_profile
    from nurture.models import Broadcast, EmailTemplate, Segment, SegmentKind, SegmentMember
    from nurture.segments.services import segment_create, segment_members_add
    from salesmarketing.models import User

    by = User.objects.order_by("id").first()
    if sender_profile().missing_fields():
        services.sender_profile_update(
            by=by, sender_name="ベンチ株式会社", from_email="news@bench.example.jp",
            postal_address="東京都千代田区丸の内1-1-1", complaints_contact="support@bench.example.jp",
        )  # fmt: skip
    template = EmailTemplate.objects.filter(name=BROADCAST).first() or services.email_template_save(
        by=by, name=BROADCAST, subject_ja="{{ lead.name }}様 今月のお知らせ",
        html_ja='<p>{{ lead.name }}様</p><p>今月のセミナーのご案内です。</p>'
                '<p><a href="https://example.jp/seminar">お申し込み</a></p>',
        text_ja="{{ lead.name }}様\n今月のセミナーのご案内です。\nhttps://example.jp/seminar",
    )  # fmt: skip
    segment = Segment.objects.filter(name=BROADCAST, kind=SegmentKind.STATIC).first() or segment_create(
        name=BROADCAST, kind=SegmentKind.STATIC, by=by
    )
    Broadcast.objects.filter(name=BROADCAST).delete()  # and its ledger
    SegmentMember.objects.filter(segment=segment).delete()
    ids = list(Lead.objects.emailable().order_by("id").values_list("id", flat=True)[:recipients])
    segment_members_add(segment=segment, lead_ids=ids, viewer=None)
    campaign, _ = Campaign.objects.get_or_create(name=BROADCAST, defaults={"channel": "email"})
    broadcast = services.broadcast_create(
        by=by, name=BROADCAST, template=template, segment=segment, campaign=campaign,
        throttle_per_minute=throttle,
    )  # fmt: skip
    return broadcast, len(ids)


def broadcast_progress(broadcast, recipients: int, started: dt.datetime, until: dt.datetime) -> dict:
    """What the broadcast sent from its schedule (`started`) to the end of the window (`until`); the rate runs from
    its first message to the window's end, or to its last message when it finished earlier."""
    from django.db.models import Count, Max, Min

    from nurture.models import BroadcastSend, BroadcastStatus, SendStatus

    broadcast.refresh_from_db()
    sent = BroadcastSend.objects.filter(broadcast=broadcast, status=SendStatus.SENT, sent_at__lte=until)
    figures = sent.aggregate(sent=Count("id"), first=Min("sent_at"), last=Max("sent_at"))
    done = broadcast.status == BroadcastStatus.DONE and broadcast.finished_at <= until
    sending_s = (
        ((figures["last"] if done else until) - figures["first"]).total_seconds() if figures["first"] else 0
    )
    return {
        "recipients": recipients,
        "throttle_per_minute": broadcast.throttle_per_minute,
        "frozen": BroadcastSend.objects.filter(broadcast=broadcast).count(),
        "sent_in_window": figures["sent"],
        "first_sent_after_s": (figures["first"] - started).total_seconds() if figures["first"] else None,
        "rate": figures["sent"] / sending_s if sending_s > 0 else 0.0,
        "done_after_s": (broadcast.finished_at - started).total_seconds() if done else None,
        "failed": BroadcastSend.objects.filter(broadcast=broadcast, status=SendStatus.FAILED).count(),
    }


def broadcast_sending(broadcast, timeout: float = 600) -> None:
    """Wait until the broadcast has sent its first message."""
    from nurture.models import BroadcastSend, SendStatus

    deadline = time.perf_counter() + timeout
    while not BroadcastSend.objects.filter(broadcast=broadcast, status=SendStatus.SENT).exists():
        if time.perf_counter() > deadline:
            sys.exit(f"the broadcast sent nothing within {timeout:.0f} s of its schedule")
        time.sleep(0.5)


def broadcast_stop(broadcast) -> None:
    """Cancelled at the window's end (its batch stops at the next message), unless it is done."""
    from django.core.exceptions import ValidationError

    from nurture.mail.services import broadcast_cancel

    with contextlib.suppress(ValidationError):  # done: nothing left to stop
        broadcast_cancel(broadcast=broadcast)


def under_load(
    args: argparse.Namespace, url: str, ingest_url: str, key: str, meta: dict, broadcast, recipients: int
) -> dict:
    from django.db import transaction
    from django.utils import timezone

    from leads.scoring.services import rescore_start
    from nurture.mail.services import broadcast_schedule
    from salesmarketing.celery import broker_queue_keys

    ingest_args = argparse.Namespace(events=int(args.ingest_rate * args.seconds * 1.5), batch=1000,
                                     seed=11, leads=20_000, visitors=50_000)  # fmt: skip
    bodies = ingest.make_batches(ingest_args, f"load-{secrets.token_hex(3)}", ingest.known_emails(20_000))
    feeder = PacedIngest(ingest_url, key, bodies, ingest_args.batch, args.ingest_rate)
    path, step = dashboard_step(url, meta)
    dashboard = Load(step, 1.0)
    broadcast_started = timezone.now()
    broadcast_schedule(broadcast=broadcast, scheduled_at=broadcast_started)  # its start queues on `email`
    broadcast_sending(broadcast)  # the window opens once it sends (its recipients are frozen first)
    with transaction.atomic():
        run = rescore_start(reason="bench: under load")  # its batches queue on `bulk` at commit
    started = time.perf_counter()
    watch = RescoreWatch(run.pk, started)
    watch.start()
    broker = redis.Redis.from_url(args.redis_url)

    def backlog(queue: str):  # a Redis list per priority step
        keys = broker_queue_keys(queue)
        return lambda: sum(broker.llen(key) for key in keys)

    depths = {queue: Load(backlog(queue), 1.0) for queue in ("realtime", "ingest")}  # once a second
    statistics = Load(analyze_hot_tables, 60.0)  # once a minute, as autovacuum's naptime
    feeder.start()
    dashboard.start()
    for depth in depths.values():
        depth.start()
    statistics.start()
    latencies: list[float] = []
    stages: list[dict] = []
    timeouts = 0
    while timeouts < MAX_TIMEOUTS and (
        len(latencies) < args.leads or time.perf_counter() - started < args.seconds
    ):
        try:
            more, _ = handoff_latency.handoff_samples(
                1, key, warmup=0, timeout=HANDOFF_TIMEOUT_S, stages=stages
            )
        except RuntimeError:  # no handoff within the timeout: counted as the timeout, a lower bound
            timeouts += 1
            more = [HANDOFF_TIMEOUT_S]
        latencies += more
    window = time.perf_counter() - started
    for depth in depths.values():
        depth.halt.set()
    statistics.halt.set()
    window_end = timezone.now()
    broadcast_stop(broadcast)
    done, total, _ = rescore_progress(run.pk)
    feeder.halt.set()
    dashboard.halt.set()
    feeder.join()
    dashboard.join()
    watch.join(max(0.0, started + 900 - time.perf_counter()))
    watch.halt.set()
    return {
        "latencies": latencies,
        "stages": stages,
        "timeouts": timeouts,
        "window_seconds": window,
        "queue_depth": {
            queue: {
                "max": max(depth.latencies, default=0),
                "last": depth.latencies[-1] if depth.latencies else 0,
            }
            for queue, depth in depths.items()
        },
        "ingest": {
            "events": feeder.sent_events,
            "seconds": feeder.elapsed,
            "rate": feeder.sent_events / feeder.elapsed if feeder.elapsed else 0.0,
            "target_rate": args.ingest_rate,
            "errors": len(feeder.errors),
            "batches_dropped": feeder.dropped,
        },
        "rescore": {
            "batches": total,
            "batches_done_in_window": done,
            "seconds": watch.seconds,
        },
        "dashboard": {
            "path": path,
            **percentiles([s * 1000 for s in dashboard.latencies or [0.0]]),
            "errors": len(dashboard.errors),
        },
        "broadcast": broadcast_progress(broadcast, recipients, broadcast_started, window_end),
    }


# --- Output -------------------------------------------------------------------------------------------------


def mail_idle_rate() -> float | None:
    """The broadcast's rate with nothing else running, as bench/mail.py last measured it for 100,000."""
    path = RESULTS / f"mail-{mail.FULL}.json"
    if not path.exists():
        return None
    figures = json.loads(path.read_text()).get("figures", [])
    return next((f.get("rate") for f in figures if f.get("key") == "broadcast_send"), None)


def stage_percentiles(samples: list[dict]) -> dict:
    """p50/p95 of each part of the handoffs' time (handoff_latency.STAGES), in ms."""
    return {
        stage: percentiles([s[stage] * 1000 for s in samples] or [0.0]) for stage in handoff_latency.STAGES
    }


def markdown(result: dict) -> str:
    idle, loaded, floor = result["idle_ms"], result["under_load_ms"], result["floor_ms"]
    load = result["load"]
    rescore, broadcast = load["rescore"], load["broadcast"]
    idle_rate = mail_idle_rate()
    rows = [
        ("floor: no-op task round trip (realtime queue)", floor, ""),
        ("event POST → assigned handoff, idle", idle, ""),
        ("event POST → assigned handoff, under load", loaded, f"p95 < {TARGET_MS} ms: "
         + ("met" if result["met"] else "**missed**")),
        ("KPI dashboard page, under load", load["dashboard"], "p95 < 300 ms (the page target)"),
    ]  # fmt: skip
    lines = [
        f"# Under load, size {result['size']}",
        "",
        f"- date: {result['date']}; machine: {result['machine']}",
        f"- topology: 2 gunicorn masters × {result['web_workers']} workers on one port (SO_REUSEPORT), "
        + (
            f"1 × {result['web_workers']} under `nice -n {NICE['ingest']}` on a port of its own for the ingest "
            "batches (compose's web-ingest), "
            if result.get("ingest_pool")
            else "the ingest batches posted to them, "
        )
        + f"solo workers per queue ({', '.join(f'{q} ×{n}' for q, n in WORKERS.items())}; "
        + ", ".join(f"{queue} under `nice -n {niceness}`" for queue, niceness in NICE.items())
        + (", their database backends too" if result["nice"]["database_backends"] else "")
        + "), 1 beat, PostgreSQL"
        + (" + streaming replica for page reads" if result["replica"] else "")
        + ", Redis",
        f"- load window: {load['window_seconds']:.0f} s — ingest {load['ingest']['rate']:,.0f} events/s reached "
        f"(asked {load['ingest']['target_rate']:,.0f}; {load['ingest']['events']:,} events, "
        f"{load['ingest']['errors']} errors, {load['ingest'].get('batches_dropped', 0)} batches still queued in the "
        f"client at the window's end dropped); full rescore of {result['leads']:,} leads on `bulk`: "
        f"{rescore['batches_done_in_window']}/{rescore['batches']} batches done in the window, "
        + (f"finished in {rescore['seconds']:.0f} s" if rescore["seconds"] else "not finished")
        + "; a manager opening the KPI dashboard every second; backlog at most "
        f"{load['queue_depth']['realtime']['max']:,} tasks on `realtime`, {load['queue_depth']['ingest']['max']:,} "
        f"on `ingest` ({load['queue_depth']['ingest']['last']:,} at the window's end: bulk ingest's scoring runs "
        "behind)"
        + (
            f"; **{load['timeouts']} handoffs not assigned within {HANDOFF_TIMEOUT_S:.0f} s** (counted as "
            f"{HANDOFF_TIMEOUT_S:.0f} s)"
            if load["timeouts"]
            else ""
        ),
        f"- broadcast on `email` to {broadcast['recipients']:,} leads (throttle "
        f"{broadcast['throttle_per_minute']:,}/min) to a local SMTP sink: "
        + (
            f"first message {broadcast['first_sent_after_s']:.1f} s after its schedule (the freeze of "
            f"{broadcast['frozen']:,} rows first), {broadcast['sent_in_window']:,} sent in the window, "
            f"**{broadcast['rate']:,.0f} messages/s** under load"
            if broadcast["sent_in_window"]
            else "**nothing sent in the window**"
        )
        + (
            f", done {broadcast['done_after_s']:.0f} s after its schedule"
            if broadcast["done_after_s"]
            else ""
        )
        + f"; {broadcast['failed']} failed"
        + (f" (idle, bench/mail.py: {idle_rate:,.0f} messages/s)" if idle_rate else ""),
        "",
        "| figure | p50 | p95 | p99 | max | samples | target |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for label, figures, target in rows:
        lines.append(
            f"| {label} | {figures['p50']:.0f} ms | {figures['p95']:.0f} ms | {figures['p99']:.0f} ms | "
            f"{figures['max']:.0f} ms | {figures['samples']} | {target} |"
        )
    stages = result["stages_ms"]
    lines += [
        "",
        "Where a handoff's time goes (its own timestamps: the handoff's mql_at is taken as scoring starts):",
        "",
        "| part | idle p50 | idle p95 | under load p50 | under load p95 |",
        "|---|---:|---:|---:|---:|",
    ]
    for stage, label in handoff_latency.STAGES.items():
        idle, loaded = stages["idle"][stage], stages["under_load"][stage]
        lines.append(
            f"| {label} | {idle['p50']:.0f} ms | {idle['p95']:.0f} ms | {loaded['p50']:.0f} ms | "
            f"{loaded['p95']:.0f} ms |"
        )
    if result.get("slowest_ms"):
        parts = " + ".join(label.split(" (")[0] for label in handoff_latency.STAGES.values())
        lines += ["", f"The slowest under load, by part ({parts}):", ""]
        lines += [
            f"- {sum(sample.values()):,} ms = " + " + ".join(f"{ms:,}" for ms in sample.values())
            for sample in result["slowest_ms"]
        ]
    return "\n".join(lines) + "\n"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", choices=SIZES, default="l")
    parser.add_argument("--leads", type=int, default=60, help="handoffs measured per phase (default 60)")
    parser.add_argument(
        "--ingest-rate", type=float, default=5000, help="events/s during the load (default 5,000)"
    )
    parser.add_argument(
        "--seconds", type=float, default=60, help="at least this long under load (default 60)"
    )
    parser.add_argument(
        "--recipients", type=int, default=100_000, help="the broadcast's recipients (default 100,000)"
    )
    parser.add_argument(
        "--broadcast-throttle", type=int, default=60_000,
        help="the broadcast's messages per minute (default 60,000: bench/mail.py's target, 1,000/s)",
    )  # fmt: skip
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn workers per master (default 2)")
    parser.add_argument(
        "--no-ingest-pool", dest="ingest_pool", action="store_false",
        help="post the ingest batches to the pages' web processes, not to a niced pool of their own",
    )  # fmt: skip
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    parser.add_argument("--replica-url", default=os.environ.get("BENCH_REPLICA_URL", ""))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/8"))
    parser.add_argument(
        "--cache-url", default=os.environ.get("BENCH_CACHE_URL", "redis://127.0.0.1:6379/9"),
        help="the shared cache, as compose's CACHE_URL: a Redis database of the bench's own, emptied first",
    )  # fmt: skip
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    args.database_url = args.database_url or default_url(args.size)
    ensure_database(args.database_url)
    os.environ["REDIS_URL"] = args.redis_url
    os.environ["CACHE_URL"] = args.cache_url  # the web processes' and workers' too, as in compose
    redis.Redis.from_url(args.cache_url).flushdb()  # no value cached from other data
    os.environ["ALLOWED_HOSTS"] = "testserver"
    setup_django(args.database_url)
    from django.core.management import call_command

    from leads.models import Lead

    call_command("migrate", verbosity=0)
    backends_niced = prioritize_database()
    meta = read_meta()
    if meta is None:
        sys.exit(f"no generated data in {args.database_url}: run bench/generate.py --size {args.size} first")
    key = handoff_latency.prepare()
    broadcast, recipients = broadcast_prepare(args.recipients, args.broadcast_throttle)
    print(f"a broadcast to {recipients:,} leads is ready", flush=True)
    print(f"leads and handoffs vacuumed, as autovacuum would ({vacuum_before_measuring():.0f} s)", flush=True)
    print(f"dashboards cached, as beat's refresh keeps them ({refresh_dashboards():.0f} s)", flush=True)
    handoff_latency.flush_broker(args.redis_url)
    sink, port = mail.start_sink(mail.DEFAULT_SINK)
    os.environ.update(EMAIL_BACKEND="salesmarketing.smtp.EmailBackend", EMAIL_HOST="127.0.0.1",
                      EMAIL_PORT=str(port), SITE_URL="https://crm.example.jp")  # fmt: skip
    processes = [sink]
    try:
        # first: its workers import the app before the Celery workers start
        web, url, ingest_url = start_web(args)
        processes += web
        processes += start_workers(args)
        floor = handoff_latency.floor_samples(max(10, args.leads // 2), timeout=300)  # the workers starting
        idle_stages: list[dict] = []
        idle, _ = handoff_latency.handoff_samples(args.leads, key, stages=idle_stages)
        print(f"idle: p95 {percentiles(idle)['p95'] * 1000:.0f} ms; now under load …", flush=True)
        load = under_load(args, url, ingest_url, key, meta, broadcast, recipients)
    finally:
        broadcast_stop(broadcast)  # a run that failed midway leaves no broadcast sending
        stop(processes)
        handoff_latency.flush_broker(args.redis_url)
    loaded = percentiles([s * 1000 for s in load.pop("latencies")])
    loaded_stages = load.pop("stages")
    result = {
        "size": args.size,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} cores, Python {sys.version.split()[0]}",
        "leads": Lead.objects.count(),
        "web_workers": args.web_workers,
        "ingest_pool": args.ingest_pool,
        "replica": bool(args.replica_url),
        "nice": {"workers": NICE, "database_backends": backends_niced},
        "floor_ms": percentiles([s * 1000 for s in floor]),
        "idle_ms": percentiles([s * 1000 for s in idle]),
        "under_load_ms": loaded,
        "stages_ms": {"idle": stage_percentiles(idle_stages), "under_load": stage_percentiles(loaded_stages)},
        # the parts of the three slowest handoffs under load, in ms: which part a tail comes from
        "slowest_ms": [
            {stage: round(sample[stage] * 1000) for stage in handoff_latency.STAGES}
            for sample in sorted(loaded_stages, key=lambda sample: -sum(sample.values()))[:3]
        ],
        "load": load,
        "met": loaded["p95"] < TARGET_MS and not load["timeouts"],
    }
    args.results_dir.mkdir(exist_ok=True)
    (args.results_dir / f"under-load-{args.size}.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.results_dir / f"under-load-{args.size}.md").write_text(markdown(result))
    print(markdown(result))
    return 0 if result["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
