"""Sequences (ステップメール): ordered steps of templates with waits in business days, the leads enrolled in them,
and the per-step send ledger (nurture/sequences/).

An `Enrolment` is one lead in one sequence; at most one *active* enrolment per lead and sequence (a partial unique
index), so a lead is never in the same sequence twice at once (it may re-enter after it completed or exited).
A `StepSend` is one row of the ledger, unique per enrolment and step: a step is sent to a lead exactly once, by
the same claim → send → mark as a broadcast's row (nurture/mail/sending.py; nurture/sequences/sending.py).
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from nurture.models.mail import SendStatus, SentMessage

__all__ = [
    "Enrolment",
    "EnrolmentSource",
    "EnrolmentState",
    "ExitReason",
    "Sequence",
    "SequenceStatus",
    "SequenceStep",
    "StepSend",
]


class SequenceStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    PAUSED = "paused", _("Paused")


class Sequence(models.Model):
    """A step sequence. The sender is the organisation's sender profile (one row, nurture.SenderProfile): a step
    is not sent while it is incomplete. Enrolment triggers: a segment's new members, a handoff rejected as too
    early or as no budget, and by hand (always)."""

    name = models.CharField(_("name"), max_length=200)
    status = models.CharField(
        _("status"), max_length=10, choices=SequenceStatus.choices, default=SequenceStatus.ACTIVE
    )
    language = models.CharField(
        _("language"), max_length=2, choices=[("ja", _("Japanese")), ("en", _("English"))], default="ja"
    )
    campaign = models.ForeignKey(
        "leads.Campaign",
        verbose_name=_("campaign"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Opens and clicks count as touches of this campaign."),
    )
    trigger_segment = models.ForeignKey(
        "nurture.Segment",
        verbose_name=_("enrol new members of segment"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    on_reject_too_early = models.BooleanField(_("enrol leads sales rejects as too early"), default=False)
    on_reject_no_budget = models.BooleanField(_("enrol leads sales rejects as no budget"), default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("sequence")
        verbose_name_plural = _("sequences")
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=SequenceStatus.values), name="nurture_sequence_status_known"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("nurture:sequence_detail", args=[self.pk])


class SequenceStep(models.Model):
    """One step: a template sent `wait_days` business days after the previous step (after the enrolment for the
    first), at `send_hour` o'clock (Asia/Tokyo)."""

    sequence = models.ForeignKey(Sequence, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField(_("order"))
    template = models.ForeignKey(
        "nurture.EmailTemplate", verbose_name=_("template"), on_delete=models.PROTECT, related_name="+"
    )
    wait_days = models.PositiveSmallIntegerField(
        _("wait (business days)"), default=1, validators=[MaxValueValidator(365)]
    )
    send_hour = models.PositiveSmallIntegerField(
        _("send at (hour)"), default=10, validators=[MaxValueValidator(23)]
    )

    class Meta:
        verbose_name = _("sequence step")
        verbose_name_plural = _("sequence steps")
        ordering = ["sequence", "position"]
        constraints = [
            models.UniqueConstraint(fields=["sequence", "position"], name="nurture_step_position_unique"),
            models.CheckConstraint(condition=Q(send_hour__lte=23), name="nurture_step_send_hour_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.sequence_id}#{self.position}"


class EnrolmentState(models.TextChoices):
    ACTIVE = "active", _("Active")
    COMPLETED = "completed", _("Completed")
    EXITED = "exited", _("Exited")


class EnrolmentSource(models.TextChoices):
    MANUAL = "manual", _("By hand")
    SEGMENT = "segment", _("Entered the segment")
    HANDOFF_REJECTED = "handoff_rejected", _("Handoff rejected")
    API = "api", _("API")


class ExitReason(models.TextChoices):
    NONE = "", "-"
    UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")
    CONSENT_WITHDRAWN = "consent_withdrawn", _("Consent withdrawn")
    BOUNCED = "bounced", _("Bounced")
    REPLIED = "replied", _("Replied")
    MQL = "mql", _("Became MQL")
    HANDOFF = "handoff", _("Handed off to sales")
    DEAL = "deal", _("A deal was opened")
    REMOVED = "removed", _("Removed by hand")
    MERGED = "merged", _("Lead merged into another (already enrolled)")


class Enrolment(models.Model):
    """One lead in one sequence. Its indexes are few on purpose: a segment of 100,000 enrolled at once writes each
    of them 100,000 times (bench/enrol.py). `sequence` and `lead` are served by the composite indexes that start
    with them, and the users and the handoff, empty on almost every row, by partial indexes of the rows that have
    one (what deleting a user or a handoff looks up)."""

    sequence = models.ForeignKey(
        Sequence, on_delete=models.CASCADE, related_name="enrolments", db_index=False
    )  # nurture_enrolment_seq_idx
    lead = models.ForeignKey(
        "leads.Lead", on_delete=models.CASCADE, related_name="+", db_index=False
    )  # nurture_enrolment_lead_idx
    state = models.CharField(
        _("state"), max_length=10, choices=EnrolmentState.choices, default=EnrolmentState.ACTIVE
    )
    source = models.CharField(_("enrolled"), max_length=20, choices=EnrolmentSource.choices)
    exit_reason = models.CharField(
        _("exit reason"), max_length=20, choices=ExitReason.choices, blank=True, default=""
    )
    # The next step to send (None once the last one is in the ledger) and when.
    current_step = models.ForeignKey(
        SequenceStep,
        verbose_name=_("next step to send"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    next_send_at = models.DateTimeField(_("next send at"), null=True, blank=True)
    enrolled_at = models.DateTimeField(_("enrolled at"))
    enrolled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # nurture_enrol_enrolled_by_idx
    )
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    # Who took the lead out by hand (exit reason "removed"), on a page or through an API key acting as them; empty
    # for the system's exits and for an integration's key.
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("removed by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # nurture_enrol_ended_by_idx
    )
    # The rejected handoff that enrolled the lead (source "handoff_rejected"): its rejection reason says why.
    handoff = models.ForeignKey(
        "leads.Handoff",
        verbose_name=_("handoff"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # nurture_enrol_handoff_idx
    )

    class Meta:
        verbose_name = _("enrolment")
        verbose_name_plural = _("enrolments")
        constraints = [
            models.UniqueConstraint(
                fields=["sequence", "lead"],
                condition=Q(state="active"),
                name="nurture_enrolment_active_unique",
            ),
            models.CheckConstraint(
                condition=~Q(state="exited") | ~Q(exit_reason=""), name="nurture_enrolment_exit_has_reason"
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_send_at"], condition=Q(state="active"), name="nurture_enrolment_due_idx"
            ),
            models.Index(fields=["lead", "state"], name="nurture_enrolment_lead_idx"),
            models.Index(fields=["sequence", "-id"], name="nurture_enrolment_seq_idx"),
            models.Index(
                fields=["enrolled_by"],
                condition=Q(enrolled_by__isnull=False),
                name="nurture_enrol_enrolled_by_idx",
            ),
            models.Index(
                fields=["ended_by"], condition=Q(ended_by__isnull=False), name="nurture_enrol_ended_by_idx"
            ),
            models.Index(
                fields=["handoff"], condition=Q(handoff__isnull=False), name="nurture_enrol_handoff_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sequence_id}:{self.lead_id}"


class StepSend(SentMessage):
    """One row of a sequence's send ledger: this step to this enrolment's lead (see nurture/sequences/sending.py)."""

    enrolment = models.ForeignKey(Enrolment, on_delete=models.CASCADE, related_name="sends")
    step = models.ForeignKey(SequenceStep, on_delete=models.CASCADE, related_name="sends")
    status = models.CharField(max_length=10, choices=SendStatus.choices, default=SendStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    claim_token = models.CharField(max_length=32, blank=True, default="")
    claimed_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        verbose_name = _("sequence step send")
        verbose_name_plural = _("sequence step sends")
        constraints = [models.UniqueConstraint(fields=["enrolment", "step"], name="nurture_step_send_unique")]
        indexes = [
            models.Index(fields=["status", "id"], name="nurture_step_send_status_idx"),
            # The messages sent in a period (the marketers' dashboard, nurture.mail.selectors.email_totals).
            models.Index(
                fields=["sent_at"], name="step_send_sent_idx", condition=models.Q(status=SendStatus.SENT)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.enrolment_id}:{self.step_id}"
