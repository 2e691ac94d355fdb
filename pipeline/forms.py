"""Forms for the pipeline pages. They validate input shape; the services own the business rules, and their
ValidationErrors are added back to the form so messages sit next to their fields."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.translation import gettext_lazy as _

from leads.custom_fields.forms import custom_fields_add
from leads.custom_fields.selectors import CustomFields, custom_fields
from leads.models import CustomObject, Lead
from pipeline.models import Activity, Deal, Stage
from pipeline.selectors import SCOPE_ALL, SCOPE_MARKETING, SCOPE_MINE, SCOPE_TEAM, BoardFilters
from salesmarketing.dates import DateField, DateTimeField
from salesmarketing.fields import GroupedNumberInput, YenField
from salesmarketing.forms import QuickSelect
from salesmarketing.models import User

SCOPE_LABELS = {
    SCOPE_MINE: _("Mine"),
    SCOPE_TEAM: _("My team"),
    SCOPE_ALL: _("All"),
    SCOPE_MARKETING: _("Marketing-sourced"),
}


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


class BoardFilterForm(forms.Form):
    scope = forms.ChoiceField(label=_("Show"), required=False, widget=forms.RadioSelect)
    # A manager of many reps (500 in the peers' data) gets an option each: QuickSelect writes them in Python, where
    # the stock widget's template per option was 40 % of the board's time.
    owner = forms.TypedChoiceField(
        label=_("Owner"), required=False, coerce=int, empty_value=None, widget=QuickSelect
    )
    close_from = DateField(label=_("Closing from"), required=False, widget=DateInput())
    close_to = DateField(label=_("Closing until"), required=False, widget=DateInput())
    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": _("Deal or company")}),
    )
    # Any id is accepted here; the board falls back to the default pipeline for an unknown one.
    pipeline = forms.IntegerField(label=_("Pipeline"), required=False, widget=QuickSelect)

    def __init__(self, *args, scopes: list[str], owners: list, pipelines: list | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["scope"].choices = [(s, SCOPE_LABELS[s]) for s in scopes]
        self.fields["owner"].choices = [("", _("Everyone"))] + [(u.pk, str(u)) for u in owners]
        self.show_scope = len(scopes) > 1
        self.show_owner = bool(owners)
        self.set_pipelines(pipelines or [])

    def set_pipelines(self, pipelines: list) -> None:
        self.fields["pipeline"].widget.choices = [(p.pk, p.name) for p in pipelines]
        self.show_pipeline = len(pipelines) > 1

    def filters(self) -> BoardFilters:
        """The filters to apply; invalid values are ignored rather than breaking the board."""
        self.is_valid()  # cleaned_data keeps the valid fields only
        data = self.cleaned_data
        return BoardFilters(
            scope=data.get("scope") or "",
            owner_id=data.get("owner"),
            close_from=data.get("close_from"),
            close_to=data.get("close_to"),
            q=(data.get("q") or "").strip(),
            pipeline_id=data.get("pipeline"),
        )


def _version_field() -> forms.IntegerField:
    """The deal's version when the user loaded it: a change made since then is refused (409), not overwritten."""
    return forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)


class MoveForm(forms.Form):
    # A choice among the stages the view read already (no query to check it): cleaned to the Stage itself.
    stage = forms.TypedChoiceField(label=_("Move to"), coerce=int)
    before = forms.IntegerField(required=False, widget=forms.HiddenInput)
    version = _version_field()

    def __init__(self, *args, stages: list[Stage], **kwargs):
        super().__init__(*args, **kwargs)
        self.stages = {s.pk: s for s in stages}
        self.fields["stage"].choices = [(s.pk, s.name) for s in stages]

    def clean_stage(self) -> Stage:
        return self.stages[self.cleaned_data["stage"]]


class CloseWonForm(forms.Form):
    version = _version_field()
    amount = YenField(
        label=_("Final amount (JPY)"),
        min_value=0,
        widget=GroupedNumberInput(attrs={"inputmode": "numeric", "autofocus": True}),
    )


class CloseLostForm(forms.Form):
    version = _version_field()
    cause = forms.ChoiceField(
        label=_("Why was it lost?"), choices=[("", "---------"), *Deal.LossCause.choices]
    )
    side = forms.ChoiceField(
        label=_("Whose side was it on?"),
        choices=[("", "---------"), *Deal.LossSide.choices],
        help_text=_("For the lost-deal review: marketing (wrong target), sales, product or external."),
    )
    note = forms.CharField(
        label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 3}), max_length=2000
    )


class DealEditForm(forms.ModelForm):
    version = forms.IntegerField(widget=forms.HiddenInput)

    class Meta:
        model = Deal
        fields = [
            "name",
            "amount",
            "probability",
            "expected_close_date",
            "next_step",
            "next_step_date",
            "source",
            "owner",
        ]
        field_classes = {"expected_close_date": DateField, "next_step_date": DateField}
        widgets = {
            "expected_close_date": DateInput(),
            "next_step_date": DateInput(),
            "amount": forms.NumberInput(attrs={"inputmode": "numeric", "step": "1", "min": "0"}),
            "probability": forms.NumberInput(attrs={"min": "0", "max": "100"}),
        }

    def __init__(self, *args, owners: list, custom: CustomFields, amount_derived: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["version"].initial = self.instance.version
        if amount_derived:  # worked out by a higher app (line items): shown, not typed; a change is refused
            self.fields["amount"].widget.attrs["readonly"] = True
            self.fields["amount"].help_text = amount_derived
        if self.instance.handoff_id is not None:
            self.fields["source"].help_text = _("Created from a marketing handoff: the source is fixed.")
        # Model validators run in full_clean, which this form leaves to the service; check the bounds here too.
        self.fields["amount"].validators.append(MinValueValidator(0))
        self.fields["probability"].validators.append(MaxValueValidator(100))
        if owners:
            # A choice among the people the view read already (and the current owner): no query to list or check.
            people = {u.pk: u for u in owners}
            if self.instance.owner_id is not None and self.instance.owner_id not in people:
                people[self.instance.owner_id] = self.instance.owner
            self.owners = people
            field = self.fields["owner"]
            self.fields["owner"] = forms.TypedChoiceField(
                label=field.label,
                coerce=int,
                choices=[(pk, str(u)) for pk, u in people.items()],
                required=field.required,
            )
        else:  # a rep cannot hand the deal to someone else
            del self.fields["owner"]
        # The admin's custom fields of deals shown in forms (`custom.<key>`), after the built-in ones: their
        # definitions as the view read them once for the page (which shows the values too).
        custom_fields_add(self, custom.form, self.instance.custom)

    def clean_owner(self):
        return self.owners[self.cleaned_data["owner"]]

    def _post_clean(self):
        # The service validates and saves; skip ModelForm's instance validation (it would also run the
        # database constraints against a half-updated instance).
        pass


class DealCreateForm(forms.Form):
    name = forms.CharField(label=_("Deal name"), max_length=200)
    company_name = forms.CharField(label=_("Company"), max_length=200)
    contact_email = forms.EmailField(
        label=_("Contact (lead email)"),
        required=False,
        help_text=_("Optional: the email of a lead already in the system."),
    )
    stage = forms.ModelChoiceField(label=_("Stage"), queryset=Stage.objects.none())
    amount = YenField(label=_("Amount (JPY)"), min_value=0)
    probability = forms.IntegerField(
        label=_("Probability (%)"),
        min_value=0,
        max_value=100,
        required=False,
        help_text=_("Empty: the stage's default."),
    )
    expected_close_date = DateField(label=_("Expected close date"), widget=DateInput())
    source = forms.ChoiceField(label=_("Source"), choices=Deal.Source.choices, initial=Deal.Source.SALES)
    owner = forms.ModelChoiceField(label=_("Owner"), queryset=None, required=False)
    next_step = forms.CharField(label=_("Next step"), max_length=200, required=False)
    next_step_date = DateField(label=_("Next step date"), required=False, widget=DateInput())

    def __init__(self, *args, stages: list[Stage], owners: list, viewer, **kwargs):
        super().__init__(*args, **kwargs)
        self.viewer = viewer
        self.fields["stage"].queryset = Stage.objects.filter(pk__in=[s.pk for s in stages if not s.is_closed])
        self.fields["stage"].label_from_instance = lambda s: s.name
        if stages:
            self.fields["stage"].initial = next((s.pk for s in stages if not s.is_closed), None)
        if owners:
            self.fields["owner"].queryset = User.objects.filter(pk__in=[u.pk for u in owners])
            self.fields["owner"].help_text = _("Empty: you.")
        else:
            del self.fields["owner"]
        custom_fields_add(self, custom_fields(object_type=CustomObject.DEAL).form, {})

    def clean_contact_email(self):
        email = self.cleaned_data.get("contact_email")
        if not email:
            return None
        # Another team's lead answers as no lead at all: the form tells nobody which emails are taken.
        lead = Lead.objects.contactable_by(self.viewer).filter(email__iexact=email.strip()).first()
        if lead is None:
            raise ValidationError(_("No lead has this email."))
        return lead


class ActivityForm(forms.ModelForm):
    class Meta:
        model = Activity
        fields = ["type", "subject", "occurred_at", "body", "outcome", "is_voice", "voice_text"]
        field_classes = {"occurred_at": DateTimeField}
        widgets = {
            "occurred_at": DateTimeInput(),
            "body": forms.Textarea(attrs={"rows": 3}),
            "voice_text": forms.Textarea(
                attrs={"rows": 2, "placeholder": _("e.g. 「部下の残業が多くて困っている」")}
            ),
        }
        help_texts = {
            "is_voice": _(
                "A question or remark worth sharing with marketing; the weekly review collects them."
            ),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["type"].initial = Activity.Type.CALL
        self.fields["occurred_at"].required = False
        self.fields["occurred_at"].help_text = _("Empty: now.")

    def _post_clean(self):
        pass  # the service validates and saves


class TaskForm(forms.Form):
    title = forms.CharField(label=_("To-do"), max_length=200)
    due_date = DateField(label=_("Due date"), widget=DateInput())
