"""Companies: the organisations leads work for."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from leads.choices import Industry, Region


class Company(models.Model):
    name = models.CharField(_("name"), max_length=200)
    domain = models.CharField(_("domain"), max_length=200, blank=True, help_text=_("e.g. example.co.jp"))
    industry = models.CharField(_("industry"), max_length=30, choices=Industry.choices, blank=True)
    employee_count = models.PositiveIntegerField(_("employees"), null=True, blank=True)
    region = models.CharField(_("region"), max_length=20, choices=Region.choices, blank=True)
    prefecture = models.CharField(_("prefecture"), max_length=20, blank=True)
    website = models.URLField(_("website"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("company")
        verbose_name_plural = _("companies")
        constraints = [
            models.UniqueConstraint(Lower("domain"), condition=~Q(domain=""), name="company_domain_unique"),
        ]
        indexes = [models.Index(fields=["name"], name="company_name_idx")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("leads:company_detail", args=[self.pk])
