"""Personal data: the audit trail of erasures."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ErasureRecord(models.Model):
    """That a lead was erased on request, and by whom: the audit trail of leads.privacy.lead_erase.

    Holds no personal data. The email is kept only as a SHA-256 of its normalized form, so a later question
    ("did you erase taro@example.jp?") can be answered by hashing the address given, while the table alone
    names nobody."""

    class Via(models.TextChoices):
        WEB = "web", _("Lead page")
        API = "api", _("API")
        COMMAND = "command", _("Management command")
        BULK = "bulk", _("Bulk action on the lead list")

    lead_id = models.BigIntegerField(_("lead id"))
    email_sha256 = models.CharField(_("SHA-256 of the email"), max_length=64, db_index=True)
    erased_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("erased by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    via = models.CharField(_("via"), max_length=10, choices=Via.choices)
    counts = models.JSONField(_("what was removed"), default=dict, blank=True)
    erased_at = models.DateTimeField(_("erased at"), auto_now_add=True)

    class Meta:
        ordering = ["-erased_at", "-id"]
        verbose_name = _("erasure")
        verbose_name_plural = _("erasures")
        constraints = [models.UniqueConstraint(fields=["lead_id"], name="erasure_once_per_lead")]

    def __str__(self) -> str:
        return f"#{self.lead_id} @ {self.erased_at:%Y-%m-%d %H:%M}"
