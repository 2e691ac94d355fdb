"""Webhook deliveries to a real receiver on loopback: signed, retried after a failure, in order per record, once
per event, given up (and the subscription flagged) after the retry window, and never to a private address
unless allowed."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from integrations.models import WebhookDelivery, WebhookSubscription
from integrations.services import delivery_attempt, events_fan_out, subscription_create
from salesmarketing import events
from salesmarketing.events import event_emit
from salesmarketing.models import DomainEvent, Notification

pytestmark = pytest.mark.django_db


def _subscribe(receiver, kinds=(events.DEAL_STAGE_CHANGED, events.DEAL_WON)) -> WebhookSubscription:
    subscription, secret = subscription_create(name="CRM", url=f"{receiver.url}/hook", kinds=kinds, by=None)
    receiver.secret = secret
    return subscription


def _emit(kind=events.DEAL_WON, subject=("deal", 7), **payload) -> DomainEvent:
    return event_emit(kind=kind, subject=subject, payload={"deal_id": subject[1], "team_id": None, **payload})


def _delivery(event: DomainEvent) -> WebhookDelivery:
    return WebhookDelivery.objects.get(event=event)


def test_the_receiver_verifies_the_signature_and_gets_the_event_id_and_body(receiver):
    _subscribe(receiver)
    event = _emit(amount="2400000")
    events_fan_out(event_ids=[event.pk])

    assert delivery_attempt(delivery_id=_delivery(event).pk) == "delivered"

    [request] = receiver.requests
    assert request.signature_ok is True
    assert request.path == "/hook"
    assert request.headers["X-SM-Event-Id"] == str(event.uuid)
    assert request.headers["X-SM-Event"] == "deal.won"
    assert request.json() == {
        "id": str(event.uuid),
        "type": "deal.won",
        "occurred_at": event.occurred_at.isoformat(),
        "subject": {"type": "deal", "id": 7},
        "data": {"deal_id": 7, "team_id": None, "amount": "2400000"},
    }
    delivery = _delivery(event)
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)
    assert delivery.delivered_at is not None and delivery.last_response_ms is not None


def test_a_wrong_secret_fails_the_receivers_check(receiver):
    _subscribe(receiver)
    receiver.secret = "whsec_not-the-one"
    event = _emit()
    events_fan_out(event_ids=[event.pk])
    delivery_attempt(delivery_id=_delivery(event).pk)
    assert [r.signature_ok for r in receiver.requests] == [False]


def test_a_500_is_retried_with_backoff_then_delivered(receiver):
    _subscribe(receiver)
    receiver.statuses.extend([500])
    event = _emit()
    t0 = timezone.now()
    events_fan_out(event_ids=[event.pk], now=t0)
    delivery_id = _delivery(event).pk

    assert delivery_attempt(delivery_id=delivery_id, now=t0) == "retry"
    delivery = _delivery(event)
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    assert delivery.next_attempt_at == t0 + dt.timedelta(seconds=30)
    assert (
        delivery_attempt(delivery_id=delivery_id, now=t0 + dt.timedelta(seconds=10)) == "skipped"
    )  # not due

    assert delivery_attempt(delivery_id=delivery_id, now=t0 + dt.timedelta(seconds=31)) == "delivered"
    assert [r.headers["X-SM-Event-Id"] for r in receiver.requests] == [str(event.uuid)] * 2
    assert all(r.signature_ok for r in receiver.requests)
    assert _delivery(event).attempts == 2


def test_the_backoff_doubles_up_to_an_hour(receiver):
    _subscribe(receiver)
    receiver.statuses.extend([503] * 9)
    event = _emit()
    now = timezone.now()
    events_fan_out(event_ids=[event.pk], now=now)
    waits = []
    for _attempt in range(9):
        assert delivery_attempt(delivery_id=_delivery(event).pk, now=now) == "retry"
        due = _delivery(event).next_attempt_at
        waits.append(int((due - now).total_seconds()))
        now = due
    assert waits == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


def test_after_the_retry_window_it_gives_up_flags_the_subscription_and_tells_the_admins(receiver, admin):
    subscription = _subscribe(receiver)
    receiver.statuses.extend([500, 500])
    event = _emit()
    t0 = timezone.now()
    events_fan_out(event_ids=[event.pk], now=t0)
    delivery_id = _delivery(event).pk
    assert delivery_attempt(delivery_id=delivery_id, now=t0) == "retry"

    assert delivery_attempt(delivery_id=delivery_id, now=t0 + dt.timedelta(hours=24, seconds=1)) == "failed"
    subscription.refresh_from_db()
    assert subscription.flagged_at is not None and not subscription.is_active
    [note] = Notification.objects.filter(recipient=admin)
    assert note.kind == "webhook_failing" and note.params == {"name": "CRM"}
    # A switched-off subscription gets no new events.
    later = _emit(subject=("deal", 8))
    events_fan_out(event_ids=[later.pk])
    assert not WebhookDelivery.objects.filter(event=later).exists()


def test_one_records_events_arrive_in_order(receiver):
    _subscribe(receiver)
    first = _emit(kind=events.DEAL_STAGE_CHANGED, from_stage_id=1, to_stage_id=2)
    second = _emit(kind=events.DEAL_WON, amount="100")
    other_record = _emit(subject=("deal", 99))
    t0 = timezone.now()
    events_fan_out(event_ids=[first.pk, second.pk, other_record.pk], now=t0)

    assert delivery_attempt(delivery_id=_delivery(second).pk, now=t0) == "waiting"  # the first goes first
    assert delivery_attempt(delivery_id=_delivery(other_record).pk, now=t0) == "delivered"  # another record
    receiver.statuses.extend([500])
    assert delivery_attempt(delivery_id=_delivery(first).pk, now=t0) == "retry"  # the 500
    assert delivery_attempt(delivery_id=_delivery(second).pk, now=t0) == "waiting"  # still behind it
    later = t0 + dt.timedelta(seconds=31)
    assert delivery_attempt(delivery_id=_delivery(first).pk, now=later) == "delivered"
    assert delivery_attempt(delivery_id=_delivery(second).pk, now=later) == "delivered"

    kinds = [(r.json()["subject"]["id"], r.json()["type"]) for r in receiver.requests]
    assert kinds == [(99, "deal.won"), (7, "deal.stage_changed"), (7, "deal.stage_changed"), (7, "deal.won")]


def test_an_event_not_yet_fanned_out_holds_back_the_records_later_ones(receiver):
    _subscribe(receiver)
    first, second = _emit(kind=events.DEAL_STAGE_CHANGED), _emit()
    events_fan_out(event_ids=[second.pk])
    assert delivery_attempt(delivery_id=_delivery(second).pk) == "waiting"
    events_fan_out(event_ids=[first.pk])
    assert delivery_attempt(delivery_id=_delivery(first).pk) == "delivered"
    assert delivery_attempt(delivery_id=_delivery(second).pk) == "delivered"


def test_replaying_an_event_creates_no_second_delivery(receiver):
    _subscribe(receiver)
    event = _emit()
    assert events_fan_out(event_ids=[event.pk]) == 1
    assert events_fan_out(event_ids=[event.pk]) == 0  # dispatched already
    DomainEvent.objects.filter(pk=event.pk).update(dispatched_at=None)  # as if the mark were lost
    assert events_fan_out(event_ids=[event.pk]) == 1
    assert WebhookDelivery.objects.filter(event=event).count() == 1
    delivery_id = _delivery(event).pk
    assert delivery_attempt(delivery_id=delivery_id) == "delivered"
    assert delivery_attempt(delivery_id=delivery_id) == "skipped"  # a task run twice sends once
    assert len(receiver.requests) == 1


def test_a_subscription_gets_only_the_kinds_it_asked_for(receiver):
    _subscribe(receiver, kinds=[events.LEAD_CREATED])
    event = _emit()
    events_fan_out(event_ids=[event.pk])
    assert not WebhookDelivery.objects.exists()
    assert DomainEvent.objects.get(pk=event.pk).dispatched_at is not None


def test_a_redirect_is_not_followed(receiver):
    _subscribe(receiver)
    receiver.statuses.extend([302])
    event = _emit()
    events_fan_out(event_ids=[event.pk])
    assert delivery_attempt(delivery_id=_delivery(event).pk) == "retry"
    assert [r.path for r in receiver.requests] == ["/hook"]
    assert _delivery(event).last_error == "HTTP 302"


def test_a_slow_receiver_times_out(receiver, settings):
    settings.INTEGRATIONS_TIMEOUT_SECONDS = 1
    _subscribe(receiver)
    receiver.delay = 2
    event = _emit()
    events_fan_out(event_ids=[event.pk])
    assert delivery_attempt(delivery_id=_delivery(event).pk) == "retry"
    assert "timed out" in _delivery(event).last_error.lower() or "Timeout" in _delivery(event).last_error


def test_the_test_event_reaches_a_subscription_signed(receiver):
    from integrations.services import webhook_send_test

    subscription = _subscribe(receiver)
    delivery = webhook_send_test(subscription=subscription)
    assert delivery_attempt(delivery_id=delivery.pk) == "delivered"
    [request] = receiver.requests
    assert request.signature_ok and json.loads(request.body)["type"] == "webhook.test"


def test_a_switched_off_subscription_gets_its_test_event_but_not_pending_ones(receiver):
    from integrations.services import subscription_set_active, webhook_send_test

    subscription = _subscribe(receiver)
    event = _emit()
    events_fan_out(event_ids=[event.pk])
    subscription_set_active(subscription=subscription, active=False)
    assert delivery_attempt(delivery_id=_delivery(event).pk) == "failed"
    assert _delivery(event).last_error  # why, in the log
    test = webhook_send_test(subscription=subscription)
    assert delivery_attempt(delivery_id=test.pk) == "delivered"
    assert [r.json()["type"] for r in receiver.requests] == ["webhook.test"]
    subscription.refresh_from_db()
    assert not subscription.is_active
