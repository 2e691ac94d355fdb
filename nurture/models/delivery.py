"""What happened to a marketing message after we sent it: delivered, bounced, or reported as spam."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from nurture.models.mail import BroadcastSend
from nurture.models.sequences import StepSend

__all__ = ["DeliveryEvent", "DeliveryEventKind"]


class DeliveryEventKind(models.TextChoices):
    DELIVERED = "delivered", _("Delivered")
    SOFT_BOUNCE = "soft_bounce", _("Soft bounce")
    HARD_BOUNCE = "hard_bounce", _("Hard bounce")
    COMPLAINT = "complaint", _("Spam complaint")


class DeliveryEvent(models.Model):
    """One report about one sent message (an email provider's tracking webhook, a bounce message (DSN) or a
    complaint (ARF) received at the return path). Unique by `key`, so a report received twice is one row."""

    key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(_("kind"), max_length=12, choices=DeliveryEventKind.choices)
    source = models.CharField(_("reported by"), max_length=40)
    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="+")
    broadcast_send = models.ForeignKey(
        BroadcastSend, on_delete=models.CASCADE, null=True, blank=True, related_name="delivery_events"
    )
    step_send = models.ForeignKey(
        StepSend, on_delete=models.CASCADE, null=True, blank=True, related_name="delivery_events"
    )
    occurred_at = models.DateTimeField(_("occurred at"))
    detail = models.CharField(_("detail"), max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("delivery event")
        verbose_name_plural = _("delivery events")
        constraints = [
            models.CheckConstraint(
                condition=~(Q(broadcast_send__isnull=False) & Q(step_send__isnull=False)),
                name="delivery_event_one_send",
            )
        ]
        indexes = [
            models.Index(fields=["lead", "kind", "occurred_at"], name="delivery_event_lead_idx"),
            models.Index(fields=["broadcast_send", "kind"], name="delivery_event_bsend_idx"),
            models.Index(fields=["step_send", "kind"], name="delivery_event_ssend_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.lead_id}"
