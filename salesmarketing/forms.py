"""Form helpers shared by every app's views."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe


class QuickSelect(forms.Select):
    """A <select> whose options are written in Python. The stock widget renders one template per option (with
    its attributes' template), which for a few hundred options (the lead list's campaigns) costs more than the
    rest of the page. The same markup; grouped choices fall back to the stock rendering."""

    def render(self, name, value, attrs=None, renderer=None):
        values = set(self.format_value(value))
        options, found = [], False
        # Not list(self.choices): a model choice field's iterator would count its rows first (a query).
        for option_value, label in self.choices:
            if isinstance(label, (list, tuple)):
                return super().render(name, value, attrs, renderer)
            text = "" if option_value is None else str(option_value)
            selected = not found and text in values  # a single select marks its first match only
            found = found or selected
            options.append((text, mark_safe(" selected") if selected else "", label))
        return format_html(
            '<select name="{}"{}>{}</select>',
            name,
            flatatt(self.build_attrs(self.attrs, attrs)),
            format_html_join("", '<option value="{}"{}>{}</option>', options),
        )


def add_service_errors(form: forms.Form, error: ValidationError) -> None:
    """Put a service's ValidationError on the form: on the field it names when the form has it, else on top.

    A service raises either a dict keyed by field or plain messages (no field); both end up on the form, so the
    page shows every message and never fails on the plain kind.
    """
    if hasattr(error, "error_dict"):
        for field_name, errors in error.error_dict.items():
            form.add_error(field_name if field_name in form.fields else None, errors)
    else:
        form.add_error(None, error)
