from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from leads.bulk_actions import selectors
from leads.choices import ConsentMethod, LifecycleStage
from leads.models import BulkAction, SavedView
from salesmarketing.models import User


class SavedViewForm(forms.Form):
    name = forms.CharField(label=_("View name"), max_length=100)
    sharing = forms.ChoiceField(
        label=_("Shared with"), choices=SavedView.Sharing.choices, initial="private", required=False
    )

    def clean_sharing(self) -> str:
        return self.cleaned_data.get("sharing") or SavedView.Sharing.PRIVATE


class BulkJobForm(forms.Form):
    """What to do with the selected leads. Only the fields of the chosen action count (the service checks them)."""

    action = forms.ChoiceField(label=_("Action"))
    owner = forms.ChoiceField(label=_("New owner"), required=False)
    stage = forms.ChoiceField(
        label=_("Lifecycle stage"), required=False, choices=[("", "—"), *LifecycleStage.choices]
    )
    grant = forms.ChoiceField(
        label=_("Consent to email"),
        required=False,
        choices=[("1", _("Grant (with proof)")), ("0", _("Withdraw"))],
        initial="1",
    )
    method = forms.ChoiceField(
        label=_("Consent obtained by"), required=False, choices=[("", "—"), *ConsentMethod.choices]
    )
    wording = forms.CharField(
        label=_("Consent wording"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("The wording the people agreed to (the proof the email law asks to keep)."),
    )
    reason = forms.CharField(label=_("Reason"), required=False, max_length=300)
    confirm_erase = forms.BooleanField(
        label=_("I understand that erased leads cannot be restored."), required=False
    )

    def __init__(self, *args: Any, viewer: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = selectors.actions_for(viewer=viewer)
        owners = selectors.assignable_owners(viewer=viewer) or []
        self.fields["owner"].choices = [("", _("Nobody (unassigned)")), *[(u.pk, str(u)) for u in owners]]
        self.extra_keys = []
        for extra in selectors.extra_actions_for(viewer=viewer):
            self.extra_keys.append(extra.key)
            self.fields[f"target_{extra.key}"] = forms.ChoiceField(
                label=extra.target_label, required=False, choices=[("", "—"), *extra.targets()]
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("action") == BulkAction.ERASE and not data.get("confirm_erase"):
            self.add_error("confirm_erase", _("Tick this to erase the leads."))
        return data

    def params(self) -> dict[str, Any]:
        data = self.cleaned_data
        action = data["action"]
        return {
            "owner": data.get("owner") or None,
            "stage": data.get("stage") or "",
            "grant": data.get("grant") == "1",
            "method": data.get("method") or "",
            "wording": data.get("wording") or "",
            "reason": data.get("reason") or "",
            "target": data.get(f"target_{action}") or "",
        }
