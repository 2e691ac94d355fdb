"""A notification's e-mail is a ledger row written with the notification and sent by a task on the `email` queue
after the commit: no request or realtime worker waits on the mail server, a mail server that is down loses
nothing (tried again, backing off), and no e-mail goes out twice."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
import redis
from aiosmtpd.controller import Controller
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from leads.handoffs import messages as handoff_messages
from salesmarketing.celery import app as celery_app
from salesmarketing.celery import broker_queue_keys
from salesmarketing.models import NotificationEmail
from salesmarketing.services import notification_email_deliver, notification_emails_stalled, notification_send
from salesmarketing.tasks import notification_email_sweep, purge_old_notifications, send_notification_email
from tests.conftest import require_or_skip
from tests.nurture.mail_fixtures import SinkHandler, free_port, smtp_sink  # noqa: F401  (a fixture)
from tests.salesmarketing.factories import notify

SEND = "salesmarketing.tasks.send_notification_email"
pytestmark = pytest.mark.django_db(transaction=True)  # committed, as the e-mail waits for the commit


def _new_lead(recipient) -> NotificationEmail:
    notification_send(
        recipient=recipient,
        message=handoff_messages.NEW_LEAD,
        params=handoff_messages.NEW_LEAD.params(
            lead="東邦 課長", lead_id=7, why="価格ページ", due=dt.datetime(2026, 12, 4, 1, 30, tzinfo=dt.UTC)
        ),
        url="/leads/handoffs/",
        email=True,
    )
    return NotificationEmail.objects.get(recipient=recipient)


def _another(owner) -> NotificationEmail:
    notify(recipient=owner, title="もう一通", email=True)
    return NotificationEmail.objects.filter(recipient=owner).latest("pk")


def _queued(broker) -> list[tuple[str, str]]:
    """(task name, its arguments as Celery shows them) of the messages waiting on the `email` queue."""
    messages = [json.loads(raw) for key in broker_queue_keys("email") for raw in broker.lrange(key, 0, -1)]
    return [(m["headers"]["task"], m["headers"]["argsrepr"]) for m in messages]


@pytest.fixture
def broker():
    """Redis as the broker, with nothing run in place: what is queued stays on its queue."""
    require_or_skip(bool(settings.REDIS_URL), "REDIS_URL is not set, so there is no broker to queue on")
    connection = redis.Redis.from_url(settings.REDIS_URL)
    keys = broker_queue_keys("email")
    connection.delete(*keys)
    celery_app.conf.task_always_eager = False  # the autouse fixture restores it
    yield connection
    connection.delete(*keys)


def test_the_email_is_written_with_the_notification_and_queued_on_email_after_commit(owner, broker):
    with transaction.atomic():
        queued = _new_lead(owner)
        assert queued.state == NotificationEmail.State.QUEUED and queued.attempts == 0
        assert _queued(broker) == []  # nothing leaves before the commit
    assert _queued(broker) == [(SEND, f"({queued.pk},)")]

    with transaction.atomic():
        notify(recipient=owner, title="ロールバックされる", email=True)
        transaction.set_rollback(True)
    assert NotificationEmail.objects.count() == 1 and len(_queued(broker)) == 1  # rolled back: no e-mail


def test_it_is_written_in_the_recipients_language_when_it_is_sent(owner, smtp_sink):  # noqa: F811
    owner.language = "en"
    owner.save(update_fields=["language"])
    queued = _new_lead(owner)  # committed: its task ran in place
    [message] = smtp_sink.parsed()
    assert str(message["Subject"]).strip() == "New lead to call: 東邦 課長"
    assert message["To"] == owner.email
    assert message.get_content().rstrip().endswith("https://crm.example.jp/leads/handoffs/")
    queued.refresh_from_db()
    assert (
        queued.state == NotificationEmail.State.SENT and queued.sent_at is not None and queued.attempts == 1
    )
    assert notification_email_deliver(email_id=queued.pk) is False and len(smtp_sink.messages) == 1


def test_a_mail_server_that_is_down_loses_nothing_and_nothing_goes_out_twice(owner, broker, settings):
    port = free_port()  # nothing listens there yet: the mail server is down
    settings.EMAIL_BACKEND = "salesmarketing.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 5
    queued = _new_lead(owner)
    broker.delete(*broker_queue_keys("email"))  # the commit's message: this test runs the sends itself

    assert notification_email_deliver(email_id=queued.pk) is False
    queued.refresh_from_db()
    assert queued.state == NotificationEmail.State.QUEUED and queued.attempts == 1
    assert "refused" in queued.error.lower()
    assert _queued(broker) == [(SEND, f"({queued.pk},)")]  # tried again later (a minute, then 2, 4, 8)
    [raw] = [raw for key in broker_queue_keys("email") for raw in broker.lrange(key, 0, -1)]
    eta = dt.datetime.fromisoformat(json.loads(raw)["headers"]["eta"])
    assert 50 <= (eta - timezone.now()).total_seconds() <= 60

    handler = SinkHandler()
    server = Controller(handler, hostname="127.0.0.1", port=port)
    server.start()  # the mail server is back
    try:
        assert notification_email_deliver(email_id=queued.pk) is True
        assert notification_email_deliver(email_id=queued.pk) is False  # the retry, or the sweep's: sent once
        assert len(handler.messages) == 1
        # A worker that died between the claim and the mark left it `sending`: it is never sent again.
        crashed = _another(owner)
        NotificationEmail.objects.filter(pk=crashed.pk).update(state=NotificationEmail.State.SENDING)
        assert notification_email_deliver(email_id=crashed.pk) is False
        assert len(handler.messages) == 1
    finally:
        server.stop()


def test_after_its_last_attempt_it_is_failed_and_tried_no_more(owner, broker, settings):
    settings.EMAIL_BACKEND = "salesmarketing.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 5
    queued = _new_lead(owner)
    broker.delete(*broker_queue_keys("email"))
    NotificationEmail.objects.filter(pk=queued.pk).update(attempts=NotificationEmail.MAX_ATTEMPTS - 1)
    assert notification_email_deliver(email_id=queued.pk) is False
    queued.refresh_from_db()
    assert (
        queued.state == NotificationEmail.State.FAILED and queued.attempts == NotificationEmail.MAX_ATTEMPTS
    )
    assert _queued(broker) == []


def test_the_sweep_queues_again_what_the_broker_lost_and_old_rows_are_purged(owner, broker):
    lost = _new_lead(owner)
    fresh = _another(owner)
    broker.delete(*broker_queue_keys("email"))  # the broker lost both messages
    NotificationEmail.objects.filter(pk=lost.pk).update(created_at=timezone.now() - dt.timedelta(minutes=11))
    assert notification_emails_stalled() == [lost.pk]  # the fresh one still has its own message's turn
    assert notification_email_sweep.run() == 1
    assert _queued(broker) == [(SEND, f"({lost.pk},)")]

    long_ago = timezone.now() - dt.timedelta(days=91)
    NotificationEmail.objects.filter(pk=lost.pk).update(
        state=NotificationEmail.State.SENT, created_at=long_ago
    )
    NotificationEmail.objects.filter(pk=fresh.pk).update(created_at=long_ago)  # still queued: kept
    purge_old_notifications.run()
    assert list(NotificationEmail.objects.values_list("pk", flat=True)) == [fresh.pk]


def test_a_worker_sends_each_email_once_on_the_email_queue(celery_worker, owner, smtp_sink):  # noqa: F811
    with transaction.atomic():
        queued = _new_lead(owner)
    send_notification_email.delay(queued.pk)  # a redelivered message, or the sweep's
    deadline = time.monotonic() + 30
    while not NotificationEmail.objects.filter(pk=queued.pk, state=NotificationEmail.State.SENT).exists():
        assert time.monotonic() < deadline, "the worker did not send the e-mail within 30 s"
        time.sleep(0.1)
    time.sleep(1)  # room for a second send, were there one
    assert [str(m["Subject"]).strip() for m in smtp_sink.parsed()] == ["連絡すべき新しいリード：東邦 課長"]
