"""Touches (every tracked interaction) and the awareness rules that read them."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from leads.choices import AwarenessStage, TouchType
from leads.models.campaigns import Campaign
from leads.models.leads import Lead


class Touch(models.Model):
    """One tracked interaction of a lead, or of an anonymous visitor until they identify."""

    # The composite indexes below lead with these columns, so the FKs need no index of their own (every
    # insert pays for each index, and touches are the busiest table).
    lead = models.ForeignKey(
        Lead,
        verbose_name=_("lead"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="touches",
        db_index=False,
    )
    visitor_id = models.CharField(_("visitor id"), max_length=64, blank=True)
    type = models.CharField(_("type"), max_length=30, choices=TouchType.choices)
    occurred_at = models.DateTimeField(_("occurred at"))
    url = models.TextField(_("URL"), blank=True)
    utm_source = models.CharField(_("UTM source"), max_length=100, blank=True)
    utm_medium = models.CharField(_("UTM medium"), max_length=100, blank=True)
    utm_campaign = models.CharField(_("UTM campaign"), max_length=100, blank=True)
    utm_content = models.CharField(_("UTM content"), max_length=100, blank=True)
    utm_term = models.CharField(_("UTM term"), max_length=100, blank=True)
    campaign = models.ForeignKey(
        Campaign,
        verbose_name=_("campaign"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="touches",
        db_index=False,
    )
    properties = models.JSONField(_("properties"), default=dict, blank=True)
    source = models.CharField(
        _("source"),
        max_length=64,
        help_text=_("Where the event came from (API integration, form, tracking, import)."),
    )
    idempotency_key = models.CharField(_("idempotency key"), max_length=128)
    created_at = models.DateTimeField(_("received at"), auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("touch")
        verbose_name_plural = _("touches")
        constraints = [
            # The key first: the replay check looks up a batch's keys within one source, and an index led by the
            # source lets the planner read every touch of a source it believes small (a new integration's,
            # before the next ANALYZE) instead of probing the keys.
            models.UniqueConstraint(fields=["idempotency_key", "source"], name="touch_idempotency_unique"),
            models.CheckConstraint(
                condition=Q(lead__isnull=False) | ~Q(visitor_id=""), name="touch_has_an_owner"
            ),
        ]
        indexes = [
            models.Index(fields=["lead", "-occurred_at"], name="touch_lead_time_idx"),
            # a lead's form submissions (its page's "submitted values"), not read through every touch of the lead
            models.Index(
                fields=["lead", "-occurred_at"],
                name="touch_submitted_idx",
                condition=Q(properties__has_key="submitted"),
            ),
            models.Index(fields=["occurred_at"], name="touch_time_idx"),
            models.Index(fields=["campaign", "occurred_at"], name="touch_campaign_time_idx"),
            models.Index(
                fields=["visitor_id"], name="touch_anonymous_visitor_idx", condition=Q(lead__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display()} @ {self.occurred_at:%Y-%m-%d %H:%M}"


class AwarenessRule(models.Model):
    """An editable rule: a lead whose touches match it is at least at `stage`.

    A lead's awareness stage is the highest stage of any active rule its touches match (潜在層 when none).
    """

    class Field(models.TextChoices):
        TOUCH_TYPE = "type", _("Touch type equals")
        URL_CONTAINS = "url", _("URL contains")
        UTM_MEDIUM = "utm_medium", _("UTM medium equals")

    name = models.CharField(_("name"), max_length=200)
    name_en = models.CharField(
        _("name in English"),
        max_length=200,
        blank=True,
        help_text=_("Empty: the name above in every language."),
    )
    stage = models.CharField(_("stage"), max_length=20, choices=AwarenessStage.choices)
    field = models.CharField(_("matches on"), max_length=20, choices=Field.choices)
    value = models.CharField(_("value"), max_length=200)
    min_count = models.PositiveSmallIntegerField(_("at least (times)"), default=1)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["stage", "name"]
        verbose_name = _("awareness rule")
        verbose_name_plural = _("awareness rules")
        constraints = [
            models.CheckConstraint(condition=Q(min_count__gte=1), name="awarenessrule_min_count_positive")
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        """The name in the viewer's language: the English name for English pages when there is one."""
        return self.name_en if self.name_en and (get_language() or "ja").startswith("en") else self.name
