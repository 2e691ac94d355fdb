"""Duplicates and merge: the pairs a person said are not duplicates, and the log of each merge."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from leads.models.companies import Company
from leads.models.leads import Lead


class RecordKind(models.TextChoices):
    LEAD = "lead", _("Lead")
    COMPANY = "company", _("Company")


class DuplicateDismissal(models.Model):
    """'Not a duplicate': this pair (the lower id first) does not come back to the duplicates queue. Plain ids,
    not foreign keys: one table for both kinds, and a pair whose record is gone simply never matches again."""

    kind = models.CharField(_("kind"), max_length=10, choices=RecordKind.choices)
    low_id = models.BigIntegerField()
    high_id = models.BigIntegerField()
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("dismissed duplicate")
        verbose_name_plural = _("dismissed duplicates")
        constraints = [
            models.UniqueConstraint(fields=["kind", "low_id", "high_id"], name="duplicate_dismissal_unique"),
            models.CheckConstraint(condition=Q(low_id__lt=F("high_id")), name="duplicate_dismissal_ordered"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.low_id}/{self.high_id}"


class MergeRecord(models.Model):
    """One merge: who merged which record into which, when, and which side each field's value came from (the
    field names and sides only, never the values: the survivor holds them, and an erasure leaves nothing here).
    Shown on the survivor's page."""

    kind = models.CharField(_("kind"), max_length=10, choices=RecordKind.choices)
    lead = models.ForeignKey(
        Lead, on_delete=models.CASCADE, null=True, blank=True, related_name="merges", db_index=False
    )
    merged_lead = models.ForeignKey(
        Lead, on_delete=models.CASCADE, null=True, blank=True, related_name="+", db_index=False
    )
    company = models.ForeignKey(
        Company, on_delete=models.CASCADE, null=True, blank=True, related_name="merges", db_index=False
    )
    merged_company = models.ForeignKey(
        Company, on_delete=models.CASCADE, null=True, blank=True, related_name="+", db_index=False
    )
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    at = models.DateTimeField(_("at"), default=timezone.now)
    # {field: "survivor" | "merged"}: whose value the survivor kept
    fields_taken = models.JSONField(default=dict, blank=True)
    # {table: rows moved onto the survivor}
    moved = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("merge")
        verbose_name_plural = _("merges")
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    kind="lead",
                    lead__isnull=False,
                    merged_lead__isnull=False,
                    company__isnull=True,
                    merged_company__isnull=True,
                )
                | Q(
                    kind="company",
                    lead__isnull=True,
                    merged_lead__isnull=True,
                    company__isnull=False,
                    merged_company__isnull=False,
                ),
                name="mergerecord_one_kind",
            ),
        ]
        indexes = [
            models.Index(fields=["lead", "-at"], name="mergerecord_lead_idx"),
            models.Index(fields=["company", "-at"], name="mergerecord_company_idx"),
            models.Index(fields=["merged_lead"], name="mergerecord_merged_lead_idx"),
            models.Index(fields=["merged_company"], name="mergerecord_merged_co_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.merged_lead_id or self.merged_company_id} → {self.lead_id or self.company_id}"

    @property
    def taken_labels(self) -> list[str]:
        """The labels of the fields whose value came from the merged record."""
        model = Lead if self.kind == RecordKind.LEAD else Company
        labels = []
        for name, side in sorted(self.fields_taken.items()):
            if side != "merged":
                continue
            if name == "consent":
                labels.append(str(_("Consent to email")))
            else:
                labels.append(str(model._meta.get_field(name).verbose_name))
        return labels

    @property
    def moved_total(self) -> int:
        return sum(n for n in self.moved.values() if isinstance(n, int))
