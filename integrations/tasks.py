"""Thin tasks on the `integrations` queue: they take ids, and running one twice changes nothing."""

from __future__ import annotations

from celery import shared_task

from integrations.imap import POLL_TIME_LIMIT, mailbox_poll, mailboxes_due
from integrations.services import delivery_attempt, events_fan_out, integrations_sweep


@shared_task(acks_late=True, ignore_result=True)  # queued from requests: no result store to wait for
def dispatch_events(event_ids: list[int]) -> int:
    """Make the deliveries of these events (events already dispatched are skipped)."""
    return events_fan_out(event_ids=event_ids)


@shared_task(acks_late=True, ignore_result=True)
def deliver(delivery_id: int) -> str:
    """One attempt at one delivery if it is due and unclaimed (see integrations.services.delivery_attempt)."""
    return delivery_attempt(delivery_id=delivery_id)


@shared_task(acks_late=True)
def sweep() -> dict[str, int]:
    """Beat, every INTEGRATIONS_SWEEP_SECONDS: lost dispatches, due retries, old rows."""
    result = integrations_sweep()
    return {"dispatched": result.dispatched, "queued": result.queued, "purged": result.purged}


@shared_task(acks_late=True, ignore_result=True)
def imap_poll() -> int:
    """Beat, every IMAP_POLL_SECONDS: one task per mailbox not being polled (a slow server delays only its own)."""
    ids = mailboxes_due()
    for pk in ids:
        imap_poll_mailbox.delay(pk)
    return len(ids)


@shared_task(
    acks_late=True, ignore_result=True, soft_time_limit=POLL_TIME_LIMIT - 60, time_limit=POLL_TIME_LIMIT
)
def imap_poll_mailbox(mailbox_id: int) -> int | None:
    """Read one mailbox's new messages, if no other worker is reading it (see integrations.imap.mailbox_poll)."""
    return mailbox_poll(mailbox_id=mailbox_id)
