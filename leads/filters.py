from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from leads.choices import AwarenessStage, LifecycleStage
from leads.custom_fields.forms import CustomFilterForm, filters_from
from leads.models import Campaign
from leads.selectors import LeadFilters
from salesmarketing.forms import QuickSelect


class LeadFilterForm(CustomFilterForm):
    q = forms.CharField(label=_("Search"), required=False, max_length=200)
    lifecycle = forms.ChoiceField(
        label=_("Lifecycle stage"),
        required=False,
        choices=[("", _("All"))] + LifecycleStage.choices,
        widget=QuickSelect,
    )
    awareness = forms.ChoiceField(
        label=_("Awareness stage"),
        required=False,
        choices=[("", _("All"))] + AwarenessStage.choices,
        widget=QuickSelect,
    )
    owner = forms.CharField(label=_("Owner"), required=False, max_length=20)
    campaign = forms.ModelChoiceField(  # hundreds of campaigns: their names only, options written in Python
        label=_("Campaign"),
        required=False,
        queryset=Campaign.objects.only("name").order_by("name"),
        empty_label=_("All"),
        widget=QuickSelect,
    )
    score_min = forms.IntegerField(label=_("Score from"), required=False)
    score_max = forms.IntegerField(label=_("Score to"), required=False)
    sort = forms.ChoiceField(
        label=_("Sort"),
        required=False,
        choices=[
            ("score", _("Score (high first)")),
            ("created", _("Newest")),
            ("-created", _("Oldest")),
            ("last_touch", _("Last touch")),
            ("name", _("Name")),
        ],
        widget=QuickSelect,
    )

    def filters(self) -> LeadFilters:
        """The valid filters; an invalid field is ignored (and shown with its error) rather than failing the page."""
        self.is_valid()  # fills cleaned_data with the fields that are valid
        data = getattr(self, "cleaned_data", {})
        campaign = data.get("campaign")
        return LeadFilters(
            q=data.get("q") or "",
            lifecycle=data.get("lifecycle") or "",
            awareness=data.get("awareness") or "",
            owner=data.get("owner") or "",
            campaign=campaign.pk if campaign else None,
            score_min=data.get("score_min"),
            score_max=data.get("score_max"),
            sort=data.get("sort") or "score",
            custom=tuple(filters_from(self)),
        )
