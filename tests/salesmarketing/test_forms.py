"""add_service_errors: a service's ValidationError lands on the form, whatever its shape."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from salesmarketing.forms import add_service_errors


class _TitleForm(forms.Form):
    title = forms.CharField()


def _bound() -> _TitleForm:
    form = _TitleForm({"title": "x"})
    assert form.is_valid()
    return form


def test_errors_keyed_by_a_field_of_the_form_go_next_to_it():
    form = _bound()
    add_service_errors(form, ValidationError({"title": "Too short.", "week": "Not a week."}))
    assert form.errors["title"] == ["Too short."]
    assert form.non_field_errors() == ["Not a week."]  # the form has no such field: shown on top


def test_an_error_without_a_field_goes_on_top():
    """kpis' action item view read `exc.message_dict`, which raises AttributeError for such an error (a 500)."""
    form = _bound()
    add_service_errors(form, ValidationError("The handoff has no rep to own the deal."))
    add_service_errors(form, ValidationError(["One.", "Two."]))
    assert form.non_field_errors() == ["The handoff has no rep to own the deal.", "One.", "Two."]
    assert "title" not in form.errors
