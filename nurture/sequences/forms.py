"""Forms of the sequence pages."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy

from leads.models import Campaign
from nurture.models import EmailTemplate, Segment, Sequence, SequenceStep


class SequenceForm(forms.ModelForm):
    class Meta:
        model = Sequence
        fields = [
            "name",
            "language",
            "campaign",
            "trigger_segment",
            "on_reject_too_early",
            "on_reject_no_budget",
        ]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["campaign"].queryset = Campaign.objects.order_by("name", "id")
        self.fields["trigger_segment"].queryset = Segment.objects.order_by("name", "id")


class StepForm(forms.ModelForm):
    class Meta:
        model = SequenceStep
        fields = ["template", "wait_days", "send_hour"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["template"].queryset = EmailTemplate.objects.order_by("name", "id")


class EnrolLeadForm(forms.Form):
    lead = forms.IntegerField(label=gettext_lazy("Lead ID"), min_value=1)
