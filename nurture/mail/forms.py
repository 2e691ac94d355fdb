"""Forms of the email pages. Template syntax errors are put on their field with the line (nurture.mail.rendering)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from leads.models import Campaign
from nurture.mail import rendering
from nurture.models import Broadcast, EmailTemplate, Segment, SenderProfile

LANGUAGES = [("ja", gettext_lazy("Japanese")), ("en", gettext_lazy("English"))]


class SenderProfileForm(forms.ModelForm):
    class Meta:
        model = SenderProfile
        fields = ["sender_name", "from_email", "postal_address", "complaints_contact"]
        widgets = {"postal_address": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = True  # the law asks for every one of them


class EmailTemplateForm(forms.ModelForm):
    class Meta:
        model = EmailTemplate
        fields = ["name", "subject_ja", "html_ja", "text_ja", "subject_en", "html_en", "text_en"]
        widgets = {
            name: forms.Textarea(attrs={"rows": 10, "spellcheck": "false", "class": "code"})
            for name in ("html_ja", "text_ja", "html_en", "text_en")
        }

    def clean(self) -> dict:
        data = super().clean()
        for name in ("subject_ja", "html_ja", "text_ja", "subject_en", "html_en", "text_en"):
            error = rendering.check_syntax(
                data.get(name) or "", html_part=name.startswith("html"), field=name
            )
            if error:
                self.add_error(
                    name, _("Line %(line)s: %(message)s") % {"line": error.line, "message": error.message}
                )
        return data


class PreviewForm(forms.Form):
    lead = forms.IntegerField(label=gettext_lazy("Lead ID"), required=False, min_value=1)
    language = forms.ChoiceField(label=gettext_lazy("Language"), choices=LANGUAGES, required=False)


class BroadcastForm(forms.ModelForm):
    scheduled_at = forms.DateTimeField(
        label=gettext_lazy("Send at"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        help_text=gettext_lazy("Empty: as soon as you schedule it."),
    )

    class Meta:
        model = Broadcast
        fields = [
            "name",
            "template",
            "segment",
            "campaign",
            "language",
            "scheduled_at",
            "throttle_per_minute",
        ]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["template"].queryset = EmailTemplate.objects.order_by("name", "id")
        self.fields["segment"].queryset = Segment.objects.order_by("name", "id")
        self.fields["campaign"].queryset = Campaign.objects.order_by("name", "id")
        self.fields["throttle_per_minute"].required = False
