"""Email: the sender profile (the legal footer), templates, broadcasts and their send ledger (nurture/mail/).

The ledger (`BroadcastSend`) holds one row per broadcast and lead, frozen when the broadcast starts. A row is sent
exactly once: claimed with a conditional UPDATE (pending → sending), handed to the mail backend, marked sent.
See nurture/mail/sending.py for what happens to a row whose worker died between the claim and the mark.
No email address is copied here: a row points at its lead (erasing the lead removes its rows).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

__all__ = [
    "Broadcast",
    "BroadcastSend",
    "BroadcastStatus",
    "EmailTemplate",
    "SendStatus",
    "SenderProfile",
    "SentMessage",
    "SkipReason",
]


class SenderProfile(models.Model):
    """Who sends marketing email, shown in every message's footer (特定電子メール法: the sender's name, a postal
    address and a contact for complaints). One row (pk 1); a send is refused while any field is empty."""

    sender_name = models.CharField(_("sender name"), max_length=200, blank=True)
    from_email = models.EmailField(_("from address"), blank=True)
    postal_address = models.TextField(_("postal address"), blank=True)
    complaints_contact = models.CharField(
        _("contact for complaints"),
        max_length=300,
        blank=True,
        help_text=_("An email address or a URL where recipients can reach you."),
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("sender profile")
        verbose_name_plural = _("sender profiles")
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="nurture_senderprofile_single_row")]

    def __str__(self) -> str:
        return self.sender_name or "-"

    def missing_fields(self) -> list[str]:
        """Labels of the fields a marketing message needs and this profile lacks."""
        names = ("sender_name", "from_email", "postal_address", "complaints_contact")
        return [str(self._meta.get_field(n).verbose_name) for n in names if not str(getattr(self, n)).strip()]


class EmailTemplate(models.Model):
    """Subject, HTML and text per language; merge fields are rendered in a sandbox (nurture.mail.rendering)."""

    name = models.CharField(_("name"), max_length=200)
    subject_ja = models.CharField(_("subject (Japanese)"), max_length=300, blank=True)
    html_ja = models.TextField(_("HTML body (Japanese)"), blank=True)
    text_ja = models.TextField(_("text body (Japanese)"), blank=True)
    subject_en = models.CharField(_("subject (English)"), max_length=300, blank=True)
    html_en = models.TextField(_("HTML body (English)"), blank=True)
    text_en = models.TextField(_("text body (English)"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("email template")
        verbose_name_plural = _("email templates")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def parts(self, language: str) -> tuple[str, str, str]:
        """(subject, html, text) in `language` ("ja" or "en")."""
        return (
            getattr(self, f"subject_{language}"),
            getattr(self, f"html_{language}"),
            getattr(self, f"text_{language}"),
        )

    def languages(self) -> list[str]:
        """The languages this template has a subject and a text body in."""
        return [lang for lang in ("ja", "en") if self.parts(lang)[0].strip() and self.parts(lang)[2].strip()]


class BroadcastStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SCHEDULED = "scheduled", _("Scheduled")
    SENDING = "sending", _("Sending")
    PAUSED = "paused", _("Paused")
    DONE = "done", _("Done")
    CANCELLED = "cancelled", _("Cancelled")


class Broadcast(models.Model):
    """A newsletter (メルマガ): one template to one segment at a scheduled time, for a campaign, throttled."""

    name = models.CharField(_("name"), max_length=200)
    template = models.ForeignKey(
        EmailTemplate, verbose_name=_("template"), on_delete=models.PROTECT, related_name="broadcasts"
    )
    segment = models.ForeignKey(
        "nurture.Segment", verbose_name=_("segment"), on_delete=models.PROTECT, related_name="+"
    )
    campaign = models.ForeignKey(
        "leads.Campaign", verbose_name=_("campaign"), on_delete=models.PROTECT, related_name="+"
    )
    language = models.CharField(
        _("language"), max_length=2, choices=[("ja", _("Japanese")), ("en", _("English"))], default="ja"
    )
    scheduled_at = models.DateTimeField(_("scheduled at"), null=True, blank=True)
    throttle_per_minute = models.PositiveIntegerField(_("messages per minute"))
    status = models.CharField(
        _("status"), max_length=10, choices=BroadcastStatus.choices, default=BroadcastStatus.DRAFT
    )
    status_note = models.CharField(_("note"), max_length=300, blank=True)
    frozen_at = models.DateTimeField(_("recipients frozen at"), null=True, blank=True)
    # The start of the latest batch (one minute's worth of messages): the throttle and the sweep read it.
    batch_started_at = models.DateTimeField(null=True, blank=True)
    # The rows claimed in that batch, by all its parts together (the throttle, checked as each chunk is claimed).
    batch_claimed = models.PositiveIntegerField(default=0)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("broadcast")
        verbose_name_plural = _("broadcasts")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(throttle_per_minute__gte=1), name="broadcast_throttle_min")
        ]
        indexes = [models.Index(fields=["status", "scheduled_at"], name="broadcast_status_idx")]

    def __str__(self) -> str:
        return self.name


class SendStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    SKIPPED = "skipped", _("Skipped")
    # Claimed by a worker that died before marking it: maybe sent, never sent again (nurture.mail.sending).
    UNKNOWN = "unknown", _("Unknown (worker stopped)")


class SkipReason(models.TextChoices):
    NONE = "", "-"
    NO_CONSENT = "no_consent", _("No consent")
    UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")
    INVALID_ADDRESS = "invalid_address", _("Invalid address")
    BOUNCED = "bounced", _("Address bounces")
    CANCELLED = "cancelled", _("Broadcast cancelled")
    MERGED = "merged", _("Lead merged into another (sent there)")


class SentMessage(models.Model):
    """What became of a ledger row's message, first time each (nurture.mail.outcomes): set once, in the transaction
    that records the open or click touch carrying the message's tracking id, or the bounce reported for it; so a
    period's outcomes are one aggregate over its sent rows, with no lookup per message."""

    opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    bounced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


class BroadcastSend(SentMessage):
    """One row of the send ledger: this broadcast to this lead."""

    broadcast = models.ForeignKey(Broadcast, on_delete=models.CASCADE, related_name="sends")
    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=10, choices=SendStatus.choices, default=SendStatus.PENDING)
    skip_reason = models.CharField(max_length=20, choices=SkipReason.choices, blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=0)
    claim_token = models.CharField(max_length=32, blank=True, default="")
    claimed_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        verbose_name = _("broadcast send")
        verbose_name_plural = _("broadcast sends")
        constraints = [
            models.UniqueConstraint(fields=["broadcast", "lead"], name="broadcast_send_unique"),
        ]
        indexes = [
            models.Index(fields=["broadcast", "status", "id"], name="broadcast_send_status_idx"),
            # The messages sent in a period (the marketers' dashboard, nurture.mail.selectors.email_totals).
            models.Index(
                fields=["sent_at"], name="broadcast_send_sent_idx", condition=models.Q(status=SendStatus.SENT)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.broadcast_id}:{self.lead_id}"
