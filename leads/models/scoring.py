"""Lead scoring: rules, their groups, the shared MQL definition, and rescore runs."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from leads.choices import TouchType


class ScoringKind(models.TextChoices):
    FIT = "fit", _("Fit (who they are)")
    ENGAGEMENT = "engagement", _("Engagement (what they did)")


class ScoringGroup(models.Model):
    """Rules in a group add up to at most `cap` points (e.g. seniority titles, page views)."""

    kind = models.CharField(_("axis"), max_length=20, choices=ScoringKind.choices)
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(
        _("name in English"),
        max_length=100,
        blank=True,
        help_text=_("Empty: the name above in every language."),
    )
    cap = models.PositiveIntegerField(_("cap"), null=True, blank=True, help_text=_("Empty: no cap."))

    class Meta:
        ordering = ["kind", "name"]
        verbose_name = _("scoring group")
        verbose_name_plural = _("scoring groups")
        constraints = [models.UniqueConstraint(fields=["kind", "name"], name="scoringgroup_unique_name")]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        """The name in the viewer's language: the English name for English pages when there is one."""
        return self.name_en if self.name_en and (get_language() or "ja").startswith("en") else self.name


class ScoringRule(models.Model):
    """A rule that gives points. Engagement rules match touches and decay with their half-life; fit rules match
    the lead's and its company's fields."""

    class FitField(models.TextChoices):
        TITLE = "title", _("Job title")
        DEPARTMENT = "department", _("Department")
        EMPLOYEES = "employees", _("Company employees")
        INDUSTRY = "industry", _("Company industry")
        REGION = "region", _("Company region")
        EMAIL_DOMAIN = "email_domain", _("Email domain")

    class Operator(models.TextChoices):
        CONTAINS = "contains", _("contains")
        EQUALS = "equals", _("equals")
        AT_LEAST = "gte", _("is at least")
        BELOW = "lt", _("is below")
        IN_LIST = "in", _("is one of (comma-separated)")

    kind = models.CharField(_("axis"), max_length=20, choices=ScoringKind.choices)
    name = models.CharField(_("name"), max_length=200)
    name_en = models.CharField(
        _("name in English"),
        max_length=200,
        blank=True,
        help_text=_("Empty: the name above in every language."),
    )
    group = models.ForeignKey(
        ScoringGroup,
        verbose_name=_("group"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="rules",
    )
    points = models.IntegerField(_("points"))
    is_active = models.BooleanField(_("active"), default=True)
    # Engagement: which touches match (blank = any) and how fast their points fade.
    touch_type = models.CharField(_("touch type"), max_length=30, choices=TouchType.choices, blank=True)
    url_contains = models.CharField(_("URL contains"), max_length=200, blank=True)
    property_key = models.CharField(_("property"), max_length=100, blank=True)
    property_value = models.CharField(_("property value"), max_length=200, blank=True)
    half_life_days = models.PositiveIntegerField(_("half-life (days)"), default=30)
    # Fit: a condition on the lead or its company.
    field = models.CharField(_("field"), max_length=20, choices=FitField.choices, blank=True)
    operator = models.CharField(_("operator"), max_length=10, choices=Operator.choices, blank=True)
    value = models.CharField(_("value"), max_length=500, blank=True)
    number = models.IntegerField(_("number"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["kind", "group__name", "-points", "name"]
        verbose_name = _("scoring rule")
        verbose_name_plural = _("scoring rules")
        constraints = [
            models.CheckConstraint(condition=Q(half_life_days__gte=1), name="scoringrule_half_life_positive"),
            models.CheckConstraint(
                condition=Q(kind="engagement") | (~Q(field="") & ~Q(operator="")),
                name="scoringrule_fit_has_condition",
            ),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        """The name in the viewer's language: the English name for English pages when there is one."""
        return self.name_en if self.name_en and (get_language() or "ja").startswith("en") else self.name


class ScoringConfig(models.Model):
    """The shared MQL definition (one row): a lead is an MQL when fit ≥ F and total ≥ T. `version` moves with
    every change of rules or thresholds."""

    fit_threshold = models.IntegerField(_("minimum fit (F)"), default=20)
    total_threshold = models.IntegerField(_("minimum total (T)"), default=60)
    version = models.PositiveIntegerField(_("version"), default=1)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("updated by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
    )

    class Meta:
        verbose_name = _("scoring settings")
        verbose_name_plural = _("scoring settings")

    def __str__(self) -> str:
        return f"v{self.version}: fit ≥ {self.fit_threshold}, total ≥ {self.total_threshold}"

    @classmethod
    def get(cls) -> ScoringConfig:
        return cls.objects.get_or_create(pk=1)[0]


class RescoreRun(models.Model):
    """A full rescore, split into batches of lead ids so that several workers share it and a crash loses nothing."""

    version = models.PositiveIntegerField(_("version"))
    reason = models.CharField(_("reason"), max_length=100)
    total_batches = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(_("started at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("rescore run")
        verbose_name_plural = _("rescore runs")

    def __str__(self) -> str:
        return f"v{self.version} {self.reason}"


class RescoreBatch(models.Model):
    run = models.ForeignKey(RescoreRun, on_delete=models.CASCADE, related_name="batches")
    first_id = models.BigIntegerField()
    last_id = models.BigIntegerField()
    queued_at = models.DateTimeField(auto_now_add=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "first_id"], name="rescorebatch_unique")]
        indexes = [
            models.Index(fields=["run"], condition=Q(done_at__isnull=True), name="rescorebatch_pending_idx")
        ]

    def __str__(self) -> str:
        return f"{self.run_id}: {self.first_id}–{self.last_id}"
