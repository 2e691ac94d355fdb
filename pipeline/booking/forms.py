"""The public booking form and the booking pages' settings."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils.translation import gettext_lazy as _

from pipeline.booking.models import BookingPage, TeamBookingPage
from pipeline.booking.selectors import tz

HONEYPOT_FIELD = "website"  # hidden from people; a bot that fills it is answered as if booked, nothing stored
# The wording beside the consent box; what the person saw is kept as the consent's proof (in their language).
CONSENT_WORDING = _(
    "I agree to receive e-mail about products, events and offers from us. I can unsubscribe at any time."
)


class BookingForm(forms.Form):
    slot = forms.CharField(widget=forms.HiddenInput)
    name = forms.CharField(label=_("Name"), max_length=200)
    email = forms.EmailField(label=_("Email"), max_length=254)
    company = forms.CharField(label=_("Company"), max_length=200, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=50, required=False)
    note = forms.CharField(
        label=_("What would you like to discuss?"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    consent_email = forms.BooleanField(label=CONSENT_WORDING, required=False)
    website = forms.CharField(
        label=_("Leave this empty"),
        required=False,
        widget=forms.TextInput(attrs={"tabindex": "-1", "autocomplete": "off", "class": "hp"}),
    )

    def clean_slot(self) -> dt.datetime:
        raw = self.cleaned_data["slot"]
        try:
            moment = dt.datetime.fromisoformat(raw)
        except ValueError:
            raise forms.ValidationError(_("Choose a time from the list.")) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=tz())
        return moment

    def clean(self):
        cleaned = super().clean()
        for name in ("name", "company", "phone", "note"):
            if "\x00" in (cleaned.get(name) or ""):
                self.add_error(name, _("The form contains invalid characters."))
        return cleaned


def slot_value(moment: dt.datetime) -> str:
    """A slot as the form carries it: ISO 8601 in Asia/Tokyo."""
    return moment.astimezone(tz()).isoformat()


class WeekdaysField(forms.MultipleChoiceField):
    widget = forms.CheckboxSelectMultiple

    def __init__(self, **kwargs):
        days = [
            ("1", _("Monday")),
            ("2", _("Tuesday")),
            ("3", _("Wednesday")),
            ("4", _("Thursday")),
            ("5", _("Friday")),
            ("6", _("Saturday")),
            ("7", _("Sunday")),
        ]
        super().__init__(choices=days, **kwargs)

    def prepare_value(self, value):
        return list(value) if isinstance(value, str) else value

    def clean(self, value) -> str:  # type: ignore[override]
        return "".join(sorted(super().clean(value)))


class BookingPageForm(forms.ModelForm):
    weekdays = WeekdaysField(label=_("Weekdays"), help_text=_("Japanese public holidays are always off."))

    class Meta:
        model = BookingPage
        fields = [
            "slug",
            "is_active",
            "meeting_minutes",
            "day_start",
            "day_end",
            "weekdays",
            "notice_hours",
            "days_ahead",
        ]
        widgets = {
            "day_start": forms.TimeInput(attrs={"type": "time", "step": 1800}, format="%H:%M"),
            "day_end": forms.TimeInput(attrs={"type": "time", "step": 1800}, format="%H:%M"),
        }
        help_texts = {"slug": _("Your page is /book/<address>/, e.g. yamada.")}

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("day_start"), cleaned.get("day_end")
        if start and end and start >= end:
            self.add_error("day_end", _("The business hours must end after they start."))
        return cleaned


class TeamBookingPageForm(forms.ModelForm):
    class Meta:
        model = TeamBookingPage
        fields = ["slug", "is_active", "meeting_minutes"]
        help_texts = {"slug": _("The team's page is /book/team/<address>/.")}
