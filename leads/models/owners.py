"""Who owns a record, and why it changed hands: one row per change of a lead's or a company's owner made by a
person (or by a merge), with the reason given."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from leads.models.companies import Company
from leads.models.leads import Lead


class OwnerChange(models.Model):
    """One change of owner: of exactly one record (a lead or a company), from whom to whom, by whom, when, why."""

    lead = models.ForeignKey(
        Lead,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="owner_changes",
        db_index=False,  # ownerchange_lead_idx serves it
    )
    company = models.ForeignKey(
        Company,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="owner_changes",
        db_index=False,  # ownerchange_company_idx serves it
    )
    from_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("from"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    to_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("to"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    reason = models.CharField(_("reason"), max_length=300)
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("owner change")
        verbose_name_plural = _("owner changes")
        constraints = [
            models.CheckConstraint(
                condition=Q(lead__isnull=False, company__isnull=True)
                | Q(lead__isnull=True, company__isnull=False),
                name="ownerchange_one_record",
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="ownerchange_reason_given"),
        ]
        indexes = [
            models.Index(fields=["lead", "-at"], name="ownerchange_lead_idx"),
            models.Index(fields=["company", "-at"], name="ownerchange_company_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.from_owner or '—'} → {self.to_owner or '—'}: {self.reason}"
