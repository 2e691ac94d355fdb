"""The public web form posted from customers' sites to `/f/<site key>`."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

# Field names the public form understands; anything else a site posts is kept in the touch's properties.
HONEYPOT_FIELD = "sm_hp"
RESERVED_FIELDS = {HONEYPOT_FIELD, "csrfmiddlewaretoken", "format"}
MAX_EXTRA_FIELDS = 50
MAX_EXTRA_VALUE = 5000
CUSTOM_PREFIX = "custom."

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
        # A site's field named `custom.<key>` fills the lead's custom field of that key (a value that does not
        # fit its type is left out there; the field stays among the touch's properties either way).
        custom = {
            name.removeprefix(CUSTOM_PREFIX): value
            for name, value in self.extra.items()
            if name.startswith(CUSTOM_PREFIX) and len(name) > len(CUSTOM_PREFIX)
        }
        if custom:
            event["custom"] = custom
        return event
