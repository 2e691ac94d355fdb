"""Owners: a lead changes hands with a reason, logged (who, when, from, to, why); who may hand a lead to whom."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from leads.models import Lead, OwnerChange
from leads.owners.selectors import owner_choices
from leads.owners.services import owner_change
from leads.privacy.services import lead_erase
from salesmarketing.models import Notification, User
from tests.leads.factories import make_lead
from tests.salesmarketing.factories import UserFactory

pytestmark = pytest.mark.django_db


def _lead(owner=None) -> Lead:
    lead = make_lead()
    if owner is not None:
        Lead.objects.filter(pk=lead.pk).update(owner=owner)
        lead.refresh_from_db()
    return lead


# --- The service -------------------------------------------------------------------------------------------------


def test_changing_the_owner_logs_who_when_from_to_and_why_and_tells_the_new_owner(owner, teammate, manager):
    lead = _lead(owner)

    change = owner_change(record=lead, owner=teammate, by=manager, reason="担当替え（大阪へ異動）")

    lead.refresh_from_db()
    assert lead.owner == teammate
    assert change is not None
    row = OwnerChange.objects.get()
    assert (row.lead, row.company, row.from_owner, row.to_owner, row.by) == (
        lead,
        None,
        owner,
        teammate,
        manager,
    )
    assert row.reason == "担当替え（大阪へ異動）" and row.at is not None
    note = Notification.objects.get(recipient=teammate)
    assert str(lead) in note.text[0] and note.text[1] == "担当替え（大阪へ異動）"
    assert not Notification.objects.filter(recipient=owner).exists()


def test_a_reason_is_required_and_nothing_changes_without_one(owner, teammate, manager):
    lead = _lead(owner)
    with pytest.raises(ValidationError) as caught:
        owner_change(record=lead, owner=teammate, by=manager, reason="   ")
    assert "reason" in caught.value.error_dict
    lead.refresh_from_db()
    assert lead.owner == owner and not OwnerChange.objects.exists()


def test_the_current_owner_again_changes_and_logs_nothing(owner, manager):
    lead = _lead(owner)
    assert owner_change(record=lead, owner=owner, by=manager, reason="念のため") is None
    assert not OwnerChange.objects.exists()


def test_handing_to_nobody_and_back_is_two_rows_newest_first(owner, manager):
    lead = _lead(owner)
    owner_change(record=lead, owner=None, by=manager, reason="退職")
    owner_change(record=lead, owner=manager, by=manager, reason="引き継ぎ")
    rows = list(lead.owner_changes.all())
    assert [(r.from_owner, r.to_owner) for r in rows] == [(None, manager), (owner, None)]
    assert not Notification.objects.filter(recipient=manager).exists()  # made it themselves


def test_erasing_the_lead_removes_its_owner_log(owner, teammate, manager):
    lead = _lead(owner)
    owner_change(record=lead, owner=teammate, by=manager, reason="担当替え")
    lead_erase(lead=lead, by=manager)
    assert not OwnerChange.objects.exists()


# --- Who may hand a lead to whom ----------------------------------------------------------------------------


def test_who_may_change_a_leads_owner_and_to_whom(owner, teammate, manager, outsider, marketer):
    lead = _lead(owner)
    admin = UserFactory(username="admin", role=User.Role.ADMIN, team=None)

    assert set(owner_choices(viewer=admin, record=lead)) == {owner, teammate, manager, outsider}
    # a manager: their own team's people (and those of teams they manage), never another team's
    assert set(owner_choices(viewer=manager, record=lead)) == {owner, teammate, manager}
    # the rep who owns it hands it within their team
    assert set(owner_choices(viewer=owner, record=lead)) == {owner, teammate, manager}
    # a teammate who does not own it, and marketing, change no owner
    assert owner_choices(viewer=teammate, record=lead) is None
    assert owner_choices(viewer=marketer, record=lead) is None


def test_a_manager_of_another_team_may_hand_its_leads_to_its_reps(owner, outsider):
    boss = UserFactory(username="boss", role=User.Role.MANAGER, team=None)
    outsider.team.manager = boss
    outsider.team.save()
    lead = _lead(owner)
    assert set(owner_choices(viewer=boss, record=lead)) == {outsider, boss}


# --- The page ----------------------------------------------------------------------------------------------


def test_the_manager_changes_the_owner_on_the_page(client, owner, teammate, manager):
    lead = _lead(owner)
    client.force_login(manager)
    url = f"/leads/{lead.pk}/owner"
    assert client.get(url).status_code == 200
    response = client.post(url, {"owner": teammate.pk, "reason": "テリトリー変更"})
    assert response.status_code == 302 and response["Location"] == lead.get_absolute_url()
    lead.refresh_from_db()
    assert lead.owner == teammate
    html = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "テリトリー変更" in html and "Owner history" in html
    # the lead's page links to it
    assert url in client.get(lead.get_absolute_url()).content.decode()


def test_the_page_refuses_someone_outside_the_choices_and_an_empty_reason(client, owner, manager, outsider):
    lead = _lead(owner)
    client.force_login(manager)
    url = f"/leads/{lead.pk}/owner"
    assert client.post(url, {"owner": outsider.pk, "reason": "他課へ"}).status_code == 200
    assert client.post(url, {"owner": manager.pk, "reason": ""}).status_code == 200
    lead.refresh_from_db()
    assert lead.owner == owner and not OwnerChange.objects.exists()


def test_who_gets_403_and_404_on_the_page(client, owner, teammate, outsider, marketer):
    lead = _lead(owner)
    url = f"/leads/{lead.pk}/owner"
    client.force_login(teammate)  # sees the lead (same team), does not own it
    assert client.get(url).status_code == 403
    client.force_login(marketer)
    assert client.post(url, {"owner": teammate.pk, "reason": "x"}).status_code == 403
    client.force_login(outsider)  # another team's rep does not see the lead at all
    assert client.get(url).status_code == 404
    client.logout()
    assert client.get(url).status_code == 302  # to the login page
    lead.refresh_from_db()
    assert lead.owner == owner


def test_the_page_needs_the_csrf_token(owner, teammate):
    lead = _lead(owner)
    csrf_client = Client(enforce_csrf_checks=True)  # checks CSRF as a browser's post is checked
    csrf_client.force_login(owner)
    response = csrf_client.post(f"/leads/{lead.pk}/owner", {"owner": teammate.pk, "reason": "x"})
    assert response.status_code == 403
    assert not OwnerChange.objects.exists()


def test_the_page_costs_five_queries_however_long_the_log(
    client, owner, teammate, manager, django_assert_num_queries
):
    lead = _lead(owner)
    client.force_login(manager)
    url = f"/leads/{lead.pk}/owner"
    client.get(url)  # warm the translations
    # the session and user (with the layout's team and unread count), the lead (with its owner and company), the
    # people to choose from, the log (with its users, one query); the log's length changes nothing
    with django_assert_num_queries(5):
        assert client.get(url).status_code == 200
    for i in range(5):
        owner_change(record=lead, owner=teammate if i % 2 == 0 else owner, by=manager, reason=f"理由 {i}")
    with django_assert_num_queries(5):
        assert client.get(url).status_code == 200
