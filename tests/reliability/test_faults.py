"""Faults, for real: a worker SIGKILLed mid-work, Redis down while events arrive, PostgreSQL restarting under load.

Every test runs the production processes as subprocesses (`celery -A salesmarketing worker`, gunicorn) against
the PostgreSQL test database, with a private redis-server on a free port (so a test can stop it, read its
queues, and never touches another test's broker). The assertions compare the end state with a fresh
computation: every lead's score as leads.scoring.engine computes it, exactly one handoff (assigned, logged and
notified once) for every lead that qualifies, none for the others, nothing half-done.
"""

from __future__ import annotations

import ast
import datetime as dt
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from functools import partial
from pathlib import Path

import psycopg
import pytest
from celery import Celery
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Max
from django.utils import timezone

from leads.awareness import ensure_default_rules
from leads.choices import LifecycleStage
from leads.models import AssignmentLog, Handoff, Lead, RescoreBatch, RescoreRun, ScoringConfig, Touch
from leads.scoring.defaults import ensure_default_scoring
from leads.scoring.engine import LeadFilter, score_leads
from leads.scoring.services import rescore_batch_run
from leads.services import lead_upsert
from leads.tasks import leads_with_unscored_touches, sweep
from salesmarketing.celery import broker_queue_keys
from salesmarketing.models import Notification, User
from salesmarketing.services import api_key_create
from tests.conftest import require_or_skip
from tests.salesmarketing.factories import TeamFactory, UserFactory

# Kills workers mid-batch and waits out a 10 s visibility timeout: on a CPU shared with parallel tests the kill
# lands after the work is done, so these run alone, after the parallel run (scripts/test).
pytestmark = pytest.mark.serial

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
VISIBILITY_TIMEOUT = 10  # seconds before a dead worker's message is delivered again (production: an hour)
DOMAIN = "faults.example.jp"


# --- Processes ------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(condition, *, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


class Proc:
    """A subprocess in its own process group (a prefork worker's children die with it), logging to a file."""

    def __init__(self, args: list, *, env: dict, log: Path):
        self.log = log
        self._out = open(log, "w")  # noqa: SIM115 - closed in stop()/kill()
        self.popen = subprocess.Popen(
            [str(a) for a in args],
            cwd=ROOT,
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        """SIGKILL, as the OOM killer or a lost machine would: no shutdown, no ack, no rollback by us."""
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(10)
        self._out.close()

    def stop(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(10)
        self._out.close()

    def text(self) -> str:
        return self.log.read_text(errors="replace")


class PrivateRedis:
    """A redis-server of this test's own, on a free port, that the test can stop and start again."""

    def __init__(self, workdir: Path):
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
             "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        _wait_for(self.ping, timeout=10, what="redis-server to answer")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

    def ping(self) -> bool:
        try:
            return self.client().ping()
        except Exception:
            return False

    def client(self):
        import redis

        return redis.Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=5)


@pytest.fixture
def faults_redis(tmp_path):
    require_or_skip(bool(shutil.which("redis-server")), "redis-server is not installed")
    server = PrivateRedis(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def faults_env(transactional_db, tmp_path):
    """Environment for subprocesses sharing this test's PostgreSQL database."""
    require_or_skip(
        connection.vendor == "postgresql", "the processes share the test database: needs PostgreSQL"
    )
    return {
        **os.environ,
        "DATABASE_URL": _database_url(settings.DATABASES["default"]["NAME"]),
        "DEBUG": "0",
        "SECRET_KEY": "x" * 50,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_COOKIES": "0",
        "ENV_FILE": "",
        "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
        "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
        "SWEEP_STALE_SECONDS": "2",
        "SWEEP_INTERVAL_SECONDS": "2",
        "LOG_LEVEL": "WARNING",
    }


def _database_url(name: str, *, host: str | None = None, port: int | str | None = None) -> str:
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{host or db['HOST'] or '127.0.0.1'}:{port or db['PORT'] or 5432}/{name}"


def _worker(env: dict, tmp_path: Path, name: str, *, beat: bool = False) -> Proc:
    args = [BIN / "celery", "-A", "salesmarketing", "worker", "--pool", "prefork", "--concurrency", "2",
            "-Q", ",".join(settings.TASK_QUEUE_NAMES), "--loglevel", "WARNING", "--hostname", f"{name}@faults"]  # fmt: skip
    if beat:
        args += ["--beat", "--schedule", tmp_path / f"{name}-beat"]
    return Proc(args, env=env, log=tmp_path / f"{name}.log")


def _client_app(redis: PrivateRedis) -> Celery:
    """The test's own Celery client on the private broker (the app's tasks are sent by name, to their queues)."""
    client = Celery("faults-client", broker=redis.url, backend=redis.url)
    client.conf.update(
        task_routes=settings.CELERY_TASK_ROUTES,
        task_queues=settings.CELERY_TASK_QUEUES,
        task_default_queue=settings.CELERY_TASK_DEFAULT_QUEUE,
    )
    return client


def _in_flight_task_ids(redis: PrivateRedis) -> dict[str, str]:
    """Task id → task name of the messages a worker took and has not acknowledged (kombu's `unacked` hash)."""
    found = {}
    for raw in redis.client().hvals("unacked"):
        message = json.loads(raw)[0]
        found[message["headers"]["id"]] = message["headers"]["task"]
    return found


def _kill_while_running(
    worker: Proc, redis: PrivateRedis, task_names: set[str], condition, *, what: str
) -> None:
    """SIGKILL `worker` once `condition()` holds while it has one of `task_names` taken and unacknowledged. A
    worker runs other tasks in between (the events it emits are dispatched on the same queues), so a kill timed
    by the data alone can land on one of those instead of on the work under test."""
    _wait_for(
        lambda: set(_in_flight_task_ids(redis).values()) & task_names and condition(),
        timeout=40, what=what, interval=0.02,
    )  # fmt: skip
    worker.kill()


def _in_flight_batch_ids(redis: PrivateRedis) -> list[int]:
    """The rescore batches of the messages a worker took and has not acknowledged."""
    ids = []
    for raw in redis.client().hvals("unacked"):
        headers = json.loads(raw)[0]["headers"]
        if headers["task"] == "leads.tasks.rescore_batch":
            ids.append(ast.literal_eval(headers["argsrepr"])[0])
    return ids


def _queued(redis: PrivateRedis) -> int:
    """Messages waiting in the named queues (realtime, bulk, email, integrations; a Redis list per priority)."""
    client = redis.client()
    return sum(client.llen(key) for name in settings.TASK_QUEUE_NAMES for key in broker_queue_keys(name))


def _broker_drained(redis: PrivateRedis):
    """Nothing queued and nothing taken but unacknowledged (a dead worker's messages, until restored), twice
    in a row: a message between the queue and the unacked hash is in neither for a moment."""

    def empty() -> bool:
        client = redis.client()
        return client.hlen("unacked") == 0 and _queued(redis) == 0

    def drained() -> bool:
        if not empty():
            return False
        time.sleep(0.5)
        return empty()

    return drained


def _sweep_results(redis: PrivateRedis) -> list[dict]:
    """What the sweeps reported (their return values in the result backend)."""
    client, results = redis.client(), []
    for key in client.scan_iter("celery-task-meta-*"):
        meta = json.loads(client.get(key))
        if isinstance(meta.get("result"), dict) and "batches" in meta["result"]:
            results.append(meta["result"])
    return results


# --- Data -----------------------------------------------------------------------------------------------------


def _sales_team(reps: int = 3) -> list[User]:
    team = TeamFactory(name="営業一課")
    return [
        UserFactory(username=f"rep{i}", team=team, role=User.Role.SALES, handoff_capacity=30_000)
        for i in range(reps)
    ]


def _generate_leads(n: int, *, scored: bool, hot_every: int) -> list[int]:
    """`n` leads with 1–7 touches each, received an hour ago, set-based; every `hot_every`-th lead asked for a
    demo, which makes most of those (the ones that fit) qualify. `scored` marks them scored since (with zero
    scores, as before a rule change)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO leads_company (name, domain, industry, employee_count, region, prefecture, website,
                   created_at, updated_at)
               SELECT 'faults ' || g, 'c' || g || %s, (ARRAY['retail', 'other'])[1 + g %% 2],
                   (ARRAY[30, 150])[1 + (g / 2) %% 2], (ARRAY['kyushu', 'tohoku'])[1 + g %% 2], '', '',
                   now(), now()
               FROM generate_series(0, 39) g RETURNING id""",
            [f".{DOMAIN}"],
        )
        first_company = min(row[0] for row in cursor.fetchall())
        cursor.execute(
            """INSERT INTO leads_lead (email, name, name_kana, title, department, phone, company_id, source,
                   persona_set_by_hand, consent_email, lifecycle_stage, awareness_stage, fit_score,
                   engagement_score, total_score, scored_at, created_at, updated_at)
               SELECT 'f' || g || '@c' || (g %% 40) || %s, '', '', (ARRAY['部長', '課長', '担当', '主任', '取締役',
                   '一般'])[1 + g %% 6], '', '', %s + g %% 40, 'import', false, true, 'lead', 'latent', 0, 0, 0,
                   CASE WHEN %s THEN now() END, now() - interval '1 hour', now()
               FROM generate_series(1, %s) g RETURNING id""",
            [f".{DOMAIN}", first_company, scored, n],
        )
        ids = sorted(row[0] for row in cursor.fetchall())
        cursor.execute(
            """INSERT INTO leads_touch (lead_id, visitor_id, type, occurred_at, url, utm_source, utm_medium,
                   utm_campaign, utm_content, utm_term, properties, source, idempotency_key, created_at)
               SELECT l.id, '', CASE WHEN k = 1 AND (l.id - %s + 1) %% %s = 0 THEN 'demo_request'
                   ELSE (ARRAY['page_view', 'page_view', 'page_view', 'email_open', 'email_open',
                         'content_download', 'email_click'])[1 + (l.id * 7 + k * 13) %% 7] END,
                   now() - ((l.id * 37 + k * 101) %% 720) * interval '1 hour',
                   'https://www.example.jp' || (ARRAY['/', '/pricing', '/case/a', '/blog'])[1 + (l.id + k) %% 4],
                   '', '', '', '', '', '{}'::jsonb, 'faults', l.id || '-' || k, now() - interval '1 hour'
               FROM leads_lead l CROSS JOIN LATERAL generate_series(1, 1 + (l.id %% 7)::int) k
               WHERE l.id BETWEEN %s AND %s""",
            [ids[0], hot_every, ids[0], ids[-1]],  # by position, as the titles are: the same whatever the ids
        )
        cursor.execute("ANALYZE leads_lead, leads_touch")
    return ids


# --- What the end state must be --------------------------------------------------------------------------------


def _scores(lead_ids) -> dict[int, tuple[int, int, int]]:
    return {
        pk: (fit, eng, total)
        for pk, fit, eng, total in Lead.objects.filter(pk__in=lead_ids).values_list(
            "pk", "fit_score", "engagement_score", "total_score"
        )
    }


def _fresh_scores(jobs: list[tuple[LeadFilter, object]], lead_ids) -> dict[int, tuple[int, int, int]]:
    """Scores computed again from scratch (LeadFilter, now) by leads.scoring.engine, then rolled back."""
    with transaction.atomic():
        for lead_filter, now in jobs:
            score_leads(lead_filter, now=now)
        fresh = _scores(lead_ids)
        transaction.set_rollback(True)
    return fresh


def _assert_scored_as_fresh_at_scored_at(lead_ids: list[int]) -> None:
    """Each lead holds exactly the score a fresh computation gives at the moment it was scored."""
    by_time = defaultdict(list)
    for pk, scored_at in Lead.objects.filter(pk__in=lead_ids).values_list("pk", "scored_at"):
        assert scored_at is not None, f"lead {pk} was never scored"
        by_time[scored_at].append(pk)
    jobs = [(LeadFilter(ids=tuple(pks)), at) for at, pks in by_time.items()]
    actual = _scores(lead_ids)
    fresh = _fresh_scores(jobs, lead_ids)
    wrong = {pk: (actual[pk], fresh[pk]) for pk in lead_ids if actual[pk] != fresh[pk]}
    assert not wrong, f"{len(wrong)} leads with a stale score, e.g. {list(wrong.items())[:3]}"


def _assert_one_handoff_where_due(lead_ids: list[int]) -> int:
    """Leads at or over the threshold: MQL with exactly one assigned handoff, assigned, logged and notified once.
    The others: no handoff. Returns how many qualified."""
    config = ScoringConfig.get()
    leads = Lead.objects.filter(pk__in=lead_ids)
    due = set(
        leads.filter(
            fit_score__gte=config.fit_threshold, total_score__gte=config.total_threshold
        ).values_list("pk", flat=True)
    )
    handoffs = Handoff.objects.filter(lead_id__in=lead_ids)
    per_lead = dict(handoffs.values("lead_id").annotate(n=Count("id")).values_list("lead_id", "n"))
    assert set(per_lead) == due, (
        f"{len(due - set(per_lead))} due leads without a handoff, {len(set(per_lead) - due)} handoffs not due"
    )
    assert set(per_lead.values()) <= {1}, "a lead has more than one handoff"
    assert set(leads.filter(pk__in=due).values_list("lifecycle_stage", flat=True)) <= {LifecycleStage.MQL}
    assert not handoffs.exclude(state=Handoff.State.ASSIGNED).exists(), "a handoff is still waiting for a rep"
    assert not handoffs.filter(owner__isnull=True).exists()
    logs = AssignmentLog.objects.filter(handoff__in=handoffs).values("handoff_id").annotate(n=Count("id"))
    assert len(logs) == len(due) and {row["n"] for row in logs} <= {1}, "an assignment was made twice"
    notified = sum(DOMAIN in note.text[0] for note in Notification.objects.all())
    assert notified == len(due), "a rep was notified twice (or not at all) for one handoff"
    return len(due)


# --- 1. A worker killed in the middle of the work ----------------------------------------------------------------


def test_a_full_rescore_survives_a_worker_killed_mid_run(faults_env, faults_redis, tmp_path):
    """SIGKILL a worker halfway through the nightly rescore. A new worker with beat's sweeper finishes every batch
    from what the database says (the dead worker's messages are still hidden by the broker); when they come
    back after the visibility timeout they run again and change nothing."""
    faults_redis.start()
    env = {**faults_env, "REDIS_URL": faults_redis.url, "RESCORE_BATCH_SIZE": "300"}
    client = _client_app(faults_redis)
    workers = [_worker(env, tmp_path, "first")]  # starts while the data is made
    try:
        ensure_default_scoring()
        _sales_team()
        lead_ids = _generate_leads(12_000, scored=True, hot_every=40)
        client.send_task("leads.tasks.rescore_all", args=["faults test"])
        run = _wait_for(
            lambda: RescoreRun.objects.filter(reason="faults test").first(), timeout=30, what="run"
        )
        batches = RescoreBatch.objects.filter(run=run)
        total = run.total_batches
        assert total >= 30
        # Killed while it runs a rescore batch (or one of the assignments the rescore's new MQLs queue beside it).
        _kill_while_running(workers[0], faults_redis, {"leads.tasks.rescore_batch", "leads.tasks.assign_handoffs"},
                            lambda: batches.filter(done_at__isnull=False).count() >= total // 4,
                            what="a quarter of the batches")  # fmt: skip
        killed_at = time.monotonic()
        # The kill landed mid-run: some batches done, some not, and tasks taken but never acknowledged.
        assert 0 < batches.filter(done_at__isnull=False).count() < total
        assert _in_flight_task_ids(faults_redis)
        assert RescoreRun.objects.get(pk=run.pk).finished_at is None
        # Batches the dead worker took and had not committed: only the sweeper can bring them back before the
        # visibility timeout (a batch it committed just before the kill, unacknowledged, needs nothing).
        stranded = batches.filter(pk__in=_in_flight_batch_ids(faults_redis), done_at__isnull=True).exists()

        workers.append(_worker(env, tmp_path, "second", beat=True))  # beat: the sweeper, every 2 s here
        _wait_for(lambda: RescoreRun.objects.get(pk=run.pk).finished_at, timeout=45, what="the run to finish")
        _wait_for(lambda: not Handoff.objects.filter(state=Handoff.State.UNASSIGNED).exists(), timeout=30,
                  what="every handoff to be assigned")  # fmt: skip
        if stranded:
            assert any(r["batches"] > 0 for r in _sweep_results(faults_redis)), (
                "the sweeper re-queued no batch"
            )
        workers[1].stop()

        # Every batch done exactly once, and its leads hold exactly what a fresh computation gives then.
        assert not batches.filter(done_at__isnull=True).exists()
        jobs = [(LeadFilter(first_id=b.first_id, last_id=b.last_id), b.done_at) for b in batches]
        actual, fresh = _scores(lead_ids), _fresh_scores(jobs, lead_ids)
        wrong = [pk for pk in lead_ids if actual[pk] != fresh[pk]]
        assert not wrong, f"{len(wrong)} leads with a wrong score after the rescore, e.g. lead {wrong[0]}"
        really_scored = sum(1 for pk in lead_ids if actual[pk][2] > 0)
        assert really_scored > len(lead_ids) // 2
        assert _assert_one_handoff_where_due(lead_ids) > 100
        # Running every batch again (a late duplicate) changes nothing.
        state = _end_state(lead_ids)
        assert not any(rescore_batch_run(batch_id=b.pk) for b in batches)

        # The dead worker's messages come back once the visibility timeout has passed: a worker starting then
        # takes them, runs them and acknowledges them; they change nothing either.
        _redeliver_after_visibility_timeout(env, tmp_path, faults_redis, workers, killed_at)
    finally:
        for worker in workers:
            worker.kill()
    assert _end_state(lead_ids) == state


def test_scoring_and_handoffs_survive_workers_killed_mid_batch(faults_env, faults_redis, tmp_path):
    """Events' leads are scored and handed off in batches (process_touched_leads, then assign_handoffs). Kill one
    worker while leads are being scored and the next while handoffs are being assigned; a third worker with
    beat's sweeper leaves every lead scored right and exactly one assigned handoff per qualifying lead, and the
    dead workers' messages, delivered again later, change nothing."""
    faults_redis.start()
    env = {**faults_env, "REDIS_URL": faults_redis.url}
    client = _client_app(faults_redis)
    workers = [_worker(env, tmp_path, "first")]
    try:
        ensure_default_scoring()
        reps = _sales_team()
        lead_ids = _generate_leads(3_000, scored=False, hot_every=10)
        for start in range(0, len(lead_ids), 100):
            client.send_task("leads.tasks.process_touched_leads", args=[lead_ids[start : start + 100]])
        scored = Lead.objects.filter(pk__in=lead_ids, scored_at__isnull=False)

        # Kill 1: in the middle of scoring.
        _kill_while_running(workers[0], faults_redis, {"leads.tasks.process_touched_leads"},
                            lambda: scored.count() >= len(lead_ids) // 4, what="a quarter scored")  # fmt: skip
        assert 0 < scored.count() < len(lead_ids)
        assert _in_flight_task_ids(faults_redis)

        # Kill 2: in the middle of assigning the handoffs (process_touched_leads queued them after commit).
        workers.append(_worker(env, tmp_path, "second"))
        handoffs = Handoff.objects.filter(lead_id__in=lead_ids)
        _kill_while_running(workers[1], faults_redis, {"leads.tasks.assign_handoffs"},
                            lambda: handoffs.filter(state=Handoff.State.ASSIGNED).count() >= 20
                            and handoffs.filter(state=Handoff.State.UNASSIGNED).count() >= 20,
                            what="handoffs being assigned")  # fmt: skip
        killed_at = time.monotonic()
        assert handoffs.filter(state=Handoff.State.UNASSIGNED).exists()
        assert handoffs.filter(state=Handoff.State.ASSIGNED).exists()
        assert _in_flight_task_ids(faults_redis)

        workers.append(_worker(env, tmp_path, "third", beat=True))
        _wait_for(
            lambda: scored.count() == len(lead_ids)
            and not handoffs.filter(state=Handoff.State.UNASSIGNED).exists()
            and _queued(faults_redis) == 0,
            timeout=45, what="every lead scored and every handoff assigned",
        )  # fmt: skip
        sweeps = _sweep_results(faults_redis)
        assert any(r["leads"] > 0 or r["handoffs"] > 0 for r in sweeps), "the sweeper re-queued nothing"
        workers[2].stop()

        _assert_scored_as_fresh_at_scored_at(lead_ids)
        assert _assert_one_handoff_where_due(lead_ids) > 100
        assert {h.owner_id for h in Handoff.objects.all()} == {rep.pk for rep in reps}
        state = _end_state(lead_ids)

        _redeliver_after_visibility_timeout(env, tmp_path, faults_redis, workers, killed_at)
    finally:
        for worker in workers:
            worker.kill()
    assert _end_state(lead_ids) == state


def _end_state(lead_ids) -> tuple:
    """What a duplicate must not change: scores, stages, handoffs and their assignment logs."""
    leads = sorted(
        Lead.objects.filter(pk__in=lead_ids).values_list(
            "pk",
            "fit_score",
            "engagement_score",
            "total_score",
            "lifecycle_stage",
            "awareness_stage",
            "owner_id",
        )
    )
    handoffs = sorted(Handoff.objects.values_list("pk", "lead_id", "state", "owner_id", "assigned_at"))
    return leads, handoffs, AssignmentLog.objects.count(), Notification.objects.count()


def _redeliver_after_visibility_timeout(env, tmp_path, redis: PrivateRedis, workers: list, killed_at: float):
    """Start a worker once the dead workers' messages are visible again; it takes, runs and acks every one."""
    assert redis.client().hlen("unacked") > 0, "the dead workers' messages should still be hidden"
    time.sleep(max(0.0, VISIBILITY_TIMEOUT + 0.5 - (time.monotonic() - killed_at)))
    workers.append(_worker(env, tmp_path, "late"))
    _wait_for(_broker_drained(redis), timeout=30, what="the dead workers' messages to be run and acked")


# --- 2. Redis down while events arrive -----------------------------------------------------------------------


def _post_json(port: int, path: str, body, *, token: str, timeout: float = 30) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(
            "POST", path, body=json.dumps(body),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )  # fmt: skip
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def _get(
    port: int, path: str, *, headers: dict | None = None, timeout: float = 30
) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def _gunicorn(env: dict, tmp_path: Path, name: str = "web") -> tuple[Proc, int]:
    port = _free_port()
    proc = Proc(
        [BIN / "gunicorn", "salesmarketing.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2",
         "--timeout", "30"],
        env=env, log=tmp_path / f"{name}.log",
    )  # fmt: skip

    def up():
        try:
            return _get(port, "/healthz", timeout=2)[0] in (200, 503)
        except OSError:
            return False

    try:
        _wait_for(up, timeout=30, what="gunicorn to answer")
    except AssertionError:
        proc.stop()
        raise
    return proc, port


def test_events_are_kept_while_redis_is_down_and_scored_once_it_is_back(faults_env, faults_redis, tmp_path):
    """Redis is down: POST /api/v1/events still answers 202 and stores every event. Redis comes back and nobody
    re-sends anything: beat's sweeper finds the leads whose touches were never scored, and a worker brings their
    awareness, scores and handoffs up to date."""
    ensure_default_scoring()
    ensure_default_rules()
    _sales_team()
    _key, token = api_key_create(name="site", source="site")
    env = {**faults_env, "REDIS_URL": faults_redis.url}  # nothing listens there yet
    web, port = _gunicorn(env, tmp_path)
    worker = None
    try:
        # Redis is down: every batch still answers 202 and is stored.
        emails = [f"p{i}@c{i % 5}.{DOMAIN}" for i in range(120)]
        sent = 0
        for batch in range(4):
            events = []
            for i, email in enumerate(emails):
                n = batch * len(emails) + i
                kind = (
                    "demo_request"
                    if (i % 6 == 0 and batch == 0)
                    else ("page_view", "webinar_attended")[n % 2]
                )
                event = {
                    "id": f"down-{n}",
                    "type": kind,
                    "email": email,
                    "url": f"https://www.example.jp/p{n % 3}",
                }
                if batch == 0:
                    event |= {"title": ("部長", "担当")[i % 2], "company": f"障害試験{i % 5}",
                              "company_domain": f"c{i % 5}.{DOMAIN}"}  # fmt: skip
                if i % 10 == 0:
                    event["url"] = "https://www.example.jp/pricing"
                events.append(event)
            started = time.monotonic()
            status, _headers, body = _post_json(port, "/api/v1/events", {"events": events}, token=token)
            assert status == 202, body
            assert json.loads(body) == {"accepted": len(events), "duplicates": 0, "rejected": []}
            assert time.monotonic() - started < 15, "a broker outage must not hold requests"
            sent += len(events)
        lead_ids = list(Lead.objects.filter(email__endswith=DOMAIN).values_list("pk", flat=True))
        assert len(lead_ids) == len(emails)
        assert Touch.objects.filter(lead_id__in=lead_ids).count() == sent
        assert not Lead.objects.filter(pk__in=lead_ids, scored_at__isnull=False).exists()  # nothing ran

        # Redis is back; nobody re-sends anything. A worker with beat's sweeper catches up from the database.
        faults_redis.start()
        worker = _worker(env, tmp_path, "worker", beat=True)
        latest = Touch.objects.filter(lead_id__in=lead_ids).aggregate(at=Max("created_at"))["at"]
        caught_up = Lead.objects.filter(pk__in=lead_ids, scored_at__gt=latest)
        _wait_for(
            lambda: caught_up.count() == len(lead_ids), timeout=45, what="the sweeper to score every lead"
        )
        _wait_for(lambda: not Handoff.objects.exclude(state=Handoff.State.ASSIGNED).exists(), timeout=30,
                  what="handoffs assigned")  # fmt: skip
        assert any(r["leads"] > 0 for r in _sweep_results(faults_redis))

        # And the normal path works again at once: a new batch is scored by the worker within seconds.
        status, _h, body = _post_json(
            port, "/api/v1/events",
            {"events": [{"id": "back-1", "type": "demo_request", "email": emails[1]}]}, token=token,
        )  # fmt: skip
        assert status == 202, body
        after = Touch.objects.get(idempotency_key="back-1").created_at
        _wait_for(lambda: Lead.objects.filter(email=emails[1], scored_at__gt=after).exists(), timeout=20,
                  what="the new event to be scored")  # fmt: skip
    finally:
        web.stop()
        if worker is not None:
            worker.stop()

    _assert_scored_as_fresh_at_scored_at(lead_ids)
    assert _assert_one_handoff_where_due(lead_ids) >= 10
    pricing = Lead.objects.get(email=emails[0])
    assert pricing.awareness_stage == "manifest"  # awareness was inferred too, not only the scores


def _request(port: int, method: str, path: str, *, body: str = "", headers: dict | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body.encode() or None, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        conn.close()


def _cookies(headers: list[tuple[str, str]]) -> dict[str, str]:
    cookies = (value.split(";", 1)[0] for name, value in headers if name.lower() == "set-cookie")
    return dict(cookie.split("=", 1) for cookie in cookies)


def test_forms_tracking_and_login_work_while_redis_is_down(faults_env, tmp_path):
    """Redis (broker and cache, as docker-compose shares one) is down under gunicorn with DEBUG=0: the public form
    stores its lead (303), the collector its page view, and a user logs in and sees the dashboard. The outage is
    logged (the cache falling back to per-process memory, the task that could not be queued), never a 500; the
    sweeper scores the lead once Redis is back (test above)."""
    from urllib.parse import urlencode

    from tests.leads.factories import FormEndpointFactory

    FormEndpointFactory(site_key="down", redirect_url="https://www.customer.co.jp/thanks")
    UserFactory(username="down-user")  # password pw-for-tests-1
    dead = f"redis://127.0.0.1:{_free_port()}"  # nothing listens there
    env = {
        **faults_env,
        "REDIS_URL": f"{dead}/0",
        "CACHE_URL": f"{dead}/1",
        "LEADS_FORM_RATE_PER_MINUTE": "20",
    }
    web, port = _gunicorn(env, tmp_path)
    try:
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        started = time.monotonic()
        status, headers, body = _request(
            port,
            "POST",
            "/f/down",
            body=urlencode({"email": f"down@{DOMAIN}", "name": "障害 太郎"}),
            headers=form,
        )
        assert status == 303, body.decode(errors="replace")
        assert time.monotonic() - started < 15, "a Redis outage must not hold the form"
        assert Touch.objects.filter(lead__email=f"down@{DOMAIN}").count() == 1

        status, _h, body = _request(port, "GET", "/t/collect?vid=v1.down&eid=d1&url=https://www.example.jp/")
        assert status == 200, body
        assert Touch.objects.filter(idempotency_key__endswith="v1.down:d1").exists()

        status, headers, body = _request(port, "GET", "/accounts/login/")
        assert status == 200
        csrf = _cookies(headers)["csrftoken"]
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1).decode()
        login = urlencode(
            {"username": "down-user", "password": "pw-for-tests-1", "csrfmiddlewaretoken": token}
        )
        status, headers, body = _request(
            port, "POST", "/accounts/login/", body=login, headers={**form, "Cookie": f"csrftoken={csrf}"}
        )
        assert status == 302, body.decode(errors="replace")
        session = _cookies(headers)["sessionid"]
        status, _h, body = _request(port, "GET", "/", headers={"Cookie": f"sessionid={session}"})
        assert status == 200, body.decode(errors="replace")[:2000]
    finally:
        web.stop()
    log = web.text()
    assert "Cache unavailable" in log
    assert "Error calling" in log and "on_commit" in log  # the rescore that could not be queued, logged
    assert "Internal Server Error" not in log and "Traceback" not in log.split("Error calling")[0]


@pytest.mark.django_db
def test_the_sweeper_finds_exactly_the_leads_whose_touches_were_never_scored(settings):
    """The sweeper's pass over the database: leads with a touch received after they were last scored (or never
    scored), older than the stale window and within the look-back; nothing else, and at most `limit`."""
    settings.SWEEP_STALE_SECONDS, settings.SWEEP_LOOKBACK_HOURS = 600, 48
    ensure_default_scoring()
    now = timezone.now()
    ago = {"days": now - dt.timedelta(days=3), "hour": now - dt.timedelta(hours=1),
           "half": now - dt.timedelta(minutes=30), "min": now - dt.timedelta(minutes=1)}  # fmt: skip
    cases = {  # email: (touch received at, lead scored at), None = no touch / never scored
        "lost@s.example.jp": ("half", None),  # the broker was down: never scored -> swept
        "later@s.example.jp": ("half", "hour"),  # touched after it was scored -> swept
        "noted@s.example.jp": ("hour", "half"),  # scored after its touch -> left alone
        "fresh@s.example.jp": ("min", None),  # its own message may still come -> not yet
        "old@s.example.jp": ("days", None),  # beyond the look-back -> left to the nightly rescore
        "bare@s.example.jp": (None, None),  # created half an hour ago, never scored -> swept
    }
    pk = {}
    for i, (email, (received, scored)) in enumerate(cases.items()):
        lead = lead_upsert(email=email, source="api", title="部長")[0]
        pk[email] = lead.pk
        created = (
            ago[received] if received in ("days", "min") else ago["half"]
        )  # a lead arrives with its touch
        Lead.objects.filter(pk=lead.pk).update(created_at=created, scored_at=ago.get(scored))
        if received:
            touch = Touch.objects.create(
                lead=lead, type="demo_request", occurred_at=ago[received], source="t", idempotency_key=str(i)
            )
            Touch.objects.filter(pk=touch.pk).update(created_at=ago[received])
    swept = {pk[e] for e in ("lost@s.example.jp", "later@s.example.jp", "bare@s.example.jp")}

    window = {"since": now - dt.timedelta(hours=48), "before": now - dt.timedelta(minutes=10)}
    assert set(leads_with_unscored_touches(**window, limit=100)) == swept
    assert len(leads_with_unscored_touches(**window, limit=2)) == 2
    assert sweep() == {"batches": 0, "handoffs": 0, "leads": 3, "bulk_jobs": 0}  # tasks run in-process here
    assert set(Lead.objects.filter(scored_at__gt=now).values_list("pk", flat=True)) == swept
    assert Lead.objects.get(pk=pk["lost@s.example.jp"]).lifecycle_stage == LifecycleStage.MQL
    assert sweep()["leads"] == 0  # done: the next run finds nothing


# --- 3. The database restarting under load --------------------------------------------------------------------


class PrivateCluster:
    """A PostgreSQL cluster of this test's own (initdb in a temp dir), so that the test can restart it."""

    def __init__(self, bindir: Path, workdir: Path):
        self.bindir, self.workdir = bindir, workdir
        self.data = workdir / "data"
        self.port = _free_port()
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def run(self, *args, check=True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self.as_postgres, *map(str, args)],
            cwd=self.workdir,
            capture_output=True,
            text=True,
            check=check,
            timeout=60,
        )

    def init(self) -> None:
        if self.as_postgres:
            shutil.chown(self.workdir, "postgres")
        self.run(self.bindir / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                 "--locale=C", "--no-sync")  # fmt: skip
        self.start()

    def pg_ctl(self, *args) -> None:
        options = f"-p {self.port} -k {self.workdir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.run(self.bindir / "pg_ctl", "-D", self.data, "-l", self.workdir / "log", "-o", options, "-w",
                 *args)  # fmt: skip

    def start(self) -> None:
        self.pg_ctl("start")

    def stop(self) -> None:
        self.pg_ctl("stop", "-m", "fast")

    def url(self, name: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"


@pytest.fixture
def faults_cluster(transactional_db):
    require_or_skip(connection.vendor == "postgresql", "needs PostgreSQL")
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    require_or_skip(
        bool(versions), "no PostgreSQL server binaries under /usr/lib/postgresql to run a cluster"
    )
    if os.geteuid() == 0:
        require_or_skip(bool(shutil.which("runuser")), "running as root without runuser to become postgres")
    workdir = Path(tempfile.mkdtemp(prefix="sm-faults-pg-"))
    cluster = PrivateCluster(versions[-1].parent, workdir)
    try:
        cluster.init()
    except (subprocess.CalledProcessError, OSError, LookupError) as exc:
        shutil.rmtree(workdir, ignore_errors=True)
        require_or_skip(False, f"cannot start a private PostgreSQL cluster: {getattr(exc, 'stderr', exc)}")
    yield cluster
    cluster.run(cluster.bindir / "pg_ctl", "-D", cluster.data, "stop", "-m", "immediate", check=False)
    shutil.rmtree(workdir, ignore_errors=True)


def test_requests_fail_cleanly_while_the_database_restarts(
    faults_cluster, faults_redis, faults_env, tmp_path
):
    """Threads post event batches through gunicorn while PostgreSQL restarts twice: every answer is 202 or 503
    (never a 500, never a hang), every 202 batch is stored whole and no 503 batch is stored in part."""
    _key, token = api_key_create(name="load", source="load")
    # The app's schema and the key, copied from the test database into the private cluster.
    bindir = faults_cluster.bindir
    subprocess.run([bindir / "createdb", "-h", "127.0.0.1", "-p", str(faults_cluster.port), "-U", "postgres",
                    "app"], check=True, capture_output=True)  # fmt: skip
    dump = subprocess.run(
        [bindir / "pg_dump", "--no-owner", "--no-privileges", "-d", _database_url(settings.DATABASES["default"]["NAME"])],
        check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run([bindir / "psql", "-q", "-v", "ON_ERROR_STOP=1", "-d", faults_cluster.url("app")],
                   input=dump.stdout, check=True, capture_output=True)  # fmt: skip
    faults_redis.start()  # the broker is up: only the database fails here
    env = {**faults_env, "DATABASE_URL": faults_cluster.url("app"), "REDIS_URL": faults_redis.url}
    web, port = _gunicorn(env, tmp_path)
    try:
        # While the database is down: a JSON 503 for the API, an HTML "try again" page for a page (the session read
        # behind the login check is what fails there), both with Retry-After.
        faults_cluster.stop()
        try:
            status, headers, body = _post_json(
                port, "/api/v1/events", {"events": [{"id": "x", "type": "page_view", "email": f"x@{DOMAIN}"}]},
                token=token,
            )  # fmt: skip
            assert status == 503 and headers["content-type"] == "application/json", body
            assert headers["retry-after"].isdigit() and json.loads(body)["detail"]
            status, headers, body = _get(port, "/", headers={"Cookie": f"sessionid={uuid.uuid4().hex}"})
            assert status == 503 and headers["content-type"].startswith("text/html"), body
            assert headers["retry-after"].isdigit() and b"<h1>" in body
        finally:
            faults_cluster.start()

        outcomes: list[tuple[str, int, int]] = []  # (batch, status, events)
        failures: list[str] = []
        stop = threading.Event()

        def poster(thread: int) -> None:
            n = 0
            while not stop.is_set():
                batch = f"t{thread}-b{n}"
                events = [
                    {"id": f"{batch}-e{i}", "type": "page_view", "email": f"t{thread}-{(n * 7 + i) % 60}@{DOMAIN}",
                     "url": "https://www.example.jp/pricing"}
                    for i in range(25)
                ]  # fmt: skip
                try:
                    status, _h, body = _post_json(
                        port, "/api/v1/events", {"events": events}, token=token, timeout=20
                    )
                except OSError as exc:  # a hang or a dropped connection: both are failures of this point
                    failures.append(f"{batch}: {exc!r}")
                    return
                outcomes.append((batch, status, len(events)))
                if status not in (202, 503):
                    failures.append(f"{batch}: {status} {body[:300]!r}")
                elif status == 503:
                    time.sleep(0.2)  # a real client waits Retry-After; a short pause keeps the test quick
                n += 1

        def accepted_since(mark: int, n: int) -> bool:
            return sum(1 for o in outcomes[mark:] if o[1] == 202) >= n

        threads = [threading.Thread(target=poster, args=(t,)) for t in range(4)]
        try:
            for t in threads:
                t.start()
            mark = 0
            for _restart in range(2):
                _wait_for(partial(accepted_since, mark, 8), timeout=30, what="batches to go through")
                # A restart (pg_ctl stop -m fast, then start) with a short gap, so that requests meet every phase:
                # transactions aborted mid-way, connections refused, "the database system is starting up".
                faults_cluster.stop()
                time.sleep(1.5)
                faults_cluster.start()
                mark = len(outcomes)
            _wait_for(
                partial(accepted_since, mark, 8), timeout=30, what="batches to go through after the restart"
            )
        finally:
            stop.set()
            for t in threads:
                t.join(30)
    finally:
        web.stop()

    assert not failures, failures[:5]
    statuses = [status for _b, status, _n in outcomes]
    assert statuses.count(503) >= 2, "the restarts never reached a request"
    assert statuses.count(202) >= 20

    with psycopg.connect(faults_cluster.url("app")) as conn:
        stored = dict(
            conn.execute(
                "SELECT split_part(idempotency_key, '-e', 1), count(*) FROM leads_touch WHERE source = 'api:load' "
                "GROUP BY 1"
            ).fetchall()
        )
    half_stored = {b: stored.get(b, 0) for b, status, n in outcomes if stored.get(b, 0) not in (0, n)}
    assert not half_stored, f"batches stored in part: {half_stored}"
    lost = [b for b, status, n in outcomes if status == 202 and stored.get(b, 0) != n]
    assert not lost, f"batches answered 202 but not stored: {lost[:5]}"
