"""The handoff list's forms: rejecting (with a reason) and assigning a rep."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from leads.models import Handoff
from salesmarketing import dates
from salesmarketing.models import User


class RejectForm(forms.Form):
    reason = forms.ChoiceField(label=gettext_lazy("Reason"), choices=Handoff.RejectReason.choices)
    note = forms.CharField(
        label=gettext_lazy("Note"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def clean(self):
        data = super().clean()
        if data.get("reason") == Handoff.RejectReason.OTHER and not data.get("note", "").strip():
            self.add_error("note", _("Say what was wrong when the reason is “Other”."))
        return data


class AssignForm(forms.Form):
    rep = forms.TypedChoiceField(label=gettext_lazy("Rep"), coerce=int)

    def __init__(self, *args, reps: list[User], **kwargs):
        super().__init__(*args, **kwargs)
        self.reps = {rep.pk: rep for rep in reps}
        self.fields["rep"].choices = [("", "—")] + [(rep.pk, f"{rep} ({rep.team})") for rep in reps]


class RepAvailabilityForm(forms.Form):
    away_until = dates.DateField(
        label=gettext_lazy("Away until"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=gettext_lazy("No new handoffs up to and including this day; empty when the rep is in."),
    )
    handoff_capacity = forms.IntegerField(label=gettext_lazy("Open handoff capacity"), min_value=0)
