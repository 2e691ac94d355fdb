"""The CSV import's steps: the upload, then which column is which field and what kind of touch a row is."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from leads.choices import LeadSource, TouchType
from leads.importing.files import custom_targets, mapping_errors, target_choices
from leads.models import Campaign
from salesmarketing.dates import DateField


class ImportUploadForm(forms.Form):
    MAX_BYTES = 20 * 1024 * 1024

    file = forms.FileField(
        label=_("CSV file"),
        help_text=_("UTF-8 (with or without BOM) or Shift_JIS / CP932 as saved by Excel; up to 20 MB."),
    )
    encoding = forms.ChoiceField(
        label=_("Encoding"),
        choices=[("auto", _("Detect automatically")), ("utf-8", "UTF-8"), ("cp932", "Shift_JIS (CP932)")],
        initial="auto",
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > self.MAX_BYTES:
            raise forms.ValidationError(_("The file is larger than 20 MB; split it into several files."))
        if upload.size == 0:
            raise forms.ValidationError(_("The file is empty."))
        return upload


class ImportMappingForm(forms.Form):
    """Step 2: which column is which field, and what kind of touch each row is."""

    source_name = forms.CharField(
        label=_("Source name"),
        max_length=200,
        required=False,
        help_text=_("e.g. the trade show or list this came from; kept on every imported touch."),
    )
    # The neutral type first and by default: a list says who someone is, not that they did anything, so rows
    # earn engagement points only when the marketer says what they did (visited the booth, attended …).
    touch_type = forms.ChoiceField(
        label=_("Each row is a"),
        choices=[(TouchType.LIST_IMPORT, _("List entry (no engagement points)"))]
        + [
            (value, label)
            for value, label in TouchType.choices
            if value
            not in (
                TouchType.PAGE_VIEW,
                TouchType.EMAIL_OPEN,
                TouchType.EMAIL_CLICK,
                TouchType.UNSUBSCRIBE,
                TouchType.LIST_IMPORT,
            )
        ],
        initial=TouchType.LIST_IMPORT,
        help_text=_(
            "Rows earn engagement points only for what people did: choose “Trade show visit” for a booth's "
            "visitors, “Seminar attended” for a seminar's, and so on."
        ),
    )
    lead_source = forms.ChoiceField(
        label=_("Source of new leads"), choices=LeadSource.choices, initial=LeadSource.IMPORT
    )
    campaign = forms.ModelChoiceField(
        label=_("Campaign"), queryset=Campaign.objects.order_by("name"), required=False, empty_label=_("None")
    )
    occurred_on = DateField(
        label=_("Date of the event"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("For rows without a date column; empty: now."),
    )

    def __init__(self, *args, headers: list[str], mapping: dict[int, str], **kwargs):
        super().__init__(*args, **kwargs)
        self.headers = headers
        choices = target_choices(custom_targets())  # the leads' custom fields among the built-in ones
        for index, header in enumerate(headers):
            self.fields[f"col_{index}"] = forms.ChoiceField(
                label=header or _("Column %(n)s") % {"n": index + 1},
                choices=choices,
                initial=mapping.get(index),
            )

    @property
    def column_fields(self) -> list[forms.BoundField]:
        return [self[f"col_{index}"] for index in range(len(self.headers))]

    @property
    def option_fields(self) -> list[forms.BoundField]:
        return [
            self[name] for name in ("touch_type", "lead_source", "campaign", "source_name", "occurred_on")
        ]

    def clean_occurred_on(self):
        day = self.cleaned_data.get("occurred_on")
        if day and day > timezone.localdate():
            raise forms.ValidationError(_("The date cannot be in the future."))
        return day

    def clean(self):
        cleaned = super().clean()
        if all(f"col_{index}" in cleaned for index in range(len(self.headers))):
            for problem in mapping_errors(self.mapping):
                self.add_error(None, problem)
        return cleaned

    @property
    def mapping(self) -> dict[int, str]:
        return {index: self.cleaned_data[f"col_{index}"] for index in range(len(self.headers))}

    @property
    def occurred_at(self):
        day = self.cleaned_data.get("occurred_on")
        if not day:
            return None
        return timezone.make_aware(dt.datetime.combine(day, dt.time(12, 0)), timezone.get_default_timezone())
