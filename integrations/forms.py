from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from integrations.models import ImapMailbox, TeamChannel
from salesmarketing import events


class SubscriptionForm(forms.Form):
    name = forms.CharField(
        label=_("Name"), max_length=100, help_text=_("What receives the events, e.g. “CRM sync”.")
    )
    url = forms.URLField(
        label=_("URL"),
        max_length=500,
        assume_scheme="https",
        help_text=_("An https URL on the public internet; events are POSTed to it as signed JSON."),
    )
    events = forms.MultipleChoiceField(
        label=_("Events"),
        choices=[(kind, events.KINDS[kind]) for kind in events.SUBSCRIBABLE],
        widget=forms.CheckboxSelectMultiple,
    )


class ChannelForm(forms.Form):
    provider = forms.ChoiceField(label=_("Service"), choices=TeamChannel.Provider.choices)
    url = forms.URLField(
        label=_("Incoming webhook URL"),
        max_length=500,
        required=False,
        assume_scheme="https",
        help_text=_("Slack, Microsoft Teams and LINE WORKS: the channel's incoming webhook URL."),
    )
    room_id = forms.CharField(
        label=_("Room id"), max_length=30, required=False, help_text=_("Chatwork only.")
    )
    token = forms.CharField(
        label=_("API token"),
        max_length=200,
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("Chatwork only. Leave empty to keep the saved token."),
    )
    language = forms.ChoiceField(label=_("Language of the messages"), choices=settings.LANGUAGES)
    events = forms.MultipleChoiceField(
        label=_("Post"),
        choices=[(kind, events.KINDS[kind]) for kind in TeamChannel.KINDS],
        widget=forms.CheckboxSelectMultiple,
        initial=list(TeamChannel.KINDS),
    )
    is_active = forms.BooleanField(label=_("Post to this channel"), required=False, initial=True)


class MailboxForm(forms.Form):
    host = forms.CharField(label=_("IMAP server"), max_length=255, help_text=_("e.g. imap.example.jp"))
    port = forms.IntegerField(label=_("Port"), min_value=1, max_value=65535, initial=993)
    security = forms.ChoiceField(
        label=_("Security"),
        choices=ImapMailbox.Security.choices,
        initial=ImapMailbox.Security.TLS,
        help_text=_("SSL/TLS is usually port 993, STARTTLS port 143."),
    )
    username = forms.CharField(label=_("User name"), max_length=254)
    password = forms.CharField(
        label=_("Password"),
        max_length=200,
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, has_password: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.has_password = has_password
        self.fields["password"].help_text = (
            _("Leave empty to keep the saved password. It is stored encrypted and never shown.")
            if has_password
            else _("Stored encrypted and never shown again. An app password, if your provider offers one.")
        )

    def clean_host(self) -> str:
        return self.cleaned_data["host"].strip().lower()

    def clean(self):
        data = super().clean()
        if not data.get("password") and not self.has_password:
            self.add_error("password", _("Enter the mailbox's password."))
        return data
