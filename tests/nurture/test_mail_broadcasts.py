"""Broadcasts: the freeze (skips with reasons, unique), exactly-once sending through a real SMTP server, the
throttle, pause / resume / cancel, opt-out after the freeze, SMTP errors, and the sweep after a dead worker."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, close_old_connections, connection, connections, transaction
from django.utils import timezone

from leads.models import Lead
from leads.privacy import lead_unsubscribe
from nurture.mail import sending, services
from nurture.models import (
    Broadcast,
    BroadcastSend,
    BroadcastStatus,
    SenderProfile,
    SendStatus,
    SkipReason,
)
from tests.nurture.mail_fixtures import *  # noqa: F403
from tests.nurture.mail_fixtures import mail_lead, mail_segment
from tests.salesmarketing.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def marketer_user(db):
    return UserFactory(username="mail-marketer", role="marketing")


def _broadcast(*, template, campaign, leads, by, throttle=100) -> Broadcast:
    return services.broadcast_create(
        by=by,
        name="12月号",
        template=template,
        segment=mail_segment(leads),
        campaign=campaign,
        throttle_per_minute=throttle,
    )


def _started(broadcast: Broadcast) -> Broadcast:
    """Scheduled for a minute ago and started (frozen), without sending: tests drive the batches themselves."""
    Broadcast.objects.filter(pk=broadcast.pk).update(
        status=BroadcastStatus.SCHEDULED, scheduled_at=timezone.now() - dt.timedelta(minutes=1)
    )
    assert sending.broadcast_start(broadcast_id=broadcast.pk)
    broadcast.refresh_from_db()
    return broadcast


@pytest.fixture
def five_recipients(db):
    ok = [mail_lead(f"reader{i}@example.jp", name=f"読者 {i}") for i in range(3)]
    no_consent = mail_lead("noconsent@example.jp", consent_email=False)
    unsubscribed = mail_lead("gone@example.jp")
    lead_unsubscribe(lead_id=unsubscribed.pk)
    invalid = Lead.objects.create(email="no-at-sign.example.jp", consent_email=True)
    return {"ok": ok, "no_consent": no_consent, "unsubscribed": unsubscribed, "invalid": invalid}


def _all(recipients) -> list[Lead]:
    return [*recipients["ok"], recipients["no_consent"], recipients["unsubscribed"], recipients["invalid"]]


def test_the_freeze_records_every_lead_once_with_skip_reasons(
    mail_profile, mail_template, mail_campaign, marketer_user, five_recipients, django_assert_num_queries
):
    broadcast = _broadcast(
        template=mail_template, campaign=mail_campaign, leads=_all(five_recipients), by=marketer_user
    )
    Broadcast.objects.filter(pk=broadcast.pk).update(
        status=BroadcastStatus.SCHEDULED, scheduled_at=timezone.now()
    )
    broadcast = Broadcast.objects.select_related("segment").get(pk=broadcast.pk)

    with django_assert_num_queries(1):  # one INSERT … SELECT, whatever the number of leads
        assert sending.ledger_freeze(broadcast=broadcast) == 6
    assert sending.ledger_freeze(broadcast=broadcast) == 0  # again: nothing doubled

    rows = {row.lead_id: row for row in BroadcastSend.objects.filter(broadcast=broadcast)}
    assert len(rows) == 6
    assert {rows[lead.pk].status for lead in five_recipients["ok"]} == {SendStatus.PENDING}
    assert rows[five_recipients["no_consent"].pk].skip_reason == SkipReason.NO_CONSENT
    assert rows[five_recipients["unsubscribed"].pk].skip_reason == SkipReason.UNSUBSCRIBED
    assert rows[five_recipients["invalid"].pk].skip_reason == SkipReason.INVALID_ADDRESS
    pending = {row.lead_id for row in rows.values() if row.status == SendStatus.PENDING}
    assert pending <= set(Lead.objects.emailable().values_list("pk", flat=True))
    with pytest.raises(IntegrityError), transaction.atomic():
        BroadcastSend.objects.create(broadcast=broadcast, lead=five_recipients["ok"][0])


def test_each_row_is_sent_once_even_when_the_batch_runs_twice(
    smtp_sink, mail_profile, mail_template, mail_campaign, marketer_user, five_recipients
):
    broadcast = _started(
        _broadcast(
            template=mail_template, campaign=mail_campaign, leads=_all(five_recipients), by=marketer_user
        )
    )
    later = timezone.now() + dt.timedelta(minutes=5)

    first = sending.broadcast_send_batch(broadcast_id=broadcast.pk)
    second = sending.broadcast_send_batch(broadcast_id=broadcast.pk, now=later)

    assert (first.sent, second.sent) == (3, 0)
    assert sorted(r[0] for r in smtp_sink.recipients) == [f"reader{i}@example.jp" for i in range(3)]
    assert len(set(smtp_sink.message_ids())) == 3
    assert smtp_sink.message_ids()[0].startswith(f"<broadcast-{broadcast.pk}.lead-")
    broadcast.refresh_from_db()
    assert broadcast.status == BroadcastStatus.DONE and broadcast.finished_at is not None
    assert BroadcastSend.objects.filter(broadcast=broadcast, status=SendStatus.SENT).count() == 3
    sent = smtp_sink.parsed()[0]
    assert sent["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "/t/o/" in sent.get_body(("html",)).get_content()


def test_the_throttle_sends_one_minute_worth_per_batch(
    smtp_sink, mail_profile, mail_template, mail_campaign, marketer_user
):
    leads = [mail_lead(f"t{i}@example.jp") for i in range(5)]
    broadcast = _started(
        _broadcast(template=mail_template, campaign=mail_campaign, leads=leads, by=marketer_user, throttle=2)
    )
    start = timezone.now()

    counts = [
        sending.broadcast_send_batch(broadcast_id=broadcast.pk, now=start).sent,
        sending.broadcast_send_batch(broadcast_id=broadcast.pk, now=start + dt.timedelta(seconds=30)).sent,
        sending.broadcast_send_batch(broadcast_id=broadcast.pk, now=start + dt.timedelta(seconds=61)).sent,
        sending.broadcast_send_batch(broadcast_id=broadcast.pk, now=start + dt.timedelta(seconds=122)).sent,
    ]

    assert counts == [2, 0, 2, 1]
    assert len(smtp_sink.messages) == 5


def test_pause_resume_and_cancel(
    smtp_sink, mail_profile, mail_template, mail_campaign, marketer_user, django_capture_on_commit_callbacks
):
    leads = [mail_lead(f"p{i}@example.jp") for i in range(4)]
    broadcast = _started(
        _broadcast(template=mail_template, campaign=mail_campaign, leads=leads, by=marketer_user, throttle=1)
    )
    start = timezone.now()
    assert sending.broadcast_send_batch(broadcast_id=broadcast.pk, now=start).sent == 1

    services.broadcast_pause(broadcast=broadcast)
    paused = sending.broadcast_send_batch(broadcast_id=broadcast.pk, now=start + dt.timedelta(minutes=2))
    assert paused.sent == 0 and len(smtp_sink.messages) == 1
    with pytest.raises(ValidationError):
        services.broadcast_pause(broadcast=broadcast)

    with django_capture_on_commit_callbacks(execute=True):
        services.broadcast_resume(broadcast=broadcast)  # queues a batch (run in-process here)
    assert len(smtp_sink.messages) == 2

    services.broadcast_cancel(broadcast=broadcast)
    assert (
        sending.broadcast_send_batch(broadcast_id=broadcast.pk, now=start + dt.timedelta(minutes=9)).sent == 0
    )
    assert len(smtp_sink.messages) == 2
    broadcast.refresh_from_db()
    assert broadcast.status == BroadcastStatus.CANCELLED
    assert BroadcastSend.objects.filter(broadcast=broadcast, skip_reason=SkipReason.CANCELLED).count() == 2


def test_a_lead_unsubscribed_after_the_freeze_gets_nothing(
    smtp_sink, mail_profile, mail_template, mail_campaign, marketer_user
):
    stays, leaves = mail_lead("stays@example.jp"), mail_lead("leaves@example.jp")
    broadcast = _started(
        _broadcast(template=mail_template, campaign=mail_campaign, leads=[stays, leaves], by=marketer_user)
    )
    assert BroadcastSend.objects.filter(broadcast=broadcast, status=SendStatus.PENDING).count() == 2

    lead_unsubscribe(lead_id=leaves.pk)
    sending.broadcast_send_batch(broadcast_id=broadcast.pk)

    assert smtp_sink.recipients == [["stays@example.jp"]]
    row = BroadcastSend.objects.get(broadcast=broadcast, lead=leaves)
    assert (row.status, row.skip_reason) == (SendStatus.SKIPPED, SkipReason.UNSUBSCRIBED)


def _chunk_send(broadcast: Broadcast, chunk: sending.Chunk, profile) -> sending.BatchResult:
    from django.core.mail import get_connection

    result = sending.BatchResult()
    with get_connection() as conn:
        sending.chunk_send(broadcast, chunk, profile=profile, connection=conn, result=result)
    return result


def test_an_opt_out_after_the_chunk_was_claimed_is_honoured(
    smtp_sink, mail_profile, mail_template, mail_campaign, marketer_user
):
    stays, leaves = mail_lead("stays@example.jp"), mail_lead("race@example.jp")
    broadcast = _started(
        _broadcast(template=mail_template, campaign=mail_campaign, leads=[stays, leaves], by=marketer_user)
    )
    chunk = sending.chunk_claim(broadcast_id=broadcast.pk, size=10)
    assert len(chunk.rows) == 2
    Lead.objects.filter(pk=leaves.pk).update(unsubscribed_at=timezone.now(), consent_email=False)

    result = _chunk_send(broadcast, chunk, mail_profile)

    assert (result.sent, result.skipped, smtp_sink.recipients) == (1, 0, [["stays@example.jp"]])
    row = BroadcastSend.objects.get(broadcast=broadcast, lead=leaves)
    assert (row.status, row.skip_reason) == (SendStatus.SKIPPED, SkipReason.UNSUBSCRIBED)
    assert BroadcastSend.objects.get(broadcast=broadcast, lead=stays).status == SendStatus.SENT


@pytest.mark.parametrize("action", ["pause", "cancel"])
def test_a_pause_or_cancel_after_the_chunk_was_claimed_stops_it_at_the_next_message(
    action, smtp_sink, mail_profile, mail_template, mail_campaign, marketer_user
):
    leads = [mail_lead(f"p{i}@example.jp") for i in range(3)]
    broadcast = _started(
        _broadcast(template=mail_template, campaign=mail_campaign, leads=leads, by=marketer_user)
    )
    chunk = sending.chunk_claim(broadcast_id=broadcast.pk, size=10)
    getattr(services, f"broadcast_{action}")(broadcast=broadcast)

    result = _chunk_send(broadcast, chunk, mail_profile)

    assert result.stopped and smtp_sink.messages == []
    statuses = set(BroadcastSend.objects.filter(broadcast=broadcast).values_list("status", "skip_reason"))
    expected = (SendStatus.PENDING, "") if action == "pause" else (SendStatus.SKIPPED, SkipReason.CANCELLED)
    assert statuses == {expected}  # the chunk's rows were given back, none left claimed


def test_scheduling_and_sending_are_refused_without_the_sender_profile(
    smtp_sink, mail_template, mail_campaign, marketer_user
):
    SenderProfile.objects.create(pk=1, sender_name="株式会社サンプル", from_email="news@sample.example.jp")
    broadcast = _broadcast(
        template=mail_template, campaign=mail_campaign, leads=[mail_lead("a@example.jp")], by=marketer_user
    )

    with pytest.raises(ValidationError) as caught:
        services.broadcast_schedule(broadcast=broadcast)
    assert caught.value.code == "sender_profile"
    broadcast.refresh_from_db()
    assert broadcast.status == BroadcastStatus.DRAFT

    _started(broadcast)  # a broadcast already running when the profile was emptied
    result = sending.broadcast_send_batch(broadcast_id=broadcast.pk)
    broadcast.refresh_from_db()
    assert result.sent == 0 and smtp_sink.messages == []
    assert broadcast.status == BroadcastStatus.PAUSED and "住所" in broadcast.status_note  # what is missing


def test_schedule_now_starts_and_sends(smtp_sink, mail_profile, mail_template, mail_campaign, marketer_user,
                                       django_capture_on_commit_callbacks):  # fmt: skip
    broadcast = _broadcast(
        template=mail_template, campaign=mail_campaign, leads=[mail_lead("now@example.jp")], by=marketer_user
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.broadcast_schedule(broadcast=broadcast)

    broadcast.refresh_from_db()
    assert broadcast.status == BroadcastStatus.DONE and smtp_sink.recipients == [["now@example.jp"]]


def test_a_broadcast_scheduled_later_waits_for_its_time(
    smtp_sink, mail_profile, mail_template, mail_campaign, marketer_user, django_capture_on_commit_callbacks
):
    broadcast = _broadcast(
        template=mail_template,
        campaign=mail_campaign,
        leads=[mail_lead("later@example.jp")],
        by=marketer_user,
    )
    later = timezone.now() + dt.timedelta(hours=3)
    with django_capture_on_commit_callbacks(execute=True):
        services.broadcast_schedule(broadcast=broadcast, scheduled_at=later)

    broadcast.refresh_from_db()
    assert broadcast.status == BroadcastStatus.SCHEDULED and smtp_sink.messages == []
    assert sending.mail_sweep(now=later + dt.timedelta(seconds=1)).due == [broadcast.pk]


def test_smtp_errors_permanent_fail_temporary_retry_later(
    smtp_sink, mail_profile, mail_template, mail_campaign, marketer_user
):
    leads = [mail_lead("reject@example.jp"), mail_lead("busy@example.jp"), mail_lead("fine@example.jp")]
    broadcast = _started(
        _broadcast(template=mail_template, campaign=mail_campaign, leads=leads, by=marketer_user)
    )

    result = sending.broadcast_send_batch(broadcast_id=broadcast.pk)

    assert (result.sent, result.failed) == (1, 1) and result.more
    rejected = BroadcastSend.objects.get(broadcast=broadcast, lead=leads[0])
    assert rejected.status == SendStatus.FAILED and "550" in rejected.error and "@" not in rejected.error
    busy = BroadcastSend.objects.get(broadcast=broadcast, lead=leads[1])
    assert busy.status == SendStatus.PENDING and busy.next_attempt_at > timezone.now() and busy.attempts == 1
    assert smtp_sink.recipients == [["fine@example.jp"]]


def test_a_mail_server_that_is_down_loses_nothing(
    mail_profile, mail_template, mail_campaign, marketer_user, settings
):
    from tests.nurture.mail_fixtures import free_port

    settings.EMAIL_BACKEND = "salesmarketing.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nobody listens
    broadcast = _started(
        _broadcast(
            template=mail_template,
            campaign=mail_campaign,
            leads=[mail_lead("x@example.jp")],
            by=marketer_user,
        )
    )

    with pytest.raises(sending.TemporaryFailure):
        sending.broadcast_send_batch(broadcast_id=broadcast.pk)

    row = BroadcastSend.objects.get(broadcast=broadcast)
    assert row.status == SendStatus.PENDING and row.attempts == 0


def test_the_sweep_resumes_a_dead_workers_chunk_without_sending_any_row_twice(
    smtp_sink, mail_profile, mail_template, mail_campaign, marketer_user, settings
):
    leads = [mail_lead(f"chunk{i}@example.jp") for i in range(4)]
    broadcast = _started(
        _broadcast(template=mail_template, campaign=mail_campaign, leads=leads, by=marketer_user)
    )
    chunk = sending.chunk_claim(broadcast_id=broadcast.pk, size=4)
    quiet_for = max(settings.EMAIL_SEND_STALE_SECONDS, settings.BROADCAST_STALL_SECONDS) + 5
    long_ago = timezone.now() - dt.timedelta(seconds=quiet_for)
    # The worker handed the first two rows over (the server accepted the first: it went on to the second) and
    # was killed before the second's answer and before marking the chunk; the last two never left.
    rows = BroadcastSend.objects.filter(broadcast=broadcast)
    rows.update(claimed_at=long_ago)
    rows.filter(lead__in=leads[:2]).update(sent_at=long_ago, attempts=1)
    Broadcast.objects.filter(pk=broadcast.pk).update(batch_started_at=long_ago)
    assert sending.dead_claims(now=timezone.now()) == [(broadcast.pk, chunk.token)]

    found = sending.mail_sweep()
    sending.broadcast_send_batch(broadcast_id=broadcast.pk)

    assert found.unknown == 1 and found.stalled == [broadcast.pk]
    status = dict(rows.values_list("lead__email", "status"))
    assert status == {
        "chunk0@example.jp": SendStatus.SENT,  # accepted before the kill
        "chunk1@example.jp": SendStatus.UNKNOWN,  # in flight: maybe sent, never sent again
        "chunk2@example.jp": SendStatus.SENT,  # resumed by the next batch
        "chunk3@example.jp": SendStatus.SENT,
    }
    assert smtp_sink.recipients == [["chunk2@example.jp"], ["chunk3@example.jp"]]
    broadcast.refresh_from_db()
    assert broadcast.status == BroadcastStatus.DONE


def test_a_live_workers_chunk_is_left_alone_by_the_sweep(
    smtp_sink, mail_profile, mail_template, mail_campaign, marketer_user
):
    leads = [mail_lead(f"live{i}@example.jp") for i in range(2)]
    broadcast = _started(
        _broadcast(template=mail_template, campaign=mail_campaign, leads=leads, by=marketer_user)
    )
    chunk = sending.chunk_claim(broadcast_id=broadcast.pk, size=2)

    assert sending.mail_sweep().unknown == 0 and sending.dead_claims(now=timezone.now()) == []
    result = _chunk_send(broadcast, chunk, mail_profile)

    assert result.sent == 2 and len(smtp_sink.messages) == 2


@pytest.mark.django_db(transaction=True)
def test_the_prepared_hand_over_survives_a_new_database_connection(
    smtp_sink, mail_profile, mail_template, mail_campaign
):
    """On PostgreSQL the hand-over is a statement prepared per connection: a worker whose connection was closed
    (CONN_MAX_AGE, a restarted server) prepares it again on the next one."""
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")
    user = UserFactory(username="mail-prepared", role="marketing")
    leads = [mail_lead(f"p{i}@example.jp") for i in range(4)]
    broadcast = _started(_broadcast(template=mail_template, campaign=mail_campaign, leads=leads, by=user))
    for _round in range(2):
        chunk = sending.chunk_claim(broadcast_id=broadcast.pk, size=2)
        assert _chunk_send(broadcast, chunk, mail_profile).sent == 2
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_prepared_statements WHERE name = %s", [sending.HAND_OVER_STATEMENT]
            )
            assert cursor.fetchone() == (1,)
        connection.close()
    assert len(smtp_sink.messages) == 4
    assert BroadcastSend.objects.filter(broadcast=broadcast, status=SendStatus.SENT).count() == 4


@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_send_each_row_once(smtp_sink, mail_profile, mail_template, mail_campaign):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (SQLite's test database serialises them)")
    user = UserFactory(username="mail-concurrent", role="marketing")
    leads = [mail_lead(f"c{i}@example.jp") for i in range(40)]
    broadcast = _started(_broadcast(template=mail_template, campaign=mail_campaign, leads=leads, by=user))

    def worker() -> None:
        try:  # small chunks, so that the workers claim side by side: the claim decides who sends a row
            while chunk := sending.chunk_claim(broadcast_id=broadcast.pk, size=3):
                _chunk_send(broadcast, chunk, mail_profile)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(smtp_sink.messages) == 40
    assert len(set(smtp_sink.message_ids())) == 40
    assert BroadcastSend.objects.filter(broadcast=broadcast, status=SendStatus.SENT).count() == 40


@pytest.mark.django_db(transaction=True)
def test_the_parts_of_one_batch_send_side_by_side_within_the_throttle(
    smtp_sink, mail_profile, mail_template, mail_campaign, monkeypatch, settings
):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (SQLite's test database serialises them)")
    monkeypatch.setattr(sending, "CHUNK_SIZE", 3)  # small chunks, so that the parts claim side by side
    settings.BROADCAST_BATCH_PARTS = 3
    user = UserFactory(username="mail-parts", role="marketing")
    leads = [mail_lead(f"p{i}@example.jp") for i in range(40)]
    broadcast = _started(
        _broadcast(template=mail_template, campaign=mail_campaign, leads=leads, by=user, throttle=25)
    )
    start = timezone.now()
    opened, parts = sending.batch_open(broadcast_id=broadcast.pk, now=start)
    sent: list[int] = []

    def part() -> None:
        try:
            sent.append(sending.broadcast_send_part(broadcast_id=broadcast.pk, now=start).sent)
        finally:
            connections.close_all()  # this thread's own

    threads = [threading.Thread(target=part) for _ in range(parts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    # The throttle (25 a minute) is the batch's, whatever the number of parts: the claims count it together.
    assert (opened.stopped, parts, sum(sent)) == ("", 3, 25)
    assert sending.broadcast_send_part(broadcast_id=broadcast.pk, now=start).sent == 0
    assert len(smtp_sink.messages) == len(set(smtp_sink.message_ids())) == 25
    assert BroadcastSend.objects.filter(broadcast=broadcast, status=SendStatus.SENT).count() == 25
    # The next minute's batch takes the rest.
    later = start + dt.timedelta(seconds=61)
    assert sending.broadcast_send_batch(broadcast_id=broadcast.pk, now=later).sent == 15
    assert len(set(smtp_sink.message_ids())) == 40
