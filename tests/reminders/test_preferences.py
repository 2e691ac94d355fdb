"""Each user's notification settings decide the channels of every message kind; without a choice a message comes
as its sender asks (today's behaviour)."""

from __future__ import annotations

import re

import pytest
from django.conf import settings

from leads.handoffs import messages as handoff_messages
from pipeline import messages as deal_messages
from salesmarketing.models import Notification, NotificationPreference
from salesmarketing.services import notification_preferences_set, notification_send

pytestmark = pytest.mark.django_db

PARAMS = {"lead": "東邦 課長", "lead_id": 1, "rep": "担当 太郎"}


def _send(recipient, *, email: bool, message=handoff_messages.SLA_BREACHED):
    return notification_send(
        recipient=recipient, message=message, params=PARAMS, url="/leads/handoffs/", email=email
    )


def test_without_a_choice_a_message_comes_as_its_sender_asks(
    owner, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _send(owner, email=True)
        _send(owner, email=False)
    assert Notification.objects.filter(recipient=owner, kind="handoff_sla_breached").count() == 2
    assert len(mailoutbox) == 1


def test_in_app_off_stores_no_notification_but_still_emails_when_email_is_on(
    owner, mailoutbox, django_capture_on_commit_callbacks
):
    notification_preferences_set(user=owner, choices={"handoff_sla_breached": (False, True)})
    with django_capture_on_commit_callbacks(execute=True):
        assert _send(owner, email=False) is None
    assert not Notification.objects.filter(recipient=owner).exists()
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == [owner.email]
    assert mailoutbox[0].body.endswith("/leads/handoffs/")


def test_email_off_sends_no_mail_even_when_the_sender_asks(
    owner, mailoutbox, django_capture_on_commit_callbacks
):
    notification_preferences_set(user=owner, choices={"handoff_sla_breached": (True, False)})
    with django_capture_on_commit_callbacks(execute=True):
        _send(owner, email=True)
    assert Notification.objects.filter(recipient=owner).count() == 1
    assert mailoutbox == []


def test_a_choice_for_one_kind_leaves_the_others_alone(owner, mailoutbox, django_capture_on_commit_callbacks):
    notification_preferences_set(user=owner, choices={"deal_won": (False, False)})
    with django_capture_on_commit_callbacks(execute=True):
        notification_send(recipient=owner, message=deal_messages.DEAL_WON, params={"name": "商談"})
        _send(owner, email=True)
    assert list(Notification.objects.filter(recipient=owner).values_list("kind", flat=True)) == [
        "handoff_sla_breached"
    ]
    assert len(mailoutbox) == 1


def test_the_settings_page_shows_a_grid_with_defaults_and_saves_it(owner_client, owner):
    owner_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ja"
    page = owner_client.get("/accounts/notifications/").content.decode()
    assert "通知の設定" in page and "引き渡し" in page and "商談" in page
    # Today's defaults: a new lead is e-mailed, a won deal is not.
    assert re.search(r'name="email__handoff_assigned"[^>]*checked', page)
    assert re.search(r'name="in_app__deal_won"[^>]*checked', page)
    assert not re.search(r'name="email__deal_won"[^>]*checked', page)
    form = {f"in_app__{kind}": "on" for kind in ("handoff_assigned", "deal_new", "deal_handed")}
    form |= {"email__deal_won": "on", "digest_enabled": "on", "digest_at": "07:30"}
    response = owner_client.post("/accounts/notifications/", form)
    assert response.status_code == 302
    chosen = {p.kind: (p.in_app, p.email) for p in NotificationPreference.objects.filter(user=owner)}
    assert chosen["handoff_assigned"] == (True, False)
    assert chosen["deal_won"] == (False, True)
    assert chosen["task_overdue"] == (False, False)
    assert "test_note" not in chosen  # a message without a label is not offered
    owner.refresh_from_db()
    assert owner.digest_setting.enabled and owner.digest_setting.send_at.strftime("%H:%M") == "07:30"


def test_the_settings_page_needs_csrf(owner):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.post("/accounts/notifications/", {"digest_at": "08:00"}).status_code == 403
    assert not NotificationPreference.objects.exists()
