"""E-mail that reaches us: bounces (DSN), spam complaints (ARF) and, later, mail to and from leads.

`inbound_email_store` keeps each message once (unique by Message-ID; a message without one by a digest of its
bytes) and, after commit, queues `inbound_email_process`. That task parses it and gives it to every reader the
apps registered at `hooks.INBOUND_EMAIL_RECEIVED` (nurture: bounces, complaints, replies that end sequences;
pipeline: e-mail to and from leads as activities); each says what it made of it, and a message none recognised
is recorded as "ignored". Either way the raw bytes and addresses are then emptied
(personal data is kept only as long as it is needed). If the broker is down when a message arrives, or a worker
dies while reading it, `inbound_email_sweep` (beat, every few minutes) queues the unread rows again; a reader
must therefore be idempotent (each of ours keys its own rows by the message).

Messages arrive through `manage.py receive_mail` (an SMTP listener, its own process in docker-compose) and
through an email provider's inbound webhook (salesmarketing.esp)."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import hashlib
import logging
from email.message import EmailMessage, Message
from email.utils import getaddresses

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from salesmarketing import hooks
from salesmarketing.celery import queue_task
from salesmarketing.models import InboundEmail

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
IGNORED = "ignored"


def parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def message_key(raw: bytes) -> str:
    """The Message-ID (without its brackets), or a digest of the bytes for a message without one."""
    found = parse_header_id(parse(raw).get("Message-ID", ""))
    return found[:255] if found else "sha256:" + hashlib.sha256(raw).hexdigest()


def parse_header_id(value: object) -> str:
    return str(value or "").strip().strip("<>").strip()


def addresses(message: Message, *headers: str) -> list[str]:
    """The e-mail addresses in these headers, lower-cased."""
    values = [str(v) for h in headers for v in message.get_all(h, [])]
    return [addr.strip().lower() for _name, addr in getaddresses(values) if "@" in addr]


def forwarded_message(message: EmailMessage) -> EmailMessage | None:
    """The e-mail a user forwarded as an attachment (message/rfc822), if any."""
    for part in message.walk():
        if part.get_content_type() == "message/rfc822":
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], EmailMessage):
                return payload[0]
    return None


def is_automatic(message: Message) -> bool:
    """Auto-replies, bounces and bulk mail (RFC 3834 Auto-Submitted, Precedence, the usual vendor headers): no
    person wrote them."""
    if message.get_content_type() == "multipart/report":
        return True
    if str(message.get("Auto-Submitted", "no")).strip().lower() != "no":
        return True
    if str(message.get("Precedence", "")).strip().lower() in ("bulk", "junk", "list", "auto_reply"):
        return True
    return any(message.get(h) for h in ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress"))


def inbound_email_store(
    *, raw: bytes, source: str, mail_from: str = "", recipients: list[str] | tuple[str, ...] = ()
) -> tuple[InboundEmail, bool]:
    """Keep one received message (False when the same message arrived before) and queue its reading."""
    key = message_key(raw)
    try:
        with transaction.atomic():
            inbound = InboundEmail.objects.create(
                message_key=key,
                source=source[:40],
                mail_from=mail_from[:254],
                recipients=list(recipients)[:50],
                raw=raw,
                size=len(raw),
            )
    except IntegrityError:
        return InboundEmail.objects.get(message_key=key), False

    def enqueue(
        pk: int = inbound.pk,
    ) -> None:  # named: Django logs a failed robust callback by its __qualname__
        queue_task("salesmarketing.tasks.inbound_email_process", pk)

    transaction.on_commit(enqueue, robust=True)
    return inbound, True


def inbound_email_process(*, inbound_id: int) -> str | None:
    """Read one stored message once: offer it to the registered readers, record the outcome, empty the raw
    message. None when it was read already (or is gone)."""
    with transaction.atomic():
        inbound = (
            InboundEmail.objects.select_for_update(skip_locked=True)
            .filter(pk=inbound_id, processed_at__isnull=True)
            .first()
        )
        if inbound is None:
            return None
        InboundEmail.objects.filter(pk=inbound.pk).update(attempts=inbound.attempts + 1)
        message = parse(bytes(inbound.raw))
        results = hooks.call(hooks.INBOUND_EMAIL_RECEIVED, message=message, inbound=inbound)
        outcome = ",".join(dict.fromkeys(r for r in results if r)) or IGNORED
        InboundEmail.objects.filter(pk=inbound.pk).update(
            processed_at=timezone.now(), outcome=outcome[:40], raw=b"", mail_from="", recipients=[]
        )
    return outcome


def inbound_email_sweep(*, now: dt.datetime | None = None) -> list[int]:
    """The unread messages to queue again (stored while the broker was down, or whose reader crashed), oldest
    first; a message that failed MAX_ATTEMPTS times stays for an operator (admin) instead of looping."""
    now = now or timezone.now()
    quiet = now - dt.timedelta(seconds=settings.INBOUND_EMAIL_RETRY_SECONDS)
    return list(
        InboundEmail.objects.filter(
            processed_at__isnull=True, received_at__lt=quiet, attempts__lt=MAX_ATTEMPTS
        )
        .order_by("received_at")
        .values_list("pk", flat=True)[:1000]
    )
