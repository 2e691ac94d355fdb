"""Custom fields in forms: the settings page's definition form, the fields a record form gains (one per
definition shown in forms, named `custom.<key>`), and the lead and company lists' filter fields."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from leads.custom_fields.selectors import CustomFields, CustomFilter, custom_fields
from leads.custom_fields.services import MAX_TEXT, field_name
from leads.models import CustomFieldType, CustomObject, FieldDefinition
from leads.models.custom_fields import PLACES
from salesmarketing.dates import DateField

YES_NO = [("", "—"), ("true", _("Yes")), ("false", _("No"))]


def _yes_no(value: str) -> bool:
    return value == "true"


def custom_form_field(definition: FieldDefinition) -> forms.Field:
    """The form field of one definition (required as the definition says)."""
    common: dict[str, Any] = {"label": definition.label, "required": definition.required}
    kind = definition.field_type
    if kind == CustomFieldType.NUMBER:
        return forms.DecimalField(
            max_digits=21, decimal_places=6, widget=forms.NumberInput(attrs={"step": "any"}), **common
        )
    if kind == CustomFieldType.DATE:
        return DateField(widget=forms.DateInput(attrs={"type": "date"}), **common)
    if kind == CustomFieldType.CHOICE:
        return forms.ChoiceField(choices=[("", "—"), *((o, o) for o in definition.options)], **common)
    if kind == CustomFieldType.MULTI_CHOICE:
        return forms.MultipleChoiceField(
            choices=[(o, o) for o in definition.options], widget=forms.CheckboxSelectMultiple, **common
        )
    if kind == CustomFieldType.BOOLEAN:
        return forms.TypedChoiceField(choices=YES_NO, coerce=_yes_no, empty_value=None, **common)
    return forms.CharField(max_length=MAX_TEXT, **common)


def _initial(definition: FieldDefinition, value: Any) -> Any:
    if value is None:
        return None
    if definition.field_type == CustomFieldType.BOOLEAN:
        return "true" if value else "false"
    if definition.field_type == CustomFieldType.DATE and isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return value


def custom_fields_add(
    form: forms.Form, definitions: list[FieldDefinition], current: Mapping[str, Any]
) -> None:
    """Give `form` a field per definition, filled with the record's current values."""
    form.custom_definitions = definitions  # type: ignore[attr-defined]
    for definition in definitions:
        field = custom_form_field(definition)
        field.initial = _initial(definition, (current or {}).get(definition.key))
        form.fields[field_name(definition.key)] = field


def custom_fields_bound(form: forms.Form) -> list[forms.BoundField]:
    return [form[field_name(d.key)] for d in getattr(form, "custom_definitions", [])]


def custom_values_from(form: forms.Form) -> dict[str, Any]:
    """key → the cleaned value of each custom field of a valid form (for services' `custom_values_clean`)."""
    return {d.key: form.cleaned_data.get(field_name(d.key)) for d in getattr(form, "custom_definitions", [])}


def custom_cleaned_pop(cleaned: dict[str, Any]) -> None:
    """Take the custom fields out of a form's cleaned data (the model fields go to the service as they are)."""
    for name in [name for name in cleaned if name.startswith("custom.")]:
        del cleaned[name]


# --- The lists' filters ----------------------------------------------------------------------------------


class CustomFilterForm(forms.Form):
    """A list's filter form with a field per custom field of `custom_object` flagged "filter", named
    `custom.<key>` (and `custom.<key>.min`/`.max` for numbers and dates)."""

    custom_object: str = CustomObject.LEAD

    def __init__(self, *args, custom: CustomFields | None = None, **kwargs):
        """`custom`: the record type's custom fields, when the caller read them already (the list shows some as
        columns); else read here (one query)."""
        super().__init__(*args, **kwargs)
        self.custom = custom if custom is not None else custom_fields(object_type=self.custom_object)
        filter_fields_add(self, self.custom.filter)
        for name, field in self.fields.items():
            if name.startswith("custom."):
                field.widget.attrs["class"] = "custom-filter"

    @property
    def custom_filter_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name.startswith("custom.")]


def filter_fields_add(form: forms.Form, definitions: list[FieldDefinition]) -> None:
    """Give the list's filter form a field per filterable definition (a range for numbers and dates)."""
    form.custom_filter_definitions = definitions  # type: ignore[attr-defined]
    for definition in definitions:
        name, label = field_name(definition.key), definition.label
        kind = definition.field_type
        if kind in (CustomFieldType.NUMBER, CustomFieldType.DATE):
            for end, end_label in (("min", _("%(label)s from")), ("max", _("%(label)s to"))):
                field: forms.Field
                if kind == CustomFieldType.NUMBER:
                    field = forms.DecimalField(max_digits=21, decimal_places=6, required=False)
                else:
                    field = DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
                field.label = end_label % {"label": label}
                form.fields[f"{name}.{end}"] = field
        elif kind in (CustomFieldType.CHOICE, CustomFieldType.MULTI_CHOICE):
            form.fields[name] = forms.ChoiceField(
                label=label, required=False, choices=[("", _("All")), *((o, o) for o in definition.options)]
            )
        elif kind == CustomFieldType.BOOLEAN:
            form.fields[name] = forms.ChoiceField(
                label=label, required=False, choices=[("", _("All")), ("true", _("Yes")), ("false", _("No"))]
            )
        else:
            form.fields[name] = forms.CharField(
                label=label, required=False, max_length=200, help_text=_("The whole value")
            )


def _number(value: Any) -> Any:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def filters_from(form: forms.Form) -> list[CustomFilter]:
    """The custom filters a (validated) list form holds; an invalid one is left out, as the list's others are."""
    data = getattr(form, "cleaned_data", {})
    found = []
    for definition in getattr(form, "custom_filter_definitions", []):
        name, kind = field_name(definition.key), definition.field_type
        if kind in (CustomFieldType.NUMBER, CustomFieldType.DATE):
            low, high = data.get(f"{name}.min"), data.get(f"{name}.max")
            if kind == CustomFieldType.NUMBER:
                low, high = _number(low), _number(high)
            else:
                low, high = (d.isoformat() if d else None for d in (low, high))
            if low is not None or high is not None:
                found.append(CustomFilter(key=definition.key, low=low, high=high))
            continue
        value = data.get(name)
        if not value:
            continue
        if kind == CustomFieldType.MULTI_CHOICE:
            found.append(CustomFilter(key=definition.key, value=[value]))
        elif kind == CustomFieldType.BOOLEAN:
            found.append(CustomFilter(key=definition.key, value=value == "true"))
        else:
            found.append(CustomFilter(key=definition.key, value=value.strip()))
    return found


# --- The settings page ---------------------------------------------------------------------------------


class FieldDefinitionForm(forms.ModelForm):
    options_text = forms.CharField(
        label=_("Options"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("For choice and multiple choice: one option a line."),
    )

    class Meta:
        model = FieldDefinition
        fields = [
            "object_type",
            "key",
            "label_ja",
            "label_en",
            "field_type",
            "required",
            *(name for name, _label in PLACES),
            "position",
        ]

    def __init__(self, *args, key_fixed: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["object_type"].choices = CustomObject.choices
        self.fields["label_en"].required = False
        self.fields["options_text"].initial = "\n".join(self.instance.options or [])
        if self.instance.pk:
            # The record type never changes; key and type are fixed once values exist (the service says so).
            self.fields["object_type"].disabled = True
            if key_fixed:
                self.fields["key"].disabled = True
                self.fields["field_type"].disabled = True
                self.fields["key"].help_text = _(
                    "Records hold values of this field: its key and type are fixed."
                )

    @property
    def place_fields(self) -> list[forms.BoundField]:
        return [self[name] for name, _label in PLACES]

    def definition_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["options"] = data.pop("options_text", "")
        return data

    def _post_clean(self) -> None:
        pass  # the services check the key, the options and uniqueness, and report by field
