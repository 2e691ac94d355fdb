from __future__ import annotations

import re

from django import forms
from django.utils.translation import gettext_lazy as _

from campaigns.models import AttributionModel, Dimension, PersonaRule
from campaigns.periods import PRESETS, Period, period_resolve
from leads.models import Campaign, Persona
from salesmarketing.dates import DateField, InvalidDateInput
from salesmarketing.models import User

UTM_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]*$")

SORTS = [
    ("-start", _("Newest first")),
    ("name", _("Name")),
    ("-spend", _("Spend")),
    ("-leads", _("Leads")),
    ("-mqls", _("MQLs")),
    ("-deals", _("Deals")),
    ("-revenue", _("Won revenue")),
    ("cpl", _("CPL (lowest first)")),
    ("cost_per_mql", _("Cost per MQL")),
    ("cost_per_deal", _("Cost per deal")),
    ("-roi", _("ROI")),
    ("-acceptance", _("Acceptance rate")),
]
SORT_KEYS = {
    "start",
    "name",
    "spend",
    "leads",
    "mqls",
    "deals",
    "revenue",
    "cpl",
    "cost_per_mql",
    "cost_per_deal",
    "roi",
    "acceptance",
}


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")


class PeriodForm(forms.Form):
    """The period and attribution model a report shows. An unknown preset or model falls back to the default;
    a start or end date that cannot be read or is out of range raises InvalidDateInput (a 400 page saying so),
    rather than showing another period than the one asked for."""

    period = forms.ChoiceField(label=_("Period"), choices=PRESETS, required=False)
    start = DateField(label=_("From"), required=False, widget=DateInput)
    end = DateField(label=_("To"), required=False, widget=DateInput)
    model = forms.ChoiceField(label=_("Attribution"), choices=AttributionModel.choices, required=False)

    def _data(self) -> dict:
        self.is_valid()
        return getattr(self, "cleaned_data", {})

    def get_period(self) -> Period:
        data = self._data()
        for name in ("start", "end"):
            if name in self.errors:
                raise InvalidDateInput(f"{self[name].label}: {' '.join(self.errors[name])}")
        return period_resolve(data.get("period"), data.get("start"), data.get("end"))

    def get_model(self) -> str:
        return self._data().get("model") or AttributionModel.W_SHAPED


class CampaignFilterForm(PeriodForm):
    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    channel = forms.ChoiceField(
        label=_("Channel"), required=False, choices=[("", _("All"))] + Campaign.Channel.choices
    )
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("All"))] + Campaign.Status.choices
    )
    sort = forms.CharField(required=False, max_length=20)

    def get_sort(self) -> str:
        sort = self._data().get("sort") or "-start"
        return sort if sort.lstrip("-") in SORT_KEYS else "-start"


class DashboardForm(PeriodForm):
    dimension = forms.ChoiceField(label=_("Split by"), choices=Dimension.choices, required=False)
    channel = forms.ChoiceField(
        label=_("Channel"), required=False, choices=[("", _("All"))] + Campaign.Channel.choices
    )

    def get_dimension(self) -> str:
        return self._data().get("dimension") or Dimension.PERSONA


class CampaignForm(forms.ModelForm):
    class Meta:
        model = Campaign
        fields = [
            "name",
            "channel",
            "objective",
            "status",
            "personas",
            "awareness_stage",
            "start_date",
            "end_date",
            "budget",
            "utm_campaign",
            "utm_source",
            "utm_medium",
            "owner",
            "description",
        ]
        field_classes = {"start_date": DateField, "end_date": DateField}
        widgets = {
            "personas": forms.CheckboxSelectMultiple,
            "start_date": DateInput,
            "end_date": DateInput,
            "description": forms.Textarea(attrs={"rows": 3}),
        }
        help_texts = {
            "utm_campaign": _(
                "Letters, digits, “-”, “_” and “.”. Events and links tagged utm_campaign=<this code> count for "
                "this campaign."
            ),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = User.objects.filter(
            is_active=True, role__in=[User.Role.MARKETING, User.Role.MANAGER, User.Role.ADMIN]
        ).order_by("display_name", "username")
        self.fields["budget"].widget.attrs.update({"min": 0, "step": 1000})

    def clean_utm_campaign(self) -> str:
        code = (self.cleaned_data.get("utm_campaign") or "").strip()
        if code and not UTM_CODE.match(code):
            raise forms.ValidationError(_("Use letters, digits, “-”, “_” and “.” only (no spaces)."))
        return code


class CostForm(forms.Form):
    date = DateField(label=_("Date"), widget=DateInput)
    amount = forms.DecimalField(label=_("Amount (JPY)"), min_value=0, max_digits=14, decimal_places=0)
    description = forms.CharField(label=_("Description"), max_length=200, required=False)


class CostImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_("Columns: date, campaign (UTM code or name), amount; optional: row id, description."),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > 10 * 1024 * 1024:
            raise forms.ValidationError(_("The file is larger than 10 MB."))
        return upload


class PersonaForm(forms.ModelForm):
    class Meta:
        model = Persona
        fields = [
            "name",
            "role_title",
            "industry",
            "company_size",
            "age_range",
            "awareness_stage",
            "pains",
            "goals",
            "information_sources",
            "notes",
        ]
        widgets = {
            f: forms.Textarea(attrs={"rows": 3}) for f in ("pains", "goals", "information_sources", "notes")
        }


class PersonaRuleForm(forms.ModelForm):
    class Meta:
        model = PersonaRule
        fields = [
            "title_contains",
            "department_contains",
            "industry",
            "employees_min",
            "employees_max",
            "region",
            "priority",
            "is_active",
        ]

    def clean(self):
        data = super().clean()
        if not any(
            data.get(f) not in (None, "")
            for f in (
                "title_contains",
                "department_contains",
                "industry",
                "employees_min",
                "employees_max",
                "region",
            )
        ):
            raise forms.ValidationError(_("Fill in at least one condition."))
        low, high = data.get("employees_min"), data.get("employees_max")
        if low is not None and high is not None and high < low:
            self.add_error("employees_max", _("Must be at least the lower bound."))
        return data


class LeadPersonaForm(forms.Form):
    email = forms.EmailField(label=_("Lead's email"))
