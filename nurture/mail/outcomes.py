"""What became of sent messages: the counts a broadcast's page and each sequence step show.

For a group of send ledger rows (a broadcast's, or a step's): sent; bounced (a hard or soft bounce reported for
the message, nurture.mail.bounces); delivered (sent and not bounced — over SMTP nothing confirms delivery, so a
message counts as delivered until a bounce says otherwise); opened and clicked (an open or click touch carrying
the message's tracking id); unsubscribed (the lead opted out after this message and before any later one of the
same kind); and MQL within 30 days (the lead became an MQL in the 30 days after this message, read from the
lifecycle history). One aggregate query per group, whatever the number of recipients."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import CharField, Count, Exists, Expression, F, OuterRef, Q, QuerySet, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Concat

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


def outcome_annotations(*, lead: str, message: Expression, send_fk: str, later: QuerySet) -> dict:
    """Aggregates over send ledger rows: `lead` is the rows' path to their lead ("lead", "enrolment__lead"),
    `message` their tracking message id (an expression over OuterRef), `send_fk` DeliveryEvent's field naming such
    a row, `later` the same lead's later sent rows of the same kind (filtered on OuterRef("sent_at"))."""
    sent = Q(status=SendStatus.SENT)

    def touched(kind: str) -> Exists:
        return message_touched(kind, lead_id=OuterRef(f"{lead}_id"), message=message)

    bounced = Exists(DeliveryEvent.objects.filter(**{send_fk: OuterRef("pk")}, kind__in=BOUNCES))
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
        "bounced": Count("pk", filter=sent & Q(bounced)),
        "opened": Count("pk", filter=sent & Q(touched(TouchType.EMAIL_OPEN))),
        "clicked": Count("pk", filter=sent & Q(touched(TouchType.EMAIL_CLICK))),
        "unsubscribed": Count(
            "pk", filter=sent & Q(**{f"{lead}__unsubscribed_at__gte": F("sent_at")}) & ~Q(Exists(later))
        ),
        "mql": Count("pk", filter=sent & Q(became_mql)),
    }


def broadcast_annotations() -> dict:
    """outcome_annotations over broadcast ledger rows ("unsubscribed": before the lead's next broadcast)."""
    later = BroadcastSend.objects.filter(
        lead_id=OuterRef("lead_id"), status=SendStatus.SENT, sent_at__gt=OuterRef("sent_at")
    )
    return outcome_annotations(
        lead="lead", message=broadcast_message(), send_fk="broadcast_send", later=later
    )


def step_annotations() -> dict:
    """outcome_annotations over sequence step ledger rows ("unsubscribed": before the enrolment's next step)."""
    later = StepSend.objects.filter(
        enrolment_id=OuterRef("enrolment_id"), status=SendStatus.SENT, sent_at__gt=OuterRef("sent_at")
    )
    return outcome_annotations(
        lead="enrolment__lead", message=step_message(), send_fk="step_send", later=later
    )
