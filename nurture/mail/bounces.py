"""Bounces and complaints: what happened to a message after we sent it, and what that means for the lead.

Reports arrive two ways and end in one service, `delivery_event_record`:
- an email provider's tracking webhook (django-anymail's `tracking` signal; the provider echoes the message's
  `sm_ref` metadata), when marketing email goes out through a provider (EMAIL_ESP);
- a bounce message (DSN, RFC 3464) or a spam complaint (ARF, RFC 5965) received at the return path
  (EMAIL_RETURN_PATH, read by `manage.py receive_mail`) — the `INBOUND_EMAIL_RECEIVED` hook.

Each report names the message by our Message-ID (`<broadcast-B.lead-L@…>` or `<sequence-step-S.enrolment-E@…>`,
one per send ledger row), else by the recipient's address. It is recorded once (a report received twice is one
row). A hard bounce, or soft bounces on EMAIL_SOFT_BOUNCE_LIMIT different messages within 30 days, make the
address undeliverable and withdraw the consent; a complaint does that and unsubscribes the lead (on its
timeline). Nothing sends to it again: `Lead.objects.emailable()` excludes it, pending broadcast rows are skipped
as "address bounces", and its sequences end with the reason "bounced". A deferral (the server still tries) is
not a bounce and is not recorded.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from email.message import EmailMessage, Message
from email.parser import HeaderParser

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from leads.models import Lead
from leads.privacy import lead_email_undeliverable, lead_unsubscribe
from nurture.mail.outcomes import message_bounced
from nurture.models import BroadcastSend, DeliveryEvent, DeliveryEventKind, StepSend
from salesmarketing.inbound import parse_header_id

SOFT_BOUNCE_WINDOW = dt.timedelta(days=30)
COMPLAINT_SOURCE = "complaint"
_BROADCAST_REF = re.compile(r"^broadcast-(\d+)\.lead-(\d+)$")
_STEP_REF = re.compile(r"^sequence-step-(\d+)\.enrolment-(\d+)$")
_STATUS = re.compile(r"([245])\.\d{1,3}\.\d{1,3}")


def message_ref(message_id: str) -> str:
    """The part of our Message-ID that names the ledger row ('broadcast-3.lead-9'); providers echo it back."""
    return parse_header_id(message_id).partition("@")[0]


@dataclass(frozen=True)
class Sent:
    lead_id: int
    broadcast_send_id: int | None = None
    step_send_id: int | None = None


def sent_message(*, ref: str = "", recipient: str = "") -> Sent | None:
    """The ledger row a report is about (by our message ref), else the lead with that address."""
    if found := _BROADCAST_REF.match(ref):
        row = (
            BroadcastSend.objects.filter(broadcast_id=found[1], lead_id=found[2])
            .values("pk", "lead_id")
            .first()
        )
        if row:
            return Sent(lead_id=row["lead_id"], broadcast_send_id=row["pk"])
    if found := _STEP_REF.match(ref):
        row = (
            StepSend.objects.filter(step_id=found[1], enrolment_id=found[2])
            .values("pk", "enrolment__lead_id")
            .first()
        )
        if row:
            return Sent(lead_id=row["enrolment__lead_id"], step_send_id=row["pk"])
    if recipient:
        lead_id = Lead.objects.filter(email__iexact=recipient.strip()).values_list("pk", flat=True).first()
        if lead_id:
            return Sent(lead_id=lead_id)
    return None


def delivery_event_record(
    *,
    key: str,
    kind: str,
    source: str,
    occurred_at: dt.datetime | None = None,
    ref: str = "",
    recipient: str = "",
    detail: str = "",
) -> DeliveryEvent | None:
    """Record one report and act on it, once: None when it names no message or lead of ours, or was recorded
    before (a replayed webhook, a bounce received twice)."""
    sent = sent_message(ref=ref, recipient=recipient)
    if sent is None:
        return None
    occurred_at = occurred_at or timezone.now()
    try:
        with transaction.atomic():
            event = DeliveryEvent.objects.create(
                key=key[:200],
                kind=kind,
                source=source[:40],
                lead_id=sent.lead_id,
                broadcast_send_id=sent.broadcast_send_id,
                step_send_id=sent.step_send_id,
                occurred_at=occurred_at,
                detail=_redact(detail),
            )
            message_bounced(event)
            _consequences(event)
    except IntegrityError:
        return None
    return event


def _redact(detail: str) -> str:
    # Diagnostic texts quote the address ("550 5.1.1 <taro@example.jp>: no such user"): keep it out.
    return re.sub(r"\S+@\S+", "<address>", detail or "")[:300]


def _consequences(event: DeliveryEvent) -> None:
    if event.kind == DeliveryEventKind.COMPLAINT:
        lead_unsubscribe(lead_id=event.lead_id, at=event.occurred_at, source=COMPLAINT_SOURCE)
        lead_email_undeliverable(lead_id=event.lead_id, at=event.occurred_at)
    elif event.kind == DeliveryEventKind.HARD_BOUNCE or (
        event.kind == DeliveryEventKind.SOFT_BOUNCE
        and _soft_bounces(event) >= settings.EMAIL_SOFT_BOUNCE_LIMIT
    ):
        lead_email_undeliverable(lead_id=event.lead_id, at=event.occurred_at)


def _soft_bounces(event: DeliveryEvent) -> int:
    return DeliveryEvent.objects.filter(
        lead_id=event.lead_id,
        kind=DeliveryEventKind.SOFT_BOUNCE,
        occurred_at__gt=event.occurred_at - SOFT_BOUNCE_WINDOW,
    ).count()


# --- Bounce messages (DSN) and complaints (ARF) received at the return path --------------------------------------


@dataclass(frozen=True)
class Report:
    kind: str
    recipient: str
    ref: str
    detail: str


def read_reports(message: Message) -> list[Report]:
    """The bounces (per failed recipient) or the complaint a report message carries; [] for any other mail."""
    if message.get_content_type() != "multipart/report":
        return []
    report_type = str(message.get_param("report-type") or "").lower()
    ref = message_ref(_original_message_id(message))
    if report_type == "delivery-status":
        return _dsn_reports(message, ref)
    if report_type == "feedback-report":
        fields = _fields(_part(message, "message/feedback-report"))
        recipient = _address(fields[0].get("Original-Rcpt-To", "")) if fields else ""
        return [
            Report(kind=DeliveryEventKind.COMPLAINT, recipient=recipient, ref=ref, detail="feedback-report")
        ]
    return []


def _dsn_reports(message: Message, ref: str) -> list[Report]:
    reports = []
    for fields in _fields(_part(message, "message/delivery-status"))[1:]:  # [0] is the per-message block
        if str(fields.get("Action", "")).strip().lower() != "failed":
            continue  # delayed / delivered / relayed: not a bounce
        status = _STATUS.search(str(fields.get("Status", "")))
        kind = DeliveryEventKind.SOFT_BOUNCE if status and status[1] == "4" else DeliveryEventKind.HARD_BOUNCE
        recipient = _address(fields.get("Final-Recipient", "") or fields.get("Original-Recipient", ""))
        detail = " ".join(str(v) for v in (fields.get("Status", ""), fields.get("Diagnostic-Code", "")) if v)
        reports.append(Report(kind=kind, recipient=recipient, ref=ref, detail=detail))
    return reports


def _part(message: Message, content_type: str) -> Message | None:
    return next((p for p in message.walk() if p.get_content_type() == content_type), None)


def _fields(part: Message | None) -> list[Message]:
    """The header blocks of a delivery-status or feedback-report part, however the parser left its payload."""
    if part is None:
        return []
    payload = part.get_payload()
    if isinstance(payload, list):
        return payload
    text = payload if isinstance(payload, str) else ""
    return [
        HeaderParser().parsestr(block) for block in re.split(r"\r?\n\r?\n", text.strip()) if block.strip()
    ]


def _original_message_id(message: Message) -> str:
    original = _part(message, "message/rfc822")
    if original is not None and isinstance(original.get_payload(), list):
        return str(original.get_payload()[0].get("Message-ID", ""))
    headers = _part(message, "text/rfc822-headers")
    if headers is not None:
        return str(
            HeaderParser().parsestr(headers.get_payload(decode=True).decode("utf-8", "replace"))["Message-ID"]
            or ""
        )
    return ""


def _address(value: object) -> str:
    """'rfc822; taro@example.jp' → 'taro@example.jp'."""
    return str(value or "").rpartition(";")[2].strip().strip("<>")


def inbound_email_received(*, message: EmailMessage, inbound) -> str:
    """The reader registered at INBOUND_EMAIL_RECEIVED: a bounce or complaint is recorded; "" for other mail."""
    reports = read_reports(message)
    for index, report in enumerate(reports):
        recorded_key = f"inbound:{inbound.message_key}:{index}"
        delivery_event_record(
            key=hashlib.sha256(recorded_key.encode()).hexdigest(),
            kind=report.kind,
            source="dsn" if report.kind != DeliveryEventKind.COMPLAINT else "arf",
            ref=report.ref,
            recipient=report.recipient,
            detail=report.detail,
        )
    return "bounce" if reports else ""


# --- Email providers' tracking webhooks (django-anymail) ----------------------------------------------------------

_ESP_KINDS = {
    "bounced": DeliveryEventKind.HARD_BOUNCE,
    "rejected": DeliveryEventKind.HARD_BOUNCE,
    "complained": DeliveryEventKind.COMPLAINT,
    "delivered": DeliveryEventKind.DELIVERED,
}


def esp_tracking(sender, event, esp_name: str, **kwargs) -> None:
    """django-anymail's `tracking` signal: a provider's report of a bounce, complaint or delivery."""
    kind = _ESP_KINDS.get(event.event_type)
    if kind is None:
        return  # opened / clicked are counted by our own pixel and links; deferred is not a bounce
    metadata = event.metadata or {}
    identity = event.event_id or "|".join(
        str(part) for part in (event.message_id, event.recipient, event.event_type, event.timestamp)
    )
    delivery_event_record(
        key=f"esp:{esp_name}:" + hashlib.sha256(str(identity).encode()).hexdigest(),
        kind=kind,
        source=f"esp:{esp_name}".lower(),
        occurred_at=event.timestamp,
        ref=str(metadata.get("sm_ref", "")),
        recipient=event.recipient or "",
        detail=describe_esp(event),
    )


def describe_esp(event) -> str:
    return " ".join(
        str(part) for part in (event.reject_reason, event.mta_response, event.description) if part
    )
