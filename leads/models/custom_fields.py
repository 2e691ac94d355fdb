"""Custom fields: what an admin adds to leads, companies and deals beyond the built-in columns.

A definition says what a value is (its type, its options) and where it shows; the values live in one JSON column
per record (`Lead.custom`, `Company.custom`, `Deal.custom`), keyed by the definition's key. leads.custom_fields
reads and writes them; pipeline reads the deal's definitions from here (it sits above leads).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

KEY_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"


class CustomObject(models.TextChoices):
    LEAD = "lead", _("Lead")
    COMPANY = "company", _("Company")
    DEAL = "deal", _("Deal")


class CustomFieldType(models.TextChoices):
    TEXT = "text", _("Text")
    NUMBER = "number", _("Number")
    DATE = "date", _("Date")
    CHOICE = "choice", _("Choice")
    MULTI_CHOICE = "multi_choice", _("Multiple choice")
    BOOLEAN = "boolean", _("Yes / no")


# Where a field shows: the flag's name on FieldDefinition and its label on the settings page.
PLACES: tuple[tuple[str, object], ...] = (
    ("in_form", _("Form")),
    ("in_list", _("List column")),
    ("in_filter", _("Filter")),
    ("in_export", _("Export")),
    ("in_api", _("API")),
    ("in_segment", _("Segment rule")),
)


class FieldDefinitionQuerySet(models.QuerySet):
    def live(self) -> FieldDefinitionQuerySet:
        return self.filter(archived_at__isnull=True)

    def of(self, object_type: str) -> FieldDefinitionQuerySet:
        return self.filter(object_type=object_type)


class FieldDefinition(models.Model):
    object_type = models.CharField(_("record"), max_length=10, choices=CustomObject.choices)
    key = models.CharField(
        _("key"),
        max_length=40,
        help_text=_(
            "Lower-case letters, digits and _; how the API and CSV files name it. Fixed once values exist."
        ),
    )
    label_ja = models.CharField(_("label (Japanese)"), max_length=100)
    label_en = models.CharField(_("label (English)"), max_length=100)
    field_type = models.CharField(_("type"), max_length=20, choices=CustomFieldType.choices)
    # For choice and multiple choice: the options, as stored and shown.
    options = models.JSONField(_("options"), default=list, blank=True)
    required = models.BooleanField(_("required"), default=False)
    in_form = models.BooleanField(_("form"), default=True)
    in_list = models.BooleanField(_("list column"), default=False)
    in_filter = models.BooleanField(_("filter"), default=False)
    in_export = models.BooleanField(_("export"), default=True)
    in_api = models.BooleanField(_("API"), default=True)
    in_segment = models.BooleanField(_("segment rule"), default=False)
    position = models.PositiveIntegerField(_("position"), default=0)
    archived_at = models.DateTimeField(_("archived at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = FieldDefinitionQuerySet.as_manager()

    class Meta:
        ordering = ["object_type", "position", "pk"]
        verbose_name = _("custom field")
        verbose_name_plural = _("custom fields")
        constraints = [
            # An archived definition keeps its key: the values stored under it still mean it.
            models.UniqueConstraint("object_type", "key", name="fielddefinition_key_unique"),
            models.CheckConstraint(condition=Q(key__regex=KEY_PATTERN), name="fielddefinition_key_format"),
            models.CheckConstraint(
                condition=Q(field_type__in=CustomFieldType.values), name="fielddefinition_type_valid"
            ),
            models.CheckConstraint(
                condition=Q(object_type__in=CustomObject.values), name="fielddefinition_object_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        """The label in the language of the request (Japanese unless English is asked for)."""
        language = (get_language() or "ja")[:2]
        return (self.label_en if language == "en" else self.label_ja) or self.label_ja or self.label_en

    @property
    def has_options(self) -> bool:
        return self.field_type in (CustomFieldType.CHOICE, CustomFieldType.MULTI_CHOICE)
