"""Reads for the email pages: the sender profile, templates, broadcasts and a broadcast's progress."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Count, QuerySet
from django.urls import reverse
from django.utils import timezone

from leads.models import Lead
from nurture.mail.outcomes import FIELDS, Outcomes, broadcast_annotations, step_annotations
from nurture.models import (
    Broadcast,
    BroadcastSend,
    EmailTemplate,
    SenderProfile,
    SendStatus,
    Sequence,
    SkipReason,
    StepSend,
)
from salesmarketing.models import User
from salesmarketing.sql import aggregates_row, one_statement


def can_manage_mail(user: User) -> bool:
    """Marketing, managers and admins write templates and send broadcasts (as they edit campaigns); sales reps
    do not see these pages at all."""
    return bool(
        getattr(user, "is_authenticated", False)
        and (user.is_superuser or user.role in (User.Role.MARKETING, User.Role.MANAGER, User.Role.ADMIN))
    )


def can_edit_sender_profile(user: User) -> bool:
    """The legal footer is set by admins and the marketing team's managers (as personal-data requests are)."""
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_superuser or user.role == User.Role.ADMIN:
        return True
    return user.role == User.Role.MANAGER and user.team is not None and user.team.kind == "marketing"


def sender_profile() -> SenderProfile:
    """The one profile row, or an empty unsaved one (every field missing) before anyone has set it."""
    return SenderProfile.objects.filter(pk=1).first() or SenderProfile(pk=1)


def template_list() -> QuerySet[EmailTemplate]:
    return EmailTemplate.objects.only("id", "name", "subject_ja", "subject_en", "updated_at").order_by(
        "name", "id"
    )


def broadcast_list() -> QuerySet[Broadcast]:
    return Broadcast.objects.select_related("template", "segment", "campaign").order_by("-created_at", "-id")


def preview_lead(*, viewer: User, lead_id: int | None) -> Lead | None:
    """A lead the viewer may see, to preview a template with (the chosen one, else the newest)."""
    leads = Lead.objects.visible_to(viewer).select_related("company", "owner")
    if lead_id:
        return leads.filter(pk=lead_id).first()
    return leads.order_by("-created_at", "-id").first()


@dataclass
class Progress:
    total: int = 0
    pending: int = 0
    sending: int = 0
    sent: int = 0
    failed: int = 0
    unknown: int = 0
    skipped: int = 0
    skipped_by_reason: dict[str, int] = field(default_factory=dict)

    @property
    def done_count(self) -> int:
        return self.sent + self.failed + self.unknown + self.skipped

    @property
    def percent(self) -> int:
        return round(100 * self.done_count / self.total) if self.total else 0


def broadcast_progress(broadcast: Broadcast) -> Progress:
    """Counts of the broadcast's ledger by status and skip reason, in one aggregate query."""
    progress = Progress()
    labels = dict(SkipReason.choices)
    rows = (
        BroadcastSend.objects.filter(broadcast=broadcast)
        .values_list("status", "skip_reason")
        .annotate(n=Count("id"))
        .order_by()
    )
    for status, reason, n in rows:
        progress.total += n
        if status in SendStatus.values:
            setattr(progress, status, getattr(progress, status) + n)
        if status == SendStatus.SKIPPED:
            label = str(labels.get(reason, reason))
            progress.skipped_by_reason[label] = progress.skipped_by_reason.get(label, 0) + n
    return progress


def broadcast_outcomes(broadcast: Broadcast) -> Outcomes:
    """What became of the broadcast's messages (nurture.mail.outcomes; "unsubscribed" is before the lead's next
    broadcast), in one aggregate query."""
    row = BroadcastSend.objects.filter(broadcast=broadcast).aggregate(**broadcast_annotations())
    return Outcomes.of(row)


@dataclass
class CampaignEmail:
    """A broadcast or a sequence of a campaign, with what became of its messages."""

    item: Broadcast | Sequence
    outcomes: Outcomes

    @property
    def is_broadcast(self) -> bool:
        return isinstance(self.item, Broadcast)

    @property
    def url(self) -> str:
        if isinstance(self.item, Broadcast):
            return reverse("nurture:mail_broadcast_detail", args=[self.item.pk])
        return self.item.get_absolute_url()


def campaign_email(campaign_id: int) -> list[CampaignEmail]:
    """The campaign's broadcasts (newest first), then its sequences, each with its outcomes summed over all its
    messages (nurture.mail.outcomes): four queries whatever the number of messages."""
    broadcasts = list(Broadcast.objects.filter(campaign_id=campaign_id))
    sequences = list(Sequence.objects.filter(campaign_id=campaign_id))
    by_broadcast: dict[int, dict] = {}
    if broadcasts:
        by_broadcast = {
            row["broadcast_id"]: dict(row)
            for row in BroadcastSend.objects.filter(broadcast__campaign_id=campaign_id)
            .values("broadcast_id")
            .annotate(**broadcast_annotations())
            .order_by()
        }
    by_sequence: dict[int, dict] = {}
    if sequences:
        by_sequence = {
            row["step__sequence_id"]: dict(row)
            for row in StepSend.objects.filter(step__sequence__campaign_id=campaign_id)
            .values("step__sequence_id")
            .annotate(**step_annotations())
            .order_by()
        }
    return [CampaignEmail(b, Outcomes.of(by_broadcast.get(b.pk, {}))) for b in broadcasts] + [
        CampaignEmail(s, Outcomes.of(by_sequence.get(s.pk, {}))) for s in sequences
    ]


def email_totals(*, start: dt.date, end: dt.date) -> Outcomes:
    """What became of every marketing message (broadcasts and sequence steps) sent from `start` to `end`
    inclusive, local days (the marketers' dashboard): one statement whatever the number of messages, each ledger
    read by its index of sent messages (every outcome counts sent messages only)."""
    tz = timezone.get_current_timezone()
    since = dt.datetime.combine(start, dt.time.min, tzinfo=tz)
    until = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    sent_in = {"status": SendStatus.SENT, "sent_at__gte": since, "sent_at__lt": until}
    broadcasts = BroadcastSend.objects.filter(**sent_in)
    row = one_statement(
        [
            aggregates_row(broadcasts, {f"b_{name}": a for name, a in broadcast_annotations(since).items()}),
            aggregates_row(
                StepSend.objects.filter(**sent_in),
                {f"q_{name}": a for name, a in step_annotations(since).items()},
            ),
        ]
    )
    return Outcomes(**{name: (row[f"b_{name}"] or 0) + (row[f"q_{name}"] or 0) for name in FIELDS})
