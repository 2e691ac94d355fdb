"""Broadcasts and sequences on real workers: a Celery worker on Redis sends through a real SMTP server with the
throttle, and a worker SIGKILLed mid-broadcast or mid-sequence-run loses no row and sends none twice (counted on
the SMTP server)."""

from __future__ import annotations

import asyncio
import collections
import time

import pytest
from aiosmtpd.controller import Controller
from django.utils import timezone

from leads.models import Lead
from nurture.mail import services
from nurture.models import Broadcast, BroadcastSend, BroadcastStatus, Enrolment, SendStatus, StepSend
from nurture.sequences import services as sequence_services
from tests.leads.factories import CampaignFactory
from tests.nurture.factories import MailTemplateFactory, mail_sender_profile, sequence_make
from tests.nurture.mail_fixtures import *  # noqa: F403
from tests.nurture.mail_fixtures import SinkHandler, free_port, mail_lead, mail_segment
from tests.reliability import test_faults as faults
from tests.reliability.test_faults import _client_app, _wait_for, _worker
from tests.salesmarketing.factories import UserFactory

# The fault tests' fixtures (a private redis-server, the subprocesses' environment), used here too.
faults_env = faults.faults_env
faults_redis = faults.faults_redis


def _broadcast(n: int, *, throttle: int) -> Broadcast:
    mail_sender_profile()
    leads = [mail_lead(f"w{i}@example.jp", name=f"読者 {i}") for i in range(n)]
    return services.broadcast_create(
        by=UserFactory(username="mail-worker", role="marketing"),
        name="ワーカー配信",
        template=MailTemplateFactory(),
        segment=mail_segment(leads),
        campaign=CampaignFactory(),
        throttle_per_minute=throttle,
    )


@pytest.mark.worker
def test_a_worker_sends_a_broadcast_through_smtp_at_the_throttle(celery_worker, smtp_sink, settings):
    settings.BROADCAST_BATCH_SECONDS = 1  # a "minute" of one second: 120/min is 2 messages a second
    broadcast = _broadcast(5, throttle=120)
    began = time.monotonic()

    services.broadcast_schedule(broadcast=broadcast)  # transactional test: the start is queued at once

    _wait_for(
        lambda: Broadcast.objects.get(pk=broadcast.pk).status == BroadcastStatus.DONE,
        timeout=30,
        what="the broadcast to finish",
    )
    assert time.monotonic() - began >= 2  # three batches of at most two, a second apart
    assert sorted(r[0] for r in smtp_sink.recipients) == [f"w{i}@example.jp" for i in range(5)]
    assert len(set(smtp_sink.message_ids())) == 5


class SlowSink(SinkHandler):
    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(0.03)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def slow_smtp():
    sink = SlowSink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield sink, controller.port
    controller.stop()


def _mail_env(faults_env, faults_redis, port: int) -> dict:
    return {
        **faults_env,
        "REDIS_URL": faults_redis.url,
        "EMAIL_BACKEND": "salesmarketing.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(port),
        "SITE_URL": "https://crm.example.jp",
        "BROADCAST_BATCH_SECONDS": "1",
        "BROADCAST_STALL_SECONDS": "3",
        "EMAIL_SEND_STALE_SECONDS": "3",
        "MAIL_SWEEP_INTERVAL_SECONDS": "1",
    }


def _sent_once(received: collections.Counter, by_status: collections.Counter, total: int) -> None:
    assert max(received.values()) == 1, "a message was sent twice"
    assert by_status[SendStatus.SENT] + by_status[SendStatus.UNKNOWN] == total
    assert by_status[SendStatus.UNKNOWN] <= 2  # at most the rows in flight in the killed worker's processes
    assert len(received) >= by_status[SendStatus.SENT]


@pytest.mark.serial
def test_a_worker_killed_mid_broadcast_loses_no_row_and_sends_none_twice(
    faults_env, faults_redis, slow_smtp, tmp_path
):
    faults_redis.start()
    sink, port = slow_smtp
    env = _mail_env(faults_env, faults_redis, port)
    broadcast = _broadcast(120, throttle=1800)  # 30 a batch
    Broadcast.objects.filter(pk=broadcast.pk).update(
        status=BroadcastStatus.SCHEDULED, scheduled_at=timezone.now()
    )
    workers = [_worker(env, tmp_path, "mail-first")]
    try:
        _client_app(faults_redis).send_task("nurture.mail.tasks.broadcast_start", args=[broadcast.pk])
        rows = BroadcastSend.objects.filter(broadcast_id=broadcast.pk)
        _wait_for(lambda: rows.filter(status=SendStatus.SENT).count() >= 40, timeout=60, what="40 sent",
                  interval=0.02)  # fmt: skip
        workers[0].kill()
        assert rows.filter(status=SendStatus.PENDING).exists()  # killed mid-broadcast

        workers.append(_worker(env, tmp_path, "mail-second", beat=True))
        _wait_for(
            lambda: Broadcast.objects.get(pk=broadcast.pk).status == BroadcastStatus.DONE,
            timeout=90,
            what="the broadcast to finish",
        )
    finally:
        for worker in workers:
            worker.kill()

    received = collections.Counter(sink.message_ids())
    _sent_once(received, collections.Counter(rows.values_list("status", flat=True)), 120)
    sent_ids = {f"<broadcast-{broadcast.pk}.lead-{lead_id}@sample.example.jp>"
                for lead_id in rows.filter(status=SendStatus.SENT).values_list("lead_id", flat=True)}  # fmt: skip
    assert sent_ids <= set(received)  # every row marked sent reached the server


@pytest.mark.serial
def test_a_chunk_claimed_by_a_killed_worker_is_resumed_without_duplicates(
    faults_env, faults_redis, slow_smtp, tmp_path
):
    faults_redis.start()
    sink, port = slow_smtp
    env = _mail_env(faults_env, faults_redis, port)
    broadcast = _broadcast(120, throttle=120 * 60)  # one batch, one chunk of 120 claimed at once
    Broadcast.objects.filter(pk=broadcast.pk).update(
        status=BroadcastStatus.SCHEDULED, scheduled_at=timezone.now()
    )
    rows = BroadcastSend.objects.filter(broadcast_id=broadcast.pk)
    handed = rows.filter(status=SendStatus.SENDING, sent_at__isnull=False)
    workers = [_worker(env, tmp_path, "chunk-first")]
    try:
        _client_app(faults_redis).send_task("nurture.mail.tasks.broadcast_start", args=[broadcast.pk])
        _wait_for(lambda: handed.count() >= 30, timeout=60, what="30 handed over", interval=0.02)
        workers[0].kill()
        killed_chunk = set(rows.filter(status=SendStatus.SENDING).values_list("lead_id", flat=True))
        assert rows.filter(status=SendStatus.SENDING, sent_at__isnull=True).exists()  # killed mid-chunk
        assert not rows.filter(
            status=SendStatus.SENT
        ).exists()  # nothing marked yet: the chunk marks at its end

        workers.append(_worker(env, tmp_path, "chunk-second", beat=True))
        _wait_for(
            lambda: Broadcast.objects.get(pk=broadcast.pk).status == BroadcastStatus.DONE,
            timeout=90,
            what="the broadcast to finish",
        )
    finally:
        for worker in workers:
            worker.kill()

    received = collections.Counter(sink.message_ids())
    by_status = collections.Counter(rows.values_list("status", flat=True))
    assert len(killed_chunk) == 120 and by_status[SendStatus.UNKNOWN] <= 1  # only the message in flight
    _sent_once(received, by_status, 120)
    sent_ids = {f"<broadcast-{broadcast.pk}.lead-{lead_id}@sample.example.jp>"
                for lead_id in rows.filter(status=SendStatus.SENT).values_list("lead_id", flat=True)}  # fmt: skip
    assert sent_ids <= set(received)


@pytest.mark.serial
def test_a_worker_killed_mid_sequence_run_loses_no_step_and_sends_none_twice(
    faults_env, faults_redis, slow_smtp, tmp_path
):
    faults_redis.start()
    sink, port = slow_smtp
    env = _mail_env(faults_env, faults_redis, port)
    mail_sender_profile()
    leads = [mail_lead(f"s{i}@example.jp", name=f"育成 {i}") for i in range(120)]
    sequence = sequence_make(template=MailTemplateFactory(), steps=2, campaign=CampaignFactory())
    sequence_services.enrol_leads(sequence=sequence, leads=Lead.objects.filter(pk__in=[x.pk for x in leads]),
                                  source="manual")  # fmt: skip
    Enrolment.objects.update(next_send_at=timezone.now())  # the first step is due for all 120
    rows = StepSend.objects.filter(step__sequence=sequence)
    client = _client_app(faults_redis)
    workers = [_worker(env, tmp_path, "steps-first")]
    try:
        client.send_task("nurture.sequences.tasks.sequence_run")
        _wait_for(lambda: rows.filter(status=SendStatus.SENT).count() >= 40, timeout=60, what="40 sent",
                  interval=0.02)  # fmt: skip
        workers[0].kill()
        assert rows.filter(status=SendStatus.PENDING).exists()  # killed mid-run

        workers.append(_worker(env, tmp_path, "steps-second"))

        def finished() -> (
            bool
        ):  # the next runs (as the beat would start them) send the rest, give up the claimed
            if not rows.filter(status__in=[SendStatus.PENDING, SendStatus.SENDING]).exists():
                return True
            client.send_task("nurture.sequences.tasks.sequence_run")
            return False

        _wait_for(finished, timeout=90, what="every first step to be sent", interval=1)
    finally:
        for worker in workers:
            worker.kill()

    assert rows.count() == 120  # one ledger row per enrolment for the first step; the second is not due yet
    received = collections.Counter(sink.message_ids())
    _sent_once(received, collections.Counter(rows.values_list("status", flat=True)), 120)
