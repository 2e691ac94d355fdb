"""The layout's cost on every page: the session, and the signed-in user loaded with their team and unread
notification count in one statement (salesmarketing.security.ThrottledModelBackend.get_user). Signing in and out,
the admin and the session's end on a password change work as Django's own backend does."""

from __future__ import annotations

import pytest
from django.urls import reverse

from salesmarketing.services import notifications_mark_read
from tests.salesmarketing.factories import NotificationFactory, notify

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests-1"


def test_the_layout_costs_the_session_and_one_read_of_the_user(
    client, owner, outsider, django_assert_num_queries
):
    notify(recipient=owner, title="既読")
    notifications_mark_read(recipient=owner)  # read: not counted
    notify(recipient=owner, title="新しい引き渡し")
    notify(recipient=owner, title="SLA 期限が近づいています")
    NotificationFactory(recipient=outsider)  # someone else's: not counted
    client.force_login(owner)
    client.get(reverse("password_change"))  # warm the translations
    with django_assert_num_queries(2) as captured:  # a page that reads nothing of its own
        html = client.get(reverse("password_change")).content.decode()
    assert 'id="bell-count">2<' in html
    assert "営業一課" in html  # the user menu's team
    user_query = captured.captured_queries[1]["sql"]
    assert "salesmarketing_team" in user_query and "salesmarketing_notification" in user_query


def test_without_a_team_or_unread_notifications_the_layout_shows_neither(client, marketer):
    marketer.team = None
    marketer.save(update_fields=["team"])
    client.force_login(marketer)
    html = client.get(reverse("password_change")).content.decode()
    assert 'id="bell-count"' not in html
    assert 'class="user-team"> · ' in html


def test_marking_notifications_read_empties_the_bell_in_the_same_response(client, owner):
    notify(recipient=owner, title="新しい引き渡し")
    client.force_login(owner)
    response = client.post(reverse("notifications_read"), HTTP_HX_REQUEST="true")
    assert 'id="bell-count"' not in response.content.decode()
    assert 'id="bell-count"' not in client.get(reverse("notifications")).content.decode()


def test_signing_in_and_out_through_the_login_page(client, owner):
    response = client.post(reverse("login"), {"username": "owner", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("notifications")).status_code == 200
    client.post(reverse("logout"))
    assert client.get(reverse("notifications")).status_code == 302


def test_a_password_changed_elsewhere_ends_the_other_sessions(client, owner):
    client.force_login(owner)
    assert client.get(reverse("notifications")).status_code == 200
    owner.set_password("a-new-password-7")
    owner.save()
    response = client.get(reverse("notifications"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_changing_ones_own_password_keeps_the_session(client, owner):
    client.force_login(owner)
    response = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": "a-new-password-7", "new_password2": "a-new-password-7"},
    )
    assert response.status_code == 302
    assert client.get(reverse("notifications")).status_code == 200


def test_a_deactivated_user_is_signed_out(client, owner):
    client.force_login(owner)
    owner.is_active = False
    owner.save(update_fields=["is_active"])
    assert client.get(reverse("notifications")).status_code == 302


def test_the_admin_opens_for_staff(client, owner):
    owner.is_staff = owner.is_superuser = True
    owner.save(update_fields=["is_staff", "is_superuser"])
    client.force_login(owner)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200
