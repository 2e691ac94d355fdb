from __future__ import annotations

import re

from django import forms
from django.utils.translation import gettext_lazy as _

from leads.models import ScoringConfig, ScoringGroup, ScoringRule


class ThresholdForm(forms.ModelForm):
    class Meta:
        model = ScoringConfig
        fields = ["fit_threshold", "total_threshold"]


class GroupCapForm(forms.ModelForm):
    class Meta:
        model = ScoringGroup
        fields = ["name", "cap"]


ENGAGEMENT_FIELDS = ("touch_type", "url_contains", "property_key", "property_value", "half_life_days")
FIT_FIELDS = ("field", "operator", "value", "number")
OTHER_AXIS_FIELDS = {"fit": ENGAGEMENT_FIELDS, "engagement": FIT_FIELDS}


class RuleForm(forms.ModelForm):
    """One form for both axes; `kind` decides which fields must be filled."""

    class Meta:
        model = ScoringRule
        fields = [
            "kind", "name", "name_en", "group", "points", "is_active",
            "touch_type", "url_contains", "property_key", "property_value", "half_life_days",
            "field", "operator", "value", "number",
        ]  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        kind = self.data.get("kind") or self.initial.get("kind") or getattr(self.instance, "kind", "")
        if kind:
            self.fields["group"].queryset = ScoringGroup.objects.filter(kind=kind)
        if kind in OTHER_AXIS_FIELDS:
            # The axis is chosen before the form opens ("New fit rule", or the rule's own): show only its fields.
            for name in OTHER_AXIS_FIELDS[kind]:
                del self.fields[name]
            self.fields["kind"].widget = forms.HiddenInput()

    def clean_property_key(self):
        key = self.cleaned_data["property_key"].strip()
        if key and not re.fullmatch(r"[A-Za-z0-9_]{1,100}", key):
            raise forms.ValidationError(_("Use letters, digits and underscores only."))
        return key

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        group = data.get("group")
        if group is not None and group.kind != kind:
            self.add_error("group", _("This group belongs to the other axis."))
        if kind == "fit":
            if not data.get("field"):
                self.add_error("field", _("A fit rule needs a field."))
            if not data.get("operator"):
                self.add_error("operator", _("A fit rule needs an operator."))
            if data.get("operator") in ("gte", "lt") and data.get("number") is None:
                self.add_error("number", _("Give the number to compare with."))
            if data.get("operator") in ("contains", "equals", "in") and not data.get("value", "").strip():
                self.add_error("value", _("Give the value to match."))
            if data.get("field") == "employees" and data.get("operator") not in ("gte", "lt", None):
                self.add_error("operator", _("Compare employees with “is at least” or “is below”."))
        elif kind == "engagement" and not (
            data.get("touch_type") or data.get("url_contains") or data.get("property_key")
        ):
            self.add_error("touch_type", _("Say which touches match: a type, a URL or a property."))
        return data
