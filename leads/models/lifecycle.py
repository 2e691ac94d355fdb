"""Lifecycle history: one row per change of a lead's lifecycle stage (written by leads.lifecycle only)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from leads.choices import LifecycleStage
from leads.models.leads import Lead


class LifecycleChange(models.Model):
    """A lead went from one lifecycle stage to another: when, by whom (empty: the system) and why. KPIs that
    count "became X in the period" read these rows."""

    lead = models.ForeignKey(
        Lead, verbose_name=_("lead"), on_delete=models.CASCADE, related_name="lifecycle_changes"
    )
    from_stage = models.CharField(_("from"), max_length=20, choices=LifecycleStage.choices, blank=True)
    to_stage = models.CharField(_("to"), max_length=20, choices=LifecycleStage.choices)
    at = models.DateTimeField(_("at"))
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    reason = models.CharField(_("reason"), max_length=300, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("lifecycle change")
        verbose_name_plural = _("lifecycle changes")
        indexes = [
            models.Index(fields=["lead", "-at"], name="lifecycle_lead_at_idx"),
            # "became X in the period" (kpis.registry.measures): distinct leads read from the index alone
            models.Index(fields=["to_stage", "at"], include=["lead"], name="lifecycle_to_at_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(from_stage=models.F("to_stage")), name="lifecycle_changes"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.lead_id}: {self.from_stage or '—'} → {self.to_stage}"
