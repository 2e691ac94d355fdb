"""From a committed write to the receiver: the hook after commit, the sweeper for what the broker lost, and a real
Celery worker on Redis on the integrations queue."""

from __future__ import annotations

import datetime as dt
import time

import pytest
import time_machine
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from integrations.models import WebhookDelivery
from integrations.services import integrations_sweep, subscription_create
from pipeline.services import deal_change_stage
from salesmarketing import events
from salesmarketing.events import event_emit
from salesmarketing.models import DomainEvent
from tests.pipeline.factories import make_deal


def _subscribe(receiver, kinds=(events.DEAL_WON,)):
    subscription, receiver.secret = subscription_create(
        name="CRM", url=f"{receiver.url}/hook", kinds=kinds, by=None
    )
    return subscription


@pytest.mark.django_db
def test_a_won_deal_reaches_the_receiver_after_commit(
    receiver, owner, stages, django_capture_on_commit_callbacks
):
    _subscribe(receiver)
    deal = make_deal(owner=owner)
    with django_capture_on_commit_callbacks(execute=True):
        deal_change_stage(deal=deal, stage=stages["Won"], by=owner, amount=1_200_000)
    [request] = receiver.requests
    assert request.signature_ok
    assert request.json()["data"] == {
        "deal_id": deal.pk,
        "owner_id": owner.pk,
        "team_id": owner.team_id,
        "amount": "1200000",
    }
    assert WebhookDelivery.objects.get().state == "delivered"


@pytest.mark.django_db
def test_the_sweeper_sends_what_the_broker_lost_and_retries_what_is_due(receiver):
    _subscribe(receiver)
    # Emitted, but its after-commit dispatch never ran (the broker was down): nothing was sent.
    event = event_emit(kind=events.DEAL_WON, subject=("deal", 3), payload={"deal_id": 3})
    assert receiver.requests == []
    receiver.statuses.extend([500])

    start = timezone.now()
    with time_machine.travel(start + dt.timedelta(minutes=1)):
        result = integrations_sweep()
    assert (result.dispatched, result.queued) == (1, 1)
    delivery = WebhookDelivery.objects.get(event=event)
    assert delivery.state == "pending" and delivery.last_status_code == 500  # tried (in-process), failed

    with time_machine.travel(start + dt.timedelta(minutes=1, seconds=10)):
        assert integrations_sweep().queued == 0  # the retry is not due yet
    with time_machine.travel(start + dt.timedelta(minutes=2)):
        assert integrations_sweep().queued == 1
    delivery.refresh_from_db()
    assert delivery.state == "delivered"
    with time_machine.travel(start + dt.timedelta(minutes=3)):
        assert integrations_sweep().queued == 0
    assert len(receiver.requests) == 2


@pytest.mark.django_db
def test_the_sweeper_deletes_old_finished_events_only(receiver, settings):
    _subscribe(receiver)
    old = timezone.now() - dt.timedelta(days=settings.INTEGRATIONS_KEEP_DAYS + 1)
    done = event_emit(kind=events.DEAL_WON, subject=("deal", 1), payload={}, at=old)
    stuck = event_emit(kind=events.DEAL_WON, subject=("deal", 2), payload={}, at=old)
    DomainEvent.objects.update(dispatched_at=old)
    WebhookDelivery.objects.create(
        event=stuck,
        subscription_id=_subscribe(receiver, kinds=[events.LEAD_MQL]).pk,
        subject_key="deal:2",
        next_attempt_at=timezone.now() + dt.timedelta(hours=1),
        give_up_at=timezone.now() + dt.timedelta(hours=2),
    )
    assert integrations_sweep().purged == 1
    assert list(DomainEvent.objects.values_list("pk", flat=True)) == [stuck.pk]
    assert done.pk not in DomainEvent.objects.values_list("pk", flat=True)


def test_a_real_worker_delivers_from_the_integrations_queue(celery_worker, receiver):
    consumed = {queue.name for queue in celery_worker.consumer.task_consumer.queues}
    assert "integrations" in consumed and settings.CELERY_TASK_ROUTES["integrations.tasks.deliver"] == {
        "queue": "integrations"
    }
    _subscribe(receiver)
    with transaction.atomic():
        event = event_emit(kind=events.DEAL_WON, subject=("deal", 5), payload={"deal_id": 5})
    deadline = time.monotonic() + 20
    while not receiver.requests and time.monotonic() < deadline:
        time.sleep(0.1)
    [request] = receiver.requests
    assert request.signature_ok and request.headers["X-SM-Event-Id"] == str(event.uuid)
    deadline = time.monotonic() + 10
    while WebhookDelivery.objects.get(event=event).state != "delivered" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert WebhookDelivery.objects.get(event=event).state == "delivered"
