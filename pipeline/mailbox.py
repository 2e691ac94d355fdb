"""E-mail to and from leads on their timeline: the BCC / forwarding address (INBOUND_EMAIL_LOG_ADDRESS).

A rep puts the address in BCC when writing to a lead, or forwards a lead's e-mail to it (as an attachment or
inline); the mail receiver (`manage.py receive_mail`) or a provider's inbound webhook stores it
(salesmarketing.inbound) and this reader, registered at `INBOUND_EMAIL_RECEIVED`, logs it:

- **to leads** (From is one of our users): an "email" activity on each lead among To / Cc (at most MAX_LEADS) and
  on its open deal, by that user — a sales activity, so the first one after a handoff is the rep's first touch and
  stops the SLA clock;
- **from a lead** (From is a lead, and one of our users is among To / Cc, or forwarded it): an "email" activity on
  that lead and its open deal, with an `email_reply` touch (not a sales touch: the lead wrote, the rep did not).
  Nurture ends the lead's sequences on it ("replied"; its own reader at the same hook).

The same message is logged once per lead (its Message-ID; a unique constraint). Automatic mail (auto-replies,
bounces, bulk) is not logged. Attachments are kept within INBOUND_ATTACHMENT_MAX_BYTES each and
INBOUND_ATTACHMENTS_MAX_BYTES per message; bigger ones are named in the activity, not kept."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from email.message import EmailMessage, Message
from email.utils import parsedate_to_datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.html import strip_tags
from django.utils.translation import gettext as _

from leads.choices import TouchType
from leads.models import Lead
from pipeline.models import Activity, ActivityAttachment, Deal
from pipeline.services.activities import activity_log
from salesmarketing.inbound import addresses, forwarded_message, is_automatic, parse_header_id
from salesmarketing.models import User

MAX_LEADS = 10
MAX_BODY = 20_000
OUTCOME = "activity"


@dataclass
class Logged:
    mail: EmailMessage
    direction: str  # "in" (from the lead) or "out" (to leads)
    by: User
    leads: list[Lead]


def read(message: EmailMessage) -> Logged | None:
    """Who wrote to whom, or None when the message is not between our users and leads."""
    if is_automatic(message):
        return None
    mail = forwarded_message(message) or message
    forwarder = addresses(message, "From") if mail is not message else []
    sender = next(iter(addresses(mail, "From")), "")
    recipients = addresses(mail, "To", "Cc")
    everyone = {sender, *recipients, *forwarder}
    users = {u.email_key: u for u in User.objects.annotate(email_key=Lower("email")).filter(
        email_key__in=everyone, is_active=True
    )}  # fmt: skip
    leads = {lead.email: lead for lead in Lead.objects.filter(email__in=everyone)}
    if sender in leads:
        by = next((users[a] for a in [*recipients, *forwarder] if a in users), None)
        return Logged(mail=mail, direction="in", by=by, leads=[leads[sender]]) if by else None
    if sender in users:
        to_leads = [leads[a] for a in dict.fromkeys(recipients) if a in leads][:MAX_LEADS]
        return Logged(mail=mail, direction="out", by=users[sender], leads=to_leads) if to_leads else None
    return None


def inbound_email_received(*, message: EmailMessage, inbound) -> str:
    """The reader registered at INBOUND_EMAIL_RECEIVED: "activity" when the message was logged on a lead."""
    found = read(message)
    if found is None:
        return ""
    message_id = parse_header_id(found.mail.get("Message-ID", "")) or inbound.message_key
    logged = [lead for lead in found.leads if _log(found, lead=lead, message_id=message_id[:255])]
    return OUTCOME if logged else ""


def _log(found: Logged, *, lead: Lead, message_id: str) -> Activity | None:
    mail = found.mail
    deal = Deal.objects.open().filter(contact=lead).order_by("-created_at", "-id").first()
    try:
        with transaction.atomic():
            activity = activity_log(
                by=found.by,
                type=Activity.Type.EMAIL,
                subject=(str(mail.get("Subject", "")).strip() or _("(no subject)"))[:200],
                deal=deal,
                lead=lead,
                body=_body(mail),
                occurred_at=_sent_at(mail),
                touch_type=TouchType.SALES_ACTIVITY if found.direction == "out" else TouchType.EMAIL_REPLY,
                email_message_id=message_id,
                email_direction=found.direction,
            )
            _keep_attachments(activity, mail)
    except IntegrityError:  # logged before: the same message arrived again
        return None
    return activity


def _sent_at(mail: Message) -> dt.datetime:
    now = timezone.now()
    try:
        sent = parsedate_to_datetime(str(mail.get("Date", "")))
    except (TypeError, ValueError):
        return now
    if sent.tzinfo is None:
        sent = timezone.make_aware(sent, dt.UTC)
    return min(sent, now)


def _body(mail: EmailMessage) -> str:
    part = mail.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        text = part.get_content()
    except (LookupError, KeyError, UnicodeError):
        return ""
    if part.get_content_subtype() == "html":
        text = strip_tags(text)
    return str(text).strip()[:MAX_BODY]


def _keep_attachments(activity: Activity, mail: EmailMessage) -> None:
    kept, skipped, total = [], [], 0
    for part in mail.iter_attachments():
        name = (part.get_filename() or _("attachment"))[:255]
        data = part.get_payload(decode=True) or b""
        if (
            len(data) > settings.INBOUND_ATTACHMENT_MAX_BYTES
            or total + len(data) > settings.INBOUND_ATTACHMENTS_MAX_BYTES
        ):
            skipped.append(name)
            continue
        total += len(data)
        row = ActivityAttachment.objects.create(
            activity=activity,
            filename=name,
            content_type=part.get_content_type()[:100],
            size=len(data),
            data=data,
        )
        kept.append({"id": row.pk, "name": name, "size": len(data)})
    if not (kept or skipped):
        return
    fields = {"attachment_list": kept, "updated_at": timezone.now()}
    if skipped:
        note = _("Attachments too large to keep: %(names)s") % {"names": ", ".join(skipped)}
        fields["body"] = f"{activity.body}\n\n{note}".strip()
    Activity.objects.filter(pk=activity.pk).update(**fields)
