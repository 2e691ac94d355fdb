"""Domain events: the outbox every app writes what happened to, for what leaves the app (webhooks, team chat).

A service that changes a record calls `event_emit` inside its own transaction, next to the write:

    event_emit(kind=events.DEAL_WON, subject=("deal", deal.pk), payload={"deal_id": deal.pk, ...})

The row commits or rolls back with the write. After commit, whatever is registered at
`hooks.DOMAIN_EVENTS_EMITTED` (the integrations app) is told the new ids and fans them out; a beat sweeper picks
up any the broker lost (`DomainEvent.dispatched_at` is still empty). The kinds are declared once, below; the
payload carries ids, codes and amounts only (no names, e-mails or free text), so that an erased lead leaves no
personal data in the outbox and a receiver reads anything more through the API.

This module sits in the lowest layer: it imports no app above `salesmarketing`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping
from typing import Any, Final

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from salesmarketing import hooks
from salesmarketing.models import DomainEvent

LEAD_CREATED: Final = "lead.created"
LEAD_MQL: Final = "lead.mql"
LEAD_UNSUBSCRIBED: Final = "lead.unsubscribed"
HANDOFF_ASSIGNED: Final = "handoff.assigned"
HANDOFF_SLA_BREACHED: Final = "handoff.sla_breached"
HANDOFF_ACCEPTED: Final = "handoff.accepted"
HANDOFF_REJECTED: Final = "handoff.rejected"
DEAL_STAGE_CHANGED: Final = "deal.stage_changed"
DEAL_WON: Final = "deal.won"
DEAL_LOST: Final = "deal.lost"
QUOTE_ACCEPTED: Final = "quote.accepted"
# Sent to one webhook subscription on an admin's request (integrations), never by a service.
WEBHOOK_TEST: Final = "webhook.test"

# Every kind, with its label, in the order the settings pages list them.
KINDS: Final[dict[str, Any]] = {
    LEAD_CREATED: _("Lead created"),
    LEAD_MQL: _("Lead became MQL"),
    HANDOFF_ASSIGNED: _("Handoff assigned"),
    HANDOFF_SLA_BREACHED: _("Handoff SLA breached"),
    HANDOFF_ACCEPTED: _("Handoff accepted"),
    HANDOFF_REJECTED: _("Handoff rejected"),
    DEAL_STAGE_CHANGED: _("Deal stage changed"),
    DEAL_WON: _("Deal won"),
    DEAL_LOST: _("Deal lost"),
    QUOTE_ACCEPTED: _("Quote accepted"),
    LEAD_UNSUBSCRIBED: _("Lead unsubscribed"),
    WEBHOOK_TEST: _("Test event"),
}
# What a subscription may ask for (the test event is sent on request only).
SUBSCRIBABLE: Final = tuple(kind for kind in KINDS if kind != WEBHOOK_TEST)

Subject = tuple[str, int]  # ("deal", 12): the record an event is about; its events are delivered in order


def _check(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown event kind {kind!r}")


def event_emit(
    *, kind: str, subject: Subject, payload: Mapping[str, Any], at: dt.datetime | None = None
) -> DomainEvent:
    """Record one event in the caller's transaction; it is fanned out after commit."""
    _check(kind)
    event = DomainEvent.objects.create(
        kind=kind,
        subject_type=subject[0],
        subject_id=subject[1],
        payload=dict(payload),
        occurred_at=at or timezone.now(),
    )
    _after_commit([event.pk])
    return event


def event_rows(
    *,
    kind: str,
    subject_type: str,
    payloads: Iterable[tuple[int, Mapping[str, Any]]],
    at: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """Rows of DomainEvent, one per (subject id, payload), for a set-based insert (a batch of new leads, of
    MQLs: leads.bulk.events_insert); pass the inserted ids to `events_recorded`. Each row has its own uuid."""
    _check(kind)
    when = at or timezone.now()
    return [
        {
            "uuid": uuid.uuid4(),
            "kind": kind,
            "subject_type": subject_type,
            "subject_id": pk,
            "payload": dict(payload),
            "occurred_at": when,
            "dispatched_at": None,
        }
        for pk, payload in payloads
    ]


def events_recorded(ids: list[int]) -> None:
    """Events inserted in the caller's transaction (event_rows): fanned out after commit."""
    if ids:
        _after_commit(ids)


def _after_commit(ids: list[int]) -> None:
    def dispatch_emitted() -> None:  # named: Django logs a failed robust callback by its __qualname__
        hooks.call(hooks.DOMAIN_EVENTS_EMITTED, event_ids=ids)

    # robust: a broker that is down must not fail the write that committed; the sweeper dispatches later.
    transaction.on_commit(dispatch_emitted, robust=True)
