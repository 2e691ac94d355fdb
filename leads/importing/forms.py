"""Forms of the capture paths: the public web form (posted from customers' sites) and the CSV import steps."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.core.validators import RegexValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from campaigns.models import Campaign
from leads.choices import LeadSource, TouchType
from salesmarketing.dates import DateField

# Field names the public form understands; anything else a site posts is kept in the touch's properties.
HONEYPOT_FIELD = "sm_hp"
RESERVED_FIELDS = {HONEYPOT_FIELD, "csrfmiddlewaretoken", "format"}
MAX_EXTRA_FIELDS = 50
MAX_EXTRA_VALUE = 5000

_visitor_id = RegexValidator(r"^[A-Za-z0-9._:-]{1,64}$", _("Not a valid visitor id."))
_submission_id = RegexValidator(r"^[A-Za-z0-9._:-]{1,100}$", _("Not a valid submission id."))


class PublicLeadForm(forms.Form):
    """What a customer's web form may send to `/f/<site key>`. Only the email is required."""

    email = forms.EmailField(label=_("Email"), max_length=254)
    name = forms.CharField(label=_("Name"), max_length=200, required=False)
    name_kana = forms.CharField(label=_("Name (kana)"), max_length=200, required=False)
    company = forms.CharField(label=_("Company"), max_length=200, required=False)
    title = forms.CharField(label=_("Job title"), max_length=200, required=False)
    department = forms.CharField(label=_("Department"), max_length=200, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=50, required=False)
    consent_email = forms.BooleanField(label=_("I agree to receive email"), required=False)
    utm_source = forms.CharField(max_length=100, required=False, widget=forms.HiddenInput)
    utm_medium = forms.CharField(max_length=100, required=False, widget=forms.HiddenInput)
    utm_campaign = forms.CharField(max_length=100, required=False, widget=forms.HiddenInput)
    utm_content = forms.CharField(max_length=100, required=False, widget=forms.HiddenInput)
    utm_term = forms.CharField(max_length=100, required=False, widget=forms.HiddenInput)
    sm_vid = forms.CharField(required=False, validators=[_visitor_id], widget=forms.HiddenInput)
    sm_sid = forms.CharField(required=False, validators=[_submission_id], widget=forms.HiddenInput)
    sm_page = forms.CharField(max_length=2048, required=False, widget=forms.HiddenInput)

    def __init__(self, data, *args, **kwargs):
        super().__init__(data, *args, **kwargs)
        self.extra: dict[str, Any] = {}
        if data is None:
            return
        for key in data:
            if key in self.fields or key in RESERVED_FIELDS:
                continue
            values = data.getlist(key) if hasattr(data, "getlist") else [data[key]]
            values = [str(v) for v in values]
            self.extra[str(key)[:100]] = values[0] if len(values) == 1 else values

    @property
    def extra_items(self) -> list[tuple[str, str]]:
        """The extra fields as (name, value) pairs, a multi-valued field once per value (for re-posting)."""
        return [
            (name, item)
            for name, value in self.extra.items()
            for item in (value if isinstance(value, list) else [value])
        ]

    def clean(self):
        cleaned = super().clean()
        if len(self.extra) > MAX_EXTRA_FIELDS:
            raise forms.ValidationError(
                _("Too many fields (at most %(n)s besides the standard ones)."),
                params={"n": MAX_EXTRA_FIELDS},
            )
        for key, value in self.extra.items():
            values = value if isinstance(value, list) else [value]
            if any(len(v) > MAX_EXTRA_VALUE for v in values):
                raise forms.ValidationError(
                    _("The field “%(name)s” is too long (at most %(n)s characters)."),
                    params={"name": key, "n": MAX_EXTRA_VALUE},
                )
            if any("\x00" in v for v in [key, *values]):
                raise forms.ValidationError(_("The form contains invalid characters."))
        return cleaned

    def to_event(self, *, event_id: str, touch_type: str, referer: str = "") -> dict[str, Any]:
        """The event for leads.ingest (validated once more there)."""
        data = self.cleaned_data
        event: dict[str, Any] = {
            "id": event_id,
            "type": touch_type,
            "email": data["email"],
            "url": data["sm_page"] or referer[:2048],
            "properties": {"fields": self.extra} if self.extra else {},
        }
        for name in ("name", "name_kana", "company", "title", "department", "phone"):
            if data[name].strip():
                event[name] = data[name].strip()
        if data["consent_email"]:
            event["consent_email"] = True
        for name in ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term"):
            if data[name]:
                event[name] = data[name]
        if data["sm_vid"]:
            event["visitor_id"] = data["sm_vid"]
        return event


# --- CSV import -----------------------------------------------------------------------------------------


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
        from leads.importing import TARGET_FIELDS

        super().__init__(*args, **kwargs)
        self.headers = headers
        for index, header in enumerate(headers):
            self.fields[f"col_{index}"] = forms.ChoiceField(
                label=header or _("Column %(n)s") % {"n": index + 1},
                choices=TARGET_FIELDS,
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
        from leads.importing import mapping_errors

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
