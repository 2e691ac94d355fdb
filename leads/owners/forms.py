from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from salesmarketing.models import User

NOBODY = "none"


class OwnerChangeForm(forms.Form):
    owner = forms.ChoiceField(label=_("New owner"))
    reason = forms.CharField(
        label=_("Reason"),
        max_length=300,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
        help_text=_("Logged with the change, e.g. “territory moved to the Osaka team”."),
    )

    def __init__(self, *args, people: list[User], allow_nobody: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.people = {str(person.pk): person for person in people}
        choices = [("", "—")] + [
            (pk, f"{p} ({p.team or p.get_role_display()})") for pk, p in self.people.items()
        ]
        if allow_nobody:
            choices.append((NOBODY, _("Nobody")))
        self.fields["owner"].choices = choices

    def chosen_owner(self) -> User | None:
        value = self.cleaned_data["owner"]
        return None if value == NOBODY else self.people[value]
