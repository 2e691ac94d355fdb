"""Writes for users, teams and notifications."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone, translation

from salesmarketing import notifications
from salesmarketing.celery import queue_task
from salesmarketing.models import (
    ApiKey,
    Notification,
    NotificationEmail,
    NotificationPreference,
    PeriodicRun,
    Team,
    User,
)

logger = logging.getLogger(__name__)
SEND_TASK = "salesmarketing.tasks.send_notification_email"
RETRY_BASE_SECONDS = 60  # a refused notification e-mail is tried again after 1, 2, 4 and 8 minutes
NOTIFICATION_EMAIL_STALE = timedelta(minutes=10)  # queued this long: its task went missing


def user_create(
    *,
    username: str,
    password: str,
    role: str,
    team: Team | None = None,
    display_name: str = "",
    email: str = "",
) -> User:
    """Create a user; admins get the Django admin too."""
    is_admin = role == User.Role.ADMIN
    return User.objects.create_user(
        username=username,
        password=password,
        email=email,
        role=role,
        team=team,
        display_name=display_name,
        is_staff=is_admin,
        is_superuser=is_admin,
    )


def user_language_set(*, user: User, language: str) -> None:
    """The language of the e-mails the app sends the user (the pages follow the browser's choice)."""
    if user.language != language:
        User.objects.filter(pk=user.pk).update(language=language)
        user.language = language


def notification_send(
    *,
    recipient: User,
    message: notifications.Message,
    params: dict[str, Any] | None = None,
    url: str = "",
    email: bool = False,
) -> Notification | None:
    """Notify a user in the app (the bell) and, when asked, by e-mail. The notification keeps the message's kind
    and parameters: each reader sees it in their language, and the e-mail is written in the recipient's
    (`User.language`). The e-mail is a NotificationEmail row in the caller's transaction, sent by a task on the
    `email` queue once it commits: the caller never waits on the mail server, and an outage of it loses nothing.

    The recipient's preference for this kind (NotificationPreference) decides both channels; without one, the
    message comes in the app, and by e-mail when `email` says so. Returns the stored notification, or None when
    the recipient turned the app's channel off."""
    preference = NotificationPreference.objects.filter(user=recipient, kind=message.kind).first()
    in_app = preference.in_app if preference is not None else True
    by_email = preference.email if preference is not None else email
    content = {"kind": message.kind, "params": params or {}, "url": url}
    notification = Notification.objects.create(recipient=recipient, **content) if in_app else None
    if by_email and recipient.email:
        queued = NotificationEmail.objects.create(recipient=recipient, **content)
        transaction.on_commit(_queue_notification_email(queued.pk), robust=True)
    return notification


def _queue_notification_email(email_id: int) -> Callable[[], None]:
    # named: Django logs a failed robust callback by its __qualname__
    def enqueue_notification_email() -> None:
        queue_task(SEND_TASK, email_id)

    return enqueue_notification_email


def notification_email_deliver(*, email_id: int) -> bool:
    """Send one queued notification e-mail, once: claimed queued → sending by a conditional UPDATE, then sent.
    True when this call sent it. When the mail server refuses or cannot be reached, it is queued again with a
    task after RETRY_BASE_SECONDS × 2^(attempts − 1), or failed after NotificationEmail.MAX_ATTEMPTS."""
    claimed = NotificationEmail.objects.filter(pk=email_id, state=NotificationEmail.State.QUEUED).update(
        state=NotificationEmail.State.SENDING, attempts=F("attempts") + 1
    )
    if not claimed:
        return False
    queued = NotificationEmail.objects.select_related("recipient").get(pk=email_id)
    recipient = queued.recipient
    with translation.override(recipient.language):
        title, body = queued.text
        link = f"{settings.SITE_URL}{queued.url}" if queued.url and settings.SITE_URL else ""
        text = "\n\n".join(part for part in (body or title, link) if part)
    try:
        send_mail(title, text, None, [recipient.email], fail_silently=False)
    except Exception as error:  # noqa: BLE001  (kept on the row; the address stays out of the log)
        again = queued.attempts < NotificationEmail.MAX_ATTEMPTS
        logger.warning(
            "notification e-mail %s not sent (attempt %s): %s",
            email_id,
            queued.attempts,
            type(error).__name__,
        )
        NotificationEmail.objects.filter(pk=email_id).update(
            state=NotificationEmail.State.QUEUED if again else NotificationEmail.State.FAILED,
            error=str(error)[:500],
        )
        if again:
            queue_task(SEND_TASK, email_id, countdown=RETRY_BASE_SECONDS * 2 ** (queued.attempts - 1))
        return False
    NotificationEmail.objects.filter(pk=email_id).update(
        state=NotificationEmail.State.SENT, sent_at=timezone.now(), error=""
    )
    return True


def notification_emails_stalled(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """The queued notification e-mails whose task went missing (the broker was down at the commit, or lost the
    message): queued longer than NOTIFICATION_EMAIL_STALE, oldest first; sending them again is safe (the claim)."""
    now = now or timezone.now()
    return list(
        NotificationEmail.objects.filter(
            state=NotificationEmail.State.QUEUED, created_at__lt=now - NOTIFICATION_EMAIL_STALE
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )


def notification_preferences(*, user: User) -> dict[str, tuple[bool, bool]]:
    """kind → (in the app, by e-mail) for every message offered in the settings, the user's choice or the
    default (in the app; by e-mail when the message is e-mailed by default)."""
    chosen = {p.kind: (p.in_app, p.email) for p in NotificationPreference.objects.filter(user=user)}
    return {m.kind: chosen.get(m.kind, (True, m.email)) for m in notifications.preferable()}


@transaction.atomic
def notification_preferences_set(*, user: User, choices: dict[str, tuple[bool, bool]]) -> None:
    """Store the user's (in the app, by e-mail) per kind; kinds not offered in the settings are ignored. A choice
    equal to the default is stored too: the default may change, the user's choice should not."""
    offered = {m.kind for m in notifications.preferable()}
    for kind, (in_app, by_email) in choices.items():
        if kind in offered:
            NotificationPreference.objects.update_or_create(
                user=user, kind=kind, defaults={"in_app": in_app, "email": by_email}
            )


def notifications_mark_read(*, recipient: User) -> int:
    return Notification.objects.filter(recipient=recipient, read_at__isnull=True).update(
        read_at=timezone.now()
    )


def api_key_create(
    *, name: str, source: str, scopes: list[str] | None = None, user: User | None = None
) -> tuple[ApiKey, str]:
    """Create a key; returns it with the plain secret, which is never stored and cannot be shown again.

    With a `user` the key acts as that user and reaches what they reach in the app; without one it is an
    integration's key and reaches every record."""
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    plain = f"sm_{prefix}_{secret}"
    key = ApiKey.objects.create(
        name=name,
        source=source,
        prefix=prefix,
        key_hash=_hash_key(plain),
        scopes=list(scopes if scopes is not None else ApiKey.DEFAULT_SCOPES),
        kind=ApiKey.Kind.USER if user is not None else ApiKey.Kind.INTEGRATION,
        user=user,
    )
    return key, plain


def api_key_authenticate(plain: str) -> ApiKey | None:
    """The active key for this secret, or None. Compares hashes in constant time.

    A user's key works only while its user is active: a deactivated user's keys stop with their login."""
    parts = plain.split("_", 2)
    if len(parts) != 3 or parts[0] != "sm":
        return None
    key = (
        ApiKey.objects.filter(prefix=parts[1], revoked_at__isnull=True)
        .filter(
            Q(kind=ApiKey.Kind.INTEGRATION, user__isnull=True)
            | Q(kind=ApiKey.Kind.USER, user__is_active=True)
        )
        .select_related("user")
        .first()
    )
    if key is None or not hmac.compare_digest(key.key_hash, _hash_key(plain)):
        return None
    now = timezone.now()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)  # at most one write a minute per key
    return key


def api_key_revoke(*, key: ApiKey) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key


def _hash_key(plain: str) -> str:
    # The secret has 256 bits of entropy, so a fast hash is enough (no dictionary to guess from).
    return hashlib.sha256(plain.encode()).hexdigest()


PERIODIC_RUNS_KEPT = timedelta(
    days=7
)  # claims older than this (per schedule entry) are deleted by the next claim


def periodic_run_claim(*, name: str, slot: datetime, claimed_by: str = "") -> bool:
    """Claim the run of schedule entry `name` for the slot starting at `slot`. False when it was claimed already
    (a second beat, or a beat restarted within the slot): the caller then does nothing."""
    try:
        with transaction.atomic():
            PeriodicRun.objects.create(name=name, slot=slot, claimed_by=claimed_by)
    except IntegrityError:
        return False
    PeriodicRun.objects.filter(name=name, slot__lt=slot - PERIODIC_RUNS_KEPT).delete()
    return True


def periodic_run_release(*, name: str, slot: datetime) -> None:
    """Give a claim back when the run could not be sent (the broker is down), so another beat or the next tick
    may send it."""
    PeriodicRun.objects.filter(name=name, slot=slot).delete()
