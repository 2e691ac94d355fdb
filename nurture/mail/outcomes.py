"""What became of sent messages: the counts a broadcast's page and each sequence step show.

For a group of send ledger rows (a broadcast's, or a step's): sent; bounced (a hard or soft bounce reported for
the message, nurture.mail.bounces); delivered (sent and not bounced — over SMTP nothing confirms delivery, so a
message counts as delivered until a bounce says otherwise); opened and clicked (an open or click touch carrying
the message's tracking id, of the lead the message was sent to); unsubscribed (the lead opted out after this
message and before any later one of the same kind); and MQL within 30 days (the lead became an MQL in the 30 days
after this message, read from the lifecycle history). One aggregate query per group, whatever the number of
recipients.

Bounced, opened and clicked are read from the row itself (nurture.models.SentMessage: `bounced_at`, `opened_at`,
`clicked_at`, the first of each), set here in the transaction that records the bounce (`message_bounced`) or the
touch (`email_touches_recorded`, leads' EMAIL_TOUCHES_RECORDED hook), so counting them costs nothing per message.
A merge moves a row with what became of it (the touches that set it move to the survivor too)."""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import CharField, Count, Exists, Expression, F, OuterRef, Q, QuerySet, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce, Concat

from leads.choices import LifecycleStage, TouchType
from leads.models import LifecycleChange, Touch
from nurture.models import BroadcastSend, DeliveryEvent, DeliveryEventKind, SendStatus, StepSend

MQL_WINDOW = dt.timedelta(days=30)
BOUNCES = (DeliveryEventKind.HARD_BOUNCE, DeliveryEventKind.SOFT_BOUNCE)
FIELDS = ("sent", "bounced", "opened", "clicked", "unsubscribed", "mql")


@dataclass
class Outcomes:
    sent: int = 0
    bounced: int = 0
    opened: int = 0
    clicked: int = 0
    unsubscribed: int = 0
    mql: int = 0

    @property
    def delivered(self) -> int:
        return self.sent - self.bounced

    @classmethod
    def of(cls, row: dict) -> Outcomes:
        return cls(**{name: row.get(name) or 0 for name in FIELDS})


def broadcast_message() -> Concat:
    """A broadcast ledger row's tracking message id (nurture.mail.sending): "b<broadcast>-<lead>"."""
    return Concat(
        Value("b"),
        Cast(OuterRef("broadcast_id"), CharField()),
        Value("-"),
        Cast(OuterRef("lead_id"), CharField()),
        output_field=CharField(),
    )


def step_message() -> Concat:
    """A step ledger row's tracking message id (nurture.sequences.sending.tracking_id): "q<step>-<lead>"."""
    return Concat(
        Value("q"),
        Cast(OuterRef("step_id"), CharField()),
        Value("-"),
        Cast(OuterRef("enrolment__lead_id"), CharField()),
        output_field=CharField(),
    )


def message_touched(kind: str, *, lead_id: Expression | int, message: Expression) -> Exists:
    """Whether the lead has a touch of `kind` (an open, a click) carrying the message's tracking id."""
    return Exists(
        Touch.objects.annotate(message=Cast(KeyTextTransform("message", "properties"), CharField())).filter(
            lead_id=lead_id, type=kind, message=message
        )
    )


def outcome_annotations(*, lead: str, later: QuerySet, since: dt.datetime | None = None) -> dict:
    """Aggregates over send ledger rows: `lead` is the rows' path to their lead ("lead", "enrolment__lead"),
    `later` the same lead's later sent rows of the same kind (filtered on OuterRef("sent_at")). `since`: no row
    was sent before it (a period's rows), so only the leads with an MQL change since then are looked up, the
    others answered from one hashed set (read from the lifecycle history's index by stage and time)."""
    sent = Q(status=SendStatus.SENT)
    mql_leads = Q()
    if since is not None:
        recent = LifecycleChange.objects.filter(to_stage=LifecycleStage.MQL, at__gte=since).values("lead_id")
        mql_leads = Q(**{f"{lead}_id__in": recent})
    became_mql = Exists(
        LifecycleChange.objects.filter(
            lead_id=OuterRef(f"{lead}_id"),
            to_stage=LifecycleStage.MQL,
            at__gte=OuterRef("sent_at"),
            at__lt=OuterRef("sent_at") + MQL_WINDOW,
        )
    )
    return {
        "sent": Count("pk", filter=sent),
        "bounced": Count("pk", filter=sent & Q(bounced_at__isnull=False)),
        "opened": Count("pk", filter=sent & Q(opened_at__isnull=False)),
        "clicked": Count("pk", filter=sent & Q(clicked_at__isnull=False)),
        # IS NOT NULL first: a NULL comparison does not end the AND, so every row would ask for its later ones.
        "unsubscribed": Count(
            "pk",
            filter=sent
            & Q(**{f"{lead}__unsubscribed_at__isnull": False})
            & Q(**{f"{lead}__unsubscribed_at__gte": F("sent_at")})
            & ~Q(Exists(later)),
        ),
        "mql": Count("pk", filter=sent & mql_leads & Q(became_mql)),
    }


def broadcast_annotations(since: dt.datetime | None = None) -> dict:
    """outcome_annotations over broadcast ledger rows ("unsubscribed": before the lead's next broadcast)."""
    later = BroadcastSend.objects.filter(
        lead_id=OuterRef("lead_id"), status=SendStatus.SENT, sent_at__gt=OuterRef("sent_at")
    )
    return outcome_annotations(lead="lead", later=later, since=since)


def step_annotations(since: dt.datetime | None = None) -> dict:
    """outcome_annotations over sequence step ledger rows ("unsubscribed": before the enrolment's next step)."""
    later = StepSend.objects.filter(
        enrolment_id=OuterRef("enrolment_id"), status=SendStatus.SENT, sent_at__gt=OuterRef("sent_at")
    )
    return outcome_annotations(lead="enrolment__lead", later=later, since=since)


# --- Recording: the first open, click and bounce of a message, on its ledger row ---------------------------------

MESSAGE_ID = re.compile(r"([bq])([0-9]{1,18})-([0-9]{1,18})")
TOUCH_FIELDS = {TouchType.EMAIL_OPEN: "opened_at", TouchType.EMAIL_CLICK: "clicked_at"}


def message_bounced(event: DeliveryEvent) -> None:
    """A hard or soft bounce reported for a sent message (nurture.mail.bounces, in the event's transaction)."""
    if event.kind not in BOUNCES:
        return
    first = Coalesce(F("bounced_at"), Value(event.occurred_at))
    if event.broadcast_send_id:
        BroadcastSend.objects.filter(pk=event.broadcast_send_id).update(bounced_at=first)
    elif event.step_send_id:
        StepSend.objects.filter(pk=event.step_send_id).update(bounced_at=first)


def email_touches_recorded(*, touches: list[tuple[int, str, str, dt.datetime]]) -> None:
    """EMAIL_TOUCHES_RECORDED (leads.ingest, in the touches' transaction): each new (lead id, type, message id,
    occurred at) open or click marks the ledger row of the message, when the message id ("b<broadcast>-<lead>",
    "q<step>-<lead>") names the touch's own lead, as the definition above reads it: one UPDATE per message
    touched (a tracking pixel or link records one touch at a time)."""
    wanted: dict[tuple[str, str], dict[tuple[int, int], dt.datetime]] = defaultdict(dict)
    for lead_id, kind, message, at in touches:
        match = MESSAGE_ID.fullmatch(message or "")
        if kind not in TOUCH_FIELDS or not match or int(match[3]) != lead_id:
            continue
        firsts = wanted[(match[1], TOUCH_FIELDS[kind])]
        key = (int(match[2]), lead_id)
        firsts[key] = min(at, firsts.get(key, at))
    for (ledger, field), firsts in wanted.items():
        for (sent_id, lead_id), at in firsts.items():
            rows = (
                BroadcastSend.objects.filter(broadcast_id=sent_id, lead_id=lead_id)
                if ledger == "b"
                else StepSend.objects.filter(step_id=sent_id, enrolment__lead_id=lead_id)
            )
            rows.update(**{field: Coalesce(F(field), Value(at))})
