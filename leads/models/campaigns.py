"""Campaigns and personas: records that leads, touches, handoffs and deals point at.

They live here, in the records layer, so every foreign key points down; the campaigns app (its pages, costs,
persona rules and attribution) builds on them. The tables keep their first names (`campaigns_campaign`,
`campaigns_persona`): the models moved in migration state only.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from leads.choices import AwarenessStage, Industry


class Persona(models.Model):
    """A described target customer. Campaigns target personas; leads are matched to them."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    role_title = models.CharField(_("role / title"), max_length=200, blank=True)
    industry = models.CharField(_("industry"), max_length=30, choices=Industry.choices, blank=True)
    company_size = models.CharField(_("company size"), max_length=100, blank=True)
    age_range = models.CharField(_("age range"), max_length=50, blank=True)
    pains = models.TextField(_("pains"), blank=True)
    goals = models.TextField(_("goals"), blank=True)
    information_sources = models.TextField(_("where they get information"), blank=True)
    awareness_stage = models.CharField(
        _("awareness stage"), max_length=20, choices=AwarenessStage.choices, blank=True
    )
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        db_table = "campaigns_persona"  # moved from the campaigns app; the table kept its name
        ordering = ["name"]
        verbose_name = _("persona")
        verbose_name_plural = _("personas")

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("campaigns:persona_detail", args=[self.pk])


class Campaign(models.Model):
    class Channel(models.TextChoices):
        WEB_AD = "web_ad", _("Web ads")
        SNS = "sns", _("Social media")
        SEO = "seo", _("SEO / blog")
        WHITEPAPER = "whitepaper", _("Whitepaper")
        WEBINAR = "webinar", _("Webinar")
        SEMINAR = "seminar", _("Seminar")
        TRADE_SHOW = "trade_show", _("Trade show")
        EMAIL = "email", _("Email newsletter")
        OFFLINE = "offline", _("TV / offline")
        REFERRAL = "referral", _("Referral")
        OTHER = "other", _("Other")

    class Objective(models.TextChoices):
        AWARENESS = "awareness", _("Awareness")
        LEAD_GENERATION = "lead_generation", _("Lead generation")
        NURTURING = "nurturing", _("Nurturing")

    class Status(models.TextChoices):
        PLANNED = "planned", _("Planned")
        ACTIVE = "active", _("Active")
        PAUSED = "paused", _("Paused")
        DONE = "done", _("Done")

    name = models.CharField(_("name"), max_length=200)
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices)
    objective = models.CharField(
        _("objective"), max_length=20, choices=Objective.choices, default=Objective.LEAD_GENERATION
    )
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.PLANNED)
    personas = models.ManyToManyField(
        Persona, verbose_name=_("target personas"), blank=True, related_name="campaigns"
    )
    awareness_stage = models.CharField(
        _("target awareness stage"), max_length=20, choices=AwarenessStage.choices, blank=True
    )
    start_date = models.DateField(_("start date"), null=True, blank=True)
    end_date = models.DateField(_("end date"), null=True, blank=True)
    budget = models.DecimalField(_("budget"), max_digits=14, decimal_places=0, default=0)
    utm_campaign = models.CharField(
        _("UTM campaign code"),
        max_length=100,
        blank=True,
        help_text=_("Touches whose utm_campaign equals this code are linked to the campaign."),
    )
    utm_source = models.CharField(_("UTM source"), max_length=100, blank=True)
    utm_medium = models.CharField(_("UTM medium"), max_length=100, blank=True)
    description = models.TextField(_("description"), blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="campaigns",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        db_table = "campaigns_campaign"  # moved from the campaigns app; the table kept its name
        ordering = ["-start_date", "name"]
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        constraints = [
            models.UniqueConstraint(
                fields=["utm_campaign"],
                condition=~Q(utm_campaign=""),
                name="campaign_utm_unique",
                violation_error_message=_("Another campaign already uses this UTM code."),
            ),
            models.CheckConstraint(
                condition=Q(end_date__isnull=True)
                | Q(start_date__isnull=True)
                | Q(end_date__gte=models.F("start_date")),
                name="campaign_dates_ordered",
            ),
            models.CheckConstraint(condition=Q(budget__gte=0), name="campaign_budget_not_negative"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("campaigns:detail", args=[self.pk])
