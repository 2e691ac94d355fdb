"""Email providers' webhooks (django-anymail): delivery reports (bounces, complaints) and inbound mail.

Mounted at /email/esp/<provider>/tracking/ and /email/esp/<provider>/inbound/ (anymail's own paths). They answer
only when ANYMAIL_WEBHOOK_SECRET is set — anymail then checks the provider's HTTP basic auth, and each provider's
signature where it has one — and 404 otherwise, so an unconfigured install exposes nothing. What a report means is
nurture's (`nurture.mail.bounces.esp_tracking`, connected to anymail's `tracking` signal); inbound mail is stored
like mail received over SMTP (`esp_inbound`, connected to its `inbound` signal)."""

from __future__ import annotations

from anymail import urls as anymail_urls
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import Http404
from django.urls import URLPattern

from salesmarketing.inbound import inbound_email_store


def _configured(view):
    @login_not_required
    def webhook(request, *args, **kwargs):
        if not settings.ANYMAIL.get("WEBHOOK_SECRET"):
            raise Http404
        return view(request, *args, **kwargs)

    webhook.csrf_exempt = True  # type: ignore[attr-defined]  # the provider signs or authenticates instead
    return webhook


def webhook_urls() -> list[URLPattern]:
    return [
        URLPattern(p.pattern, _configured(p.callback), default_args=p.default_args, name=p.name)
        for p in anymail_urls.urlpatterns
        if isinstance(p, URLPattern)
    ]


def esp_inbound(sender, event, esp_name: str, **kwargs) -> None:
    """anymail's `inbound` signal: the provider received a message for us; kept like one received over SMTP."""
    message = event.message
    inbound_email_store(
        raw=message.as_bytes(),
        source=f"esp:{esp_name}".lower(),
        mail_from=str(message.envelope_sender or ""),
        recipients=[str(message.envelope_recipient or "")] if message.envelope_recipient else [],
    )
