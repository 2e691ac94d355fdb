"""Companies: the organisations leads work for."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from leads.choices import Industry, Region
from leads.records.normalize import company_name_key


def corporate_number_is_valid(value: str) -> bool:
    """Whether `value` is a 法人番号: 13 digits whose first is the check digit of the other 12
    (9 − (Σ Pn × Qn mod 9), Pn the n-th digit from the right, Qn 1 for odd n and 2 for even n)."""
    if len(value) != 13 or not value.isascii() or not value.isdigit():
        return False
    base = value[1:]
    total = sum(int(digit) * (1 if n % 2 else 2) for n, digit in enumerate(reversed(base), start=1))
    return int(value[0]) == 9 - total % 9


def validate_corporate_number(value: str) -> None:
    if value and not corporate_number_is_valid(value):
        raise ValidationError(
            _("A corporate number (法人番号) is 13 digits with a valid check digit."), code="corporate_number"
        )


class CompanyQuerySet(models.QuerySet):
    pass


class CompanyManager(models.Manager.from_queryset(CompanyQuerySet)):  # type: ignore[misc]
    """`Company.objects`: the live companies; a merged one (leads.merge) is a tombstone only `all_objects` has."""

    def get_queryset(self) -> CompanyQuerySet:
        return super().get_queryset().filter(merged_into__isnull=True)


class Company(models.Model):
    name = models.CharField(_("name"), max_length=200)
    name_kana = models.CharField(_("name (kana)"), max_length=200, blank=True, default="", db_default="")
    domain = models.CharField(_("domain"), max_length=200, blank=True, help_text=_("e.g. example.co.jp"))
    industry = models.CharField(_("industry"), max_length=30, choices=Industry.choices, blank=True)
    employee_count = models.PositiveIntegerField(_("employees"), null=True, blank=True)
    region = models.CharField(_("region"), max_length=20, choices=Region.choices, blank=True)
    prefecture = models.CharField(_("prefecture"), max_length=20, blank=True)
    website = models.URLField(_("website"), blank=True)
    corporate_number = models.CharField(
        _("corporate number (法人番号)"),
        max_length=13,
        blank=True,
        default="",
        db_default="",
        validators=[validate_corporate_number],
        help_text=_("13 digits, from the National Tax Agency's corporate number site."),
    )
    address = models.CharField(_("address"), max_length=300, blank=True, default="", db_default="")
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent company"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="subsidiaries",
    )
    # The rep who looks after the account; changed with a reason and logged (leads.owners, OwnerChange).
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_companies",
    )
    # Set by the first won deal (leads.lifecycle.company_became_customer); the list's "customer" filter.
    customer_since = models.DateTimeField(_("customer since"), null=True, blank=True)
    # A merged company (leads.merge) is a tombstone: its URL redirects to the survivor it points at.
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("merged into"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # company_merged_into_idx (tombstones only) serves it
    )
    merged_at = models.DateTimeField(_("merged at"), null=True, blank=True)
    # The name as the duplicates queue compares it (leads.records.normalize.company_name_key), kept by save()
    # and the bulk writers.
    name_key = models.CharField(max_length=200, blank=True, default="", db_default="", editable=False)
    # Custom field values by key (leads.custom_fields); on PostgreSQL a GIN index (jsonb_path_ops, made by
    # the custom-fields migration, not here: SQLite has none) serves the filters' and segments' `@>` lookups.
    custom = models.JSONField(
        _("custom fields"), default=dict, blank=True, db_default=models.Value({}, models.JSONField())
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = CompanyManager()
    all_objects = CompanyQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("company")
        verbose_name_plural = _("companies")
        constraints = [
            models.UniqueConstraint(Lower("domain"), condition=~Q(domain=""), name="company_domain_unique"),
            models.UniqueConstraint(
                "corporate_number", condition=~Q(corporate_number=""), name="company_corporate_number_unique"
            ),
            models.CheckConstraint(
                condition=Q(corporate_number="") | Q(corporate_number__regex=r"^[0-9]{13}$"),
                name="company_corporate_number_13_digits",
            ),
        ]
        indexes = [
            models.Index(fields=["name"], name="company_name_idx"),
            # the API's created_since and updated_since
            models.Index(fields=["created_at"], name="company_created_idx"),
            models.Index(fields=["updated_at"], name="company_updated_idx"),
            models.Index(fields=["name_key"], name="company_name_key_idx", condition=~Q(name_key="")),
            models.Index(
                fields=["merged_into"], name="company_merged_into_idx", condition=Q(merged_into__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        # The match key follows the name (one row's derived column, nothing else).
        update_fields = kwargs.get("update_fields")
        self.name_key = company_name_key(self.name)
        if update_fields is not None and "name" in update_fields:
            kwargs["update_fields"] = {*update_fields, "name_key"}
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("leads:company_detail", args=[self.pk])
