"""Writes for webhooks and team chat: subscriptions and channels, fanning events out into deliveries, and each
delivery's attempts (claimed before, marked after), retries with backoff, order per record and giving up.

Delivery is at least once: a worker that dies between the POST and marking it leaves a claim that goes stale and
is tried again, so a receiver de-duplicates by the event id (the `X-SM-Event-Id` header), as docs/integrations.md
says. Two workers never send the same delivery at once (the claim), and an event never gets a second delivery
row for a target (a unique constraint), however often it is fanned out.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.client
import json
import logging
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from integrations import http as outbound
from integrations import messages
from integrations.chat import chat_request_for
from integrations.models import TeamChannel, WebhookDelivery, WebhookSubscription
from salesmarketing import events
from salesmarketing.celery import queue_task
from salesmarketing.models import DomainEvent, Team, User
from salesmarketing.services import notification_send

logger = logging.getLogger(__name__)

RETRY_FIRST_SECONDS = 30  # then doubling: 30 s, 1 min, 2 min … up to an hour between attempts
RETRY_MAX_SECONDS = 3600
SWEEP_BATCH = 500
SIGNATURE_HEADER = "X-SM-Signature"
TIMESTAMP_HEADER = "X-SM-Timestamp"
EVENT_ID_HEADER = "X-SM-Event-Id"
EVENT_KIND_HEADER = "X-SM-Event"


def _retry_window() -> dt.timedelta:
    return dt.timedelta(hours=settings.INTEGRATIONS_RETRY_HOURS)


def _claim_stale() -> dt.timedelta:
    # Longer than an attempt can take (connect + read timeouts), so a live worker's claim is never taken over.
    return dt.timedelta(seconds=4 * settings.INTEGRATIONS_TIMEOUT_SECONDS + 60)


def _check_url(url: str, field: str = "url") -> None:
    try:
        outbound.url_check(url)
    except outbound.UnsafeUrl as exc:
        raise ValidationError({field: str(exc)}) from exc


def _check_kinds(kinds: Iterable[str], allowed: Iterable[str]) -> list[str]:
    chosen = [kind for kind in allowed if kind in set(kinds)]
    if not chosen:
        raise ValidationError({"events": _("Choose at least one event.")})
    return chosen


# --- Subscriptions and channels --------------------------------------------------------------------------------


def subscription_create(
    *, name: str, url: str, kinds: Iterable[str], by: User | None
) -> tuple[WebhookSubscription, str]:
    """A new subscription and its signing secret, which the caller shows once and never again."""
    _check_url(url)
    secret = f"whsec_{secrets.token_urlsafe(32)}"
    subscription = WebhookSubscription.objects.create(
        name=name, url=url, events=_check_kinds(kinds, events.SUBSCRIBABLE), secret=secret, created_by=by
    )
    return subscription, secret


def subscription_set_active(*, subscription: WebhookSubscription, active: bool) -> WebhookSubscription:
    """Switch a subscription on (which clears its failing flag) or off (events are no longer sent to it)."""
    subscription.is_active = active
    if active:
        subscription.flagged_at = None
    subscription.save(update_fields=["is_active", "flagged_at"])
    return subscription


def channel_save(
    *,
    team: Team,
    provider: str,
    language: str,
    kinds: Iterable[str],
    url: str = "",
    room_id: str = "",
    token: str = "",
    is_active: bool = True,
) -> TeamChannel:
    """Set a team's chat channel (one per team); saving it switches it on again after failures."""
    if provider == TeamChannel.Provider.CHATWORK:
        if not room_id.strip().isdigit():
            raise ValidationError({"room_id": _("Chatwork's room id is a number.")})
        if not token.strip():
            raise ValidationError({"token": _("Chatwork needs an API token.")})
        url = ""
    else:
        if not url:
            raise ValidationError({"url": _("Give the channel's incoming webhook URL.")})
        _check_url(url)
        room_id = token = ""
    channel, _created = TeamChannel.objects.update_or_create(
        team=team,
        defaults={
            "provider": provider,
            "url": url,
            "room_id": room_id.strip(),
            "token": token.strip(),
            "language": language,
            "events": _check_kinds(kinds, TeamChannel.KINDS),
            "is_active": is_active,
            "flagged_at": None,
        },
    )
    return channel


# --- Fan-out -------------------------------------------------------------------------------------------------


def _subject_key(event: DomainEvent) -> str:
    return f"{event.subject_type}:{event.subject_id}"


def events_fan_out(*, event_ids: Iterable[int], now: dt.datetime | None = None) -> int:
    """Make the deliveries of these events (those not dispatched yet) to every active subscription and team
    channel that wants them, mark the events dispatched, and queue the deliveries after commit. Running it again
    for the same events adds nothing. Returns the number of events dispatched."""
    now = now or timezone.now()
    with transaction.atomic():
        pending = list(
            DomainEvent.objects.select_for_update(skip_locked=True)
            .filter(pk__in=list(event_ids), dispatched_at__isnull=True)
            .order_by("pk")
        )
        if not pending:
            return 0
        subscriptions = list(WebhookSubscription.objects.filter(is_active=True))
        channels = list(TeamChannel.objects.filter(is_active=True))
        rows = []
        for event in pending:
            base = {
                "event": event,
                "subject_key": _subject_key(event),
                "next_attempt_at": now,
                "give_up_at": now + _retry_window(),
            }
            rows += [WebhookDelivery(subscription=s, **base) for s in subscriptions if s.wants(event.kind)]
            team_id = event.payload.get("team_id")
            rows += [
                WebhookDelivery(channel=c, **base)
                for c in channels
                if c.team_id == team_id and c.wants(event.kind)
            ]
        WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True)
        DomainEvent.objects.filter(pk__in=[e.pk for e in pending]).update(dispatched_at=now)
        if rows:
            _queue_heads_on_commit({_subject_key(e) for e in pending})
    return len(pending)


def _queue_heads_on_commit(subject_keys: set[str]) -> None:
    """After commit, queue the pending deliveries of these records (each finds whether an earlier one of its
    record is still in the way)."""
    ids = list(
        WebhookDelivery.objects.filter(state=WebhookDelivery.State.PENDING, subject_key__in=subject_keys)
        .order_by("event_id", "id")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    transaction.on_commit(lambda: _queue_deliveries(ids), robust=True)


def _queue_deliveries(ids: list[int]) -> None:
    for delivery_id in ids:
        queue_task("integrations.tasks.deliver", delivery_id)


# --- One attempt -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prepared:
    url: str
    body: bytes
    headers: dict[str, str]


def webhook_body(event: DomainEvent) -> bytes:
    """The JSON a subscription receives for an event (the bytes that are signed)."""
    document = {
        "id": str(event.uuid),
        "type": event.kind,
        "occurred_at": event.occurred_at.isoformat(),
        "subject": {"type": event.subject_type, "id": event.subject_id},
        "data": event.payload,
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over `{timestamp}.{body}` with the subscription's secret, as hex (the signature header's
    value after `v1=`)."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def _prepare(delivery: WebhookDelivery) -> Prepared:
    event = delivery.event
    subscription = delivery.subscription
    if subscription is None:
        assert delivery.channel is not None  # delivery_one_target
        request = chat_request_for(delivery.channel, event)
        return Prepared(request.url, request.body, request.headers)
    body = webhook_body(event)
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "salesmarketing-webhooks/1",
        EVENT_KIND_HEADER: event.kind,
        EVENT_ID_HEADER: str(event.uuid),
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: f"v1={sign(subscription.secret, timestamp, body)}",
    }
    return Prepared(subscription.url, body, headers)


def _claim(delivery_id: int, now: dt.datetime) -> bool:
    return bool(
        WebhookDelivery.objects.filter(
            pk=delivery_id, state=WebhookDelivery.State.PENDING, next_attempt_at__lte=now
        )
        .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - _claim_stale()))
        .update(claimed_at=now)
    )


def _earlier_pending(delivery: WebhookDelivery) -> bool:
    """Whether an earlier event of the same record is still on its way to the same target (or not fanned out
    yet): this one waits for it, and is queued when it is delivered or given up."""
    same_target = (
        Q(subscription_id=delivery.subscription_id)
        if delivery.subscription_id
        else Q(channel_id=delivery.channel_id)
    )
    if WebhookDelivery.objects.filter(
        same_target,
        subject_key=delivery.subject_key,
        state=WebhookDelivery.State.PENDING,
        event_id__lt=delivery.event_id,
    ).exists():
        return True
    event = delivery.event
    return DomainEvent.objects.filter(
        subject_type=event.subject_type,
        subject_id=event.subject_id,
        pk__lt=event.pk,
        dispatched_at__isnull=True,
    ).exists()


def _backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(RETRY_FIRST_SECONDS * 2 ** max(attempts - 1, 0), RETRY_MAX_SECONDS))


def delivery_attempt(*, delivery_id: int, now: dt.datetime | None = None) -> str:
    """Try one delivery once, if it is due and nobody else is trying it: "delivered", "retry" (failed, tried
    again later), "failed" (given up after the retry window; the target is flagged), "waiting" (an earlier event
    of the record goes first) or "skipped" (not due, taken, or done)."""
    now = now or timezone.now()
    if not _claim(delivery_id, now):
        return "skipped"
    delivery = WebhookDelivery.objects.select_related("event", "subscription", "channel__team").get(
        pk=delivery_id
    )
    if _earlier_pending(delivery):
        WebhookDelivery.objects.filter(pk=delivery_id).update(claimed_at=None)
        return "waiting"
    if not delivery.target.is_active and delivery.event.kind != events.WEBHOOK_TEST:
        _finish(delivery, now=now, state=WebhookDelivery.State.FAILED, error=_("The target is switched off."))
        return "failed"
    status, elapsed, error = None, None, ""
    try:
        prepared = _prepare(delivery)
        # A refusal's reason is stored in the site's language, whichever request or worker made the attempt.
        with translation.override(settings.LANGUAGE_CODE):
            response = outbound.post(prepared.url, body=prepared.body, headers=prepared.headers)
        status, elapsed = response.status, response.elapsed_ms
        if not 200 <= status < 300:
            error = f"HTTP {status}"
    except outbound.UnsafeUrl as exc:
        error = str(exc)
    except (OSError, http.client.HTTPException) as exc:
        error = f"{type(exc).__name__}: {exc}"
    if not error:
        _finish(delivery, now=now, state=WebhookDelivery.State.DELIVERED, status=status, elapsed=elapsed)
        return "delivered"
    logger.info("integrations: delivery %s failed (%s)", delivery_id, error[:100])
    if now >= delivery.give_up_at:
        _finish(
            delivery, now=now, state=WebhookDelivery.State.FAILED, status=status, elapsed=elapsed, error=error
        )
        _flag(delivery, now=now)
        return "failed"
    WebhookDelivery.objects.filter(pk=delivery_id).update(
        attempts=F("attempts") + 1,
        next_attempt_at=now + _backoff(delivery.attempts + 1),
        claimed_at=None,
        last_attempt_at=now,
        last_status_code=status,
        last_response_ms=elapsed,
        last_error=error[:300],
    )
    return "retry"


def _finish(
    delivery: WebhookDelivery,
    *,
    now: dt.datetime,
    state: str,
    status: int | None = None,
    elapsed: int | None = None,
    error: str = "",
) -> None:
    with transaction.atomic():
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            state=state,
            attempts=F("attempts") + 1,
            claimed_at=None,
            last_attempt_at=now,
            last_status_code=status,
            last_response_ms=elapsed,
            last_error=error[:300],
            delivered_at=now if state == WebhookDelivery.State.DELIVERED else None,
        )
        # The record's next event for this target was waiting for this one.
        _queue_heads_on_commit({delivery.subject_key})


def _admins() -> list[User]:
    return list(User.objects.filter(Q(role=User.Role.ADMIN) | Q(is_superuser=True), is_active=True))


def _flag(delivery: WebhookDelivery, *, now: dt.datetime) -> None:
    """The target failed for the whole retry window: flag it, switch it off, and tell the admins once."""
    with transaction.atomic():
        subscription, channel = delivery.subscription, delivery.channel
        if subscription is not None:
            if not WebhookSubscription.objects.filter(pk=subscription.pk, flagged_at__isnull=True).update(
                flagged_at=now, is_active=False
            ):
                return
            message, params = messages.WEBHOOK_FAILING, {"name": str(subscription)}
            url = reverse("integrations:webhook_detail", args=[subscription.pk])
        elif channel is not None:
            if not TeamChannel.objects.filter(pk=channel.pk, flagged_at__isnull=True).update(
                flagged_at=now, is_active=False
            ):
                return
            message, params = messages.CHANNEL_FAILING, {"team": str(channel.team)}
            url = reverse("integrations:chat")
        else:
            return
        for admin in _admins():
            notification_send(recipient=admin, message=message, params=params, url=url, email=True)


# --- Admin actions -------------------------------------------------------------------------------------------


def delivery_redeliver(*, delivery: WebhookDelivery, now: dt.datetime | None = None) -> WebhookDelivery:
    """Send a delivery again (an admin's button): it is pending again with a fresh retry window, and queued.
    The receiver gets the same event id, so it can tell the event is one it may have seen."""
    now = now or timezone.now()
    with transaction.atomic():
        WebhookDelivery.objects.filter(pk=delivery.pk).exclude(
            state=WebhookDelivery.State.PENDING, claimed_at__gte=now - _claim_stale()
        ).update(
            state=WebhookDelivery.State.PENDING,
            next_attempt_at=now,
            give_up_at=now + _retry_window(),
            claimed_at=None,
        )
        _queue_heads_on_commit({delivery.subject_key})
    delivery.refresh_from_db()
    return delivery


def webhook_send_test(
    *, subscription: WebhookSubscription, now: dt.datetime | None = None
) -> WebhookDelivery:
    """A test event to this one subscription (even while it is switched off), delivered like any other."""
    now = now or timezone.now()
    with transaction.atomic():
        event = DomainEvent.objects.create(
            kind=events.WEBHOOK_TEST,
            subject_type="webhook",
            subject_id=subscription.pk,
            payload={"subscription_id": subscription.pk},
            occurred_at=now,
            dispatched_at=now,
        )
        delivery = WebhookDelivery.objects.create(
            event=event,
            subscription=subscription,
            subject_key=_subject_key(event),
            next_attempt_at=now,
            give_up_at=now + _retry_window(),
        )
        _queue_heads_on_commit({delivery.subject_key})
    return delivery


# --- The sweeper ---------------------------------------------------------------------------------------------


@dataclass
class SweepResult:
    dispatched: int = 0
    queued: int = 0
    purged: int = 0


def integrations_sweep(*, now: dt.datetime | None = None) -> SweepResult:
    """Beat's safety net, so a lost broker loses nothing: fan out events whose dispatch was never run, queue the
    deliveries that are due (retries, and those whose message was lost), and delete what is older than
    INTEGRATIONS_KEEP_DAYS and finished."""
    now = now or timezone.now()
    result = SweepResult()
    settle = now - dt.timedelta(seconds=30)  # a fresh event's own task is on its way
    while True:
        ids = list(
            DomainEvent.objects.filter(dispatched_at__isnull=True, occurred_at__lte=settle)
            .order_by("pk")
            .values_list("pk", flat=True)[:SWEEP_BATCH]
        )
        dispatched = events_fan_out(event_ids=ids, now=now) if ids else 0
        result.dispatched += dispatched
        if len(ids) < SWEEP_BATCH or not dispatched:
            break
    due = list(
        WebhookDelivery.objects.filter(state=WebhookDelivery.State.PENDING, next_attempt_at__lte=now)
        .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - _claim_stale()))
        .order_by("event_id", "id")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    _queue_deliveries(due)
    result.queued = len(due)
    cutoff = now - dt.timedelta(days=settings.INTEGRATIONS_KEEP_DAYS)
    old = list(
        DomainEvent.objects.filter(occurred_at__lt=cutoff, dispatched_at__isnull=False)
        .exclude(deliveries__state=WebhookDelivery.State.PENDING)
        .values_list("pk", flat=True)[:5000]
    )
    if old:
        result.purged, _ = DomainEvent.objects.filter(pk__in=old).delete()
    return result
