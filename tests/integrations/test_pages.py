"""Settings → Integrations: admins only; the secret is shown once; the delivery log, redeliver (HTMX, CSRF) and
the test event; team chat channels. Query counts pinned."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from integrations.models import TeamChannel, WebhookDelivery, WebhookSubscription
from integrations.services import events_fan_out, subscription_create
from salesmarketing import events
from salesmarketing.events import event_emit

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, admin):
    client.force_login(admin)
    return client


def _subscription(url="https://93.184.215.14/hook", name="CRM") -> WebhookSubscription:
    return subscription_create(name=name, url=url, kinds=[events.DEAL_WON], by=None)[0]


@pytest.mark.parametrize(
    "url_name,args",
    [("webhooks", []), ("webhook_detail", [1]), ("chat", []), ("chat_edit", [1])],
)
def test_only_admins_reach_the_pages(client, owner, manager, url_name, args):
    for user in (owner, manager):
        client.force_login(user)
        assert client.get(reverse(f"integrations:{url_name}", args=args)).status_code == 403
    client.logout()
    assert client.get(reverse(f"integrations:{url_name}", args=args)).status_code == 302  # to the login page


def test_creating_a_subscription_shows_its_secret_once(admin_client):
    response = admin_client.post(
        reverse("integrations:webhooks"),
        {
            "name": "CRM 同期",
            "url": "https://93.184.215.14/hook",
            "events": [events.DEAL_WON, events.LEAD_MQL],
        },
    )
    assert response.status_code == 201
    subscription = WebhookSubscription.objects.get()
    assert subscription.secret in response.content.decode()
    assert subscription.events == [events.LEAD_MQL, events.DEAL_WON]  # in the registry's order
    assert "no-cache" in response["Cache-Control"] or "no-store" in response["Cache-Control"]
    again = admin_client.get(reverse("integrations:webhooks"))
    assert subscription.secret not in again.content.decode()
    detail = admin_client.get(reverse("integrations:webhook_detail", args=[subscription.pk]))
    assert subscription.secret not in detail.content.decode()


def test_a_private_url_is_refused_on_the_form(admin_client, settings):
    settings.INTEGRATIONS_ALLOW_PRIVATE_TARGETS = False
    response = admin_client.post(
        reverse("integrations:webhooks"),
        {"name": "x", "url": "http://localhost/hook", "events": [events.DEAL_WON]},
    )
    assert response.status_code == 200
    assert "プライベートネットワーク" in response.content.decode()  # the page is in Japanese by default
    assert not WebhookSubscription.objects.exists()


def test_the_list_reads_in_a_fixed_number_of_queries(admin_client, django_assert_num_queries):
    _subscription(name="one")
    # session, the user with their team and unread count (the layout), subscriptions with their counts
    with django_assert_num_queries(3):
        first = admin_client.get(reverse("integrations:webhooks"))
    _subscription(name="two")
    with django_assert_num_queries(3):
        second = admin_client.get(reverse("integrations:webhooks"))
    assert first.status_code == second.status_code == 200


def _deliveries(subscription, n: int) -> list[WebhookDelivery]:
    ids = [event_emit(kind=events.DEAL_WON, subject=("deal", i), payload={"deal_id": i}).pk for i in range(n)]
    events_fan_out(event_ids=ids)
    return list(WebhookDelivery.objects.filter(subscription=subscription).order_by("pk"))


def test_the_delivery_log_reads_in_a_fixed_number_of_queries(admin_client, django_assert_num_queries):
    subscription = _subscription()
    _deliveries(subscription, 2)
    url = reverse("integrations:webhook_detail", args=[subscription.pk])
    # the layout's two (session; the user with their team and unread count), the subscription, its deliveries
    # with their events
    with django_assert_num_queries(4):
        assert admin_client.get(url).status_code == 200
    _deliveries(subscription, 3)
    with django_assert_num_queries(4):
        response = admin_client.get(url)
    assert response.content.decode().count('<tr id="delivery-') == 5


def test_redeliver_is_an_htmx_post_with_csrf(admin, allow_loopback, django_capture_on_commit_callbacks):
    from tests.integrations.receiver import start_receiver, stop_receiver

    receiver = start_receiver()
    try:
        subscription = _subscription(url=f"{receiver.url}/hook")
        [delivery] = _deliveries(subscription, 1)
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            state="failed", attempts=3, last_status_code=500
        )
        browser = Client(enforce_csrf_checks=True)
        browser.force_login(admin)
        url = reverse("integrations:redeliver", args=[delivery.pk])
        assert browser.post(url, HTTP_HX_REQUEST="true").status_code == 403  # no CSRF token
        page = browser.get(reverse("integrations:webhook_detail", args=[subscription.pk]))
        token = page.context["csrf_token"]
        with django_capture_on_commit_callbacks(execute=True):
            response = browser.post(url, HTTP_HX_REQUEST="true", HTTP_X_CSRFTOKEN=str(token))
        assert response.status_code == 200
        html = response.content.decode()
        assert html.lstrip().startswith(f'<tr id="delivery-{delivery.pk}"')  # the row, not the page
        delivery.refresh_from_db()
        # Tasks run in-process here: the redelivery was sent at once, with the same event id.
        assert delivery.state == "delivered" and delivery.attempts == 4
        assert [r.headers["X-SM-Event-Id"] for r in receiver.requests] == [str(delivery.event.uuid)]
        assert WebhookDelivery.objects.count() == 1
    finally:
        stop_receiver(receiver)


def test_send_a_test_event_and_switch_off(admin_client, allow_loopback, django_capture_on_commit_callbacks):
    from tests.integrations.receiver import start_receiver, stop_receiver

    receiver = start_receiver()
    try:
        subscription = _subscription(url=f"{receiver.url}/hook")
        with django_capture_on_commit_callbacks(execute=True):
            response = admin_client.post(reverse("integrations:webhook_test", args=[subscription.pk]))
        assert response.status_code == 302
        assert [r.json()["type"] for r in receiver.requests] == ["webhook.test"]
        admin_client.post(reverse("integrations:webhook_toggle", args=[subscription.pk]))
        subscription.refresh_from_db()
        assert not subscription.is_active
    finally:
        stop_receiver(receiver)


def test_setting_a_teams_chat_channel(admin_client, owner):
    team = owner.team
    page = admin_client.get(reverse("integrations:chat"))
    assert team.name in page.content.decode()
    url = reverse("integrations:chat_edit", args=[team.pk])
    response = admin_client.post(
        url,
        {
            "provider": "chatwork",
            "room_id": "98765",
            "token": "secret-token",
            "language": "en",
            "events": [events.HANDOFF_ASSIGNED, events.DEAL_WON],
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    channel = TeamChannel.objects.get(team=team)
    assert (channel.provider, channel.room_id, channel.token, channel.language) == (
        "chatwork",
        "98765",
        "secret-token",
        "en",
    )
    edit = admin_client.get(url).content.decode()
    assert "secret-token" not in edit
    # Saving again without a token keeps the saved one.
    admin_client.post(
        url, {"provider": "chatwork", "room_id": "98765", "language": "ja", "events": [events.DEAL_WON]}
    )
    channel.refresh_from_db()
    assert channel.token == "secret-token" and channel.language == "ja" and not channel.is_active


def test_the_nav_links_to_integrations_for_admins_only(admin_client, client, owner):
    assert reverse("integrations:webhooks") in admin_client.get(reverse("integrations:chat")).content.decode()
    client.force_login(owner)
    assert reverse("integrations:webhooks") not in client.get(reverse("notifications")).content.decode()
