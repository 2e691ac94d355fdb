"""Only http(s) URLs on public addresses are called (SSRF), checked when saved and again at delivery time."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.translation import gettext

from integrations import http as outbound
from integrations.models import WebhookDelivery, WebhookSubscription
from integrations.services import delivery_attempt, events_fan_out, subscription_create
from salesmarketing import events
from salesmarketing.events import event_emit
from tests.integrations.receiver import start_receiver, stop_receiver


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",  # a host name that resolves to a loopback address
        "http://10.0.0.5/hook",
        "http://192.168.1.10/hook",
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata (link-local)
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
        "ftp://example.com/hook",
        "file:///etc/passwd",
        "https://user:pw@example.com/hook",
    ],
)
def test_private_loopback_link_local_and_other_schemes_are_refused(url, settings):
    settings.INTEGRATIONS_ALLOW_PRIVATE_TARGETS = False
    with pytest.raises(outbound.UnsafeUrl):
        outbound.url_check(url)


def test_a_public_address_passes():
    assert outbound.url_check("https://93.184.215.14/hook") == ["93.184.215.14"]


@pytest.mark.django_db
def test_a_loopback_subscription_is_refused_without_the_setting(settings):
    settings.INTEGRATIONS_ALLOW_PRIVATE_TARGETS = False
    with pytest.raises(ValidationError) as caught:
        subscription_create(name="x", url="http://localhost:9/hook", kinds=[events.DEAL_WON], by=None)
    assert "url" in caught.value.message_dict
    assert not WebhookSubscription.objects.exists()


@pytest.mark.django_db
def test_the_address_is_checked_again_at_delivery_time(settings):
    """Allowed when saved (say, the setting was on), refused when sent: the receiver never hears of it."""
    settings.INTEGRATIONS_ALLOW_PRIVATE_TARGETS = True
    receiver = start_receiver()
    try:
        subscription_create(name="x", url=f"{receiver.url}/hook", kinds=[events.DEAL_WON], by=None)
        event = event_emit(kind=events.DEAL_WON, subject=("deal", 1), payload={"deal_id": 1})
        events_fan_out(event_ids=[event.pk])
        settings.INTEGRATIONS_ALLOW_PRIVATE_TARGETS = False
        delivery = WebhookDelivery.objects.get()
        assert delivery_attempt(delivery_id=delivery.pk) == "retry"
        delivery.refresh_from_db()
        with translation.override(
            django_settings.LANGUAGE_CODE
        ):  # the log's language, whoever made the attempt
            assert delivery.last_error == gettext(
                "The URL points inside a private network; only public addresses are allowed."
            )
        assert receiver.requests == []
    finally:
        stop_receiver(receiver)
