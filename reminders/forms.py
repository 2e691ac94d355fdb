from __future__ import annotations

import datetime as dt

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from salesmarketing import notifications


class NotificationSettingsForm(forms.Form):
    """A row per message kind offered (salesmarketing.notifications.preferable): in the app, by e-mail; and the
    daily digest (on/off, at what time)."""

    digest_enabled = forms.BooleanField(label=_("Send me a daily digest e-mail"), required=False)
    digest_at = forms.TimeField(
        label=_("at (Asia/Tokyo)"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )

    def __init__(self, *args, preferences: dict[str, tuple[bool, bool]], **kwargs):
        super().__init__(*args, **kwargs)
        self.messages = notifications.preferable()
        for message in self.messages:
            in_app, email = preferences.get(message.kind, (True, message.email))
            self.fields[f"in_app__{message.kind}"] = forms.BooleanField(required=False, initial=in_app)
            self.fields[f"email__{message.kind}"] = forms.BooleanField(required=False, initial=email)

    def groups(self) -> list[tuple[str, list[tuple[str, forms.BoundField, forms.BoundField]]]]:
        """(group, [(label, in-app checkbox, e-mail checkbox)]) in the active language."""
        grouped: dict[str, list] = {}
        for m in self.messages:
            grouped.setdefault(gettext(m.group) if m.group else "", []).append(
                (gettext(m.label), self[f"in_app__{m.kind}"], self[f"email__{m.kind}"])
            )
        return list(grouped.items())

    def choices(self) -> dict[str, tuple[bool, bool]]:
        return {
            m.kind: (self.cleaned_data[f"in_app__{m.kind}"], self.cleaned_data[f"email__{m.kind}"])
            for m in self.messages
        }

    @property
    def digest_time(self) -> dt.time:
        return self.cleaned_data["digest_at"]
