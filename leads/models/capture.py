"""Capture: public web forms and CSV imports."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from leads.choices import LeadSource, TouchType
from leads.models.campaigns import Campaign


def new_site_key() -> str:
    """A random, URL-safe key that names a public form endpoint (`/f/<site key>`)."""
    return secrets.token_urlsafe(12).replace("_", "x").replace("-", "y")


class FormEndpoint(models.Model):
    """A public endpoint a customer-facing web form posts to: `POST /f/<site key>` creates or updates the lead."""

    name = models.CharField(_("name"), max_length=200)
    site_key = models.SlugField(
        _("site key"),
        max_length=40,
        unique=True,
        default=new_site_key,
        help_text=_("Part of the form's action URL (/f/<site key>); change it to retire a leaked URL."),
    )
    campaign = models.ForeignKey(
        Campaign,
        verbose_name=_("campaign"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="form_endpoints",
        help_text=_("Submissions are linked to this campaign unless their UTM campaign names another."),
    )
    touch_type = models.CharField(
        _("touch type"), max_length=30, choices=TouchType.choices, default=TouchType.FORM_SUBMIT
    )
    lead_source = models.CharField(
        _("lead source"), max_length=20, choices=LeadSource.choices, default=LeadSource.WEB_FORM
    )
    is_newsletter = models.BooleanField(
        _("newsletter sign-up"),
        default=False,
        db_default=False,
        help_text=_(
            "A newsletter-only form: a person who signs up here and was not known yet is a subscriber."
        ),
    )
    redirect_url = models.URLField(
        _("redirect URL"),
        blank=True,
        help_text=_("Where the visitor goes after a successful submission; empty: a thank-you page."),
    )
    allowed_origins = models.TextField(
        _("allowed origins"),
        blank=True,
        help_text=_("One origin per line, e.g. https://www.example.co.jp. Empty: any site may post."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("form endpoint")
        verbose_name_plural = _("form endpoints")

    def __str__(self) -> str:
        return self.name

    @property
    def origins(self) -> list[str]:
        return [
            line.strip().rstrip("/").lower() for line in self.allowed_origins.splitlines() if line.strip()
        ]

    def allows_origin(self, origin: str) -> bool:
        allowed = self.origins
        return not allowed or origin.rstrip("/").lower() in allowed


class ImportJob(models.Model):
    """One uploaded CSV file: its bytes (kept for the mapping step), the mapping chosen, and the outcome."""

    class Status(models.TextChoices):
        UPLOADED = "uploaded", _("Waiting for the column mapping")
        RUNNING = "running", _("Importing")
        DONE = "done", _("Imported")
        FAILED = "failed", _("Failed")

    file_name = models.CharField(_("file name"), max_length=255)
    file_sha256 = models.CharField(_("SHA-256 of the file"), max_length=64, db_index=True)
    content = models.BinaryField(_("content"))
    encoding = models.CharField(_("encoding"), max_length=20, blank=True)
    headers = models.JSONField(_("columns"), default=list, blank=True)
    mapping = models.JSONField(_("column mapping"), default=dict, blank=True)
    source_name = models.CharField(
        _("source name"),
        max_length=200,
        blank=True,
        help_text=_("e.g. the trade show or list this came from."),
    )
    touch_type = models.CharField(
        _("touch type"), max_length=30, choices=TouchType.choices, default=TouchType.LIST_IMPORT
    )
    lead_source = models.CharField(
        _("lead source"), max_length=20, choices=LeadSource.choices, default=LeadSource.IMPORT
    )
    campaign = models.ForeignKey(
        Campaign,
        verbose_name=_("campaign"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="import_jobs",
    )
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.UPLOADED)
    rows_total = models.PositiveIntegerField(_("rows"), default=0)
    accepted_count = models.PositiveIntegerField(_("imported"), default=0)
    duplicate_count = models.PositiveIntegerField(_("already imported"), default=0)
    error_count = models.PositiveIntegerField(_("rows with errors"), default=0)
    leads_created = models.PositiveIntegerField(_("new leads"), default=0)
    errors = models.JSONField(_("errors"), default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("CSV import")
        verbose_name_plural = _("CSV imports")

    def __str__(self) -> str:
        return self.file_name

    def get_absolute_url(self) -> str:
        return reverse("leads:import_detail", args=[self.pk])

    @property
    def encoding_label(self) -> str:
        from leads.importing.files import ENCODING_LABELS  # a leaf module: no import back into models

        return ENCODING_LABELS.get(self.encoding, self.encoding)
