"""The team page: a manager sets reps' away periods and handoff capacity, and gives waiting handoffs to a rep by
hand (written to the assignment log); managers see only the teams they manage, reps and marketing none."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.utils import timezone

from leads.handoffs import handoff_assign, rep_availability_set
from leads.handoffs.selectors import teams_managed_by
from leads.models import AssignmentLog, Handoff, TerritoryRule
from leads.services import company_resolve, lead_upsert
from salesmarketing.models import User
from tests.salesmarketing.factories import UserFactory

pytestmark = pytest.mark.django_db


def _waiting(email: str, team) -> Handoff:
    """A handoff of `team` that assignment could not give to anyone (every rep at capacity 0)."""
    region = f"r{team.pk}"
    TerritoryRule.objects.get_or_create(team=team, region=region, defaults={"priority": 1})
    company = company_resolve(name=f"{email} 社", domain=email.split("@")[1], region=region)
    lead, _ = lead_upsert(email=email, source="api", company=company)
    reps = list(User.objects.filter(team=team, role=User.Role.SALES))
    capacities = {rep.pk: rep.handoff_capacity for rep in reps}
    User.objects.filter(pk__in=capacities).update(handoff_capacity=0)
    handoff = handoff_assign(
        handoff_id=Handoff.objects.create(lead=lead, mql_at=timezone.now(), score_at_handoff=60).pk
    )
    for pk, capacity in capacities.items():
        User.objects.filter(pk=pk).update(handoff_capacity=capacity)
    assert handoff.state == Handoff.State.UNASSIGNED and handoff.team == team
    return handoff


# --- The service -------------------------------------------------------------------------------------------------


def test_a_manager_sets_a_reps_away_period_and_capacity_and_assignment_follows_them(owner, teammate, manager):
    today = timezone.localdate()  # the day assignment reads (Tokyo time)
    rep_availability_set(rep=owner, by=manager, away_until=today, handoff_capacity=3, today=today)
    owner.refresh_from_db()
    assert (owner.away_until, owner.handoff_capacity) == (today, 3)

    rep_availability_set(rep=teammate, by=manager, away_until=None, handoff_capacity=0, today=today)
    handoff = _waiting("nobody@free.example.jp", owner.team)  # owner away, teammate at capacity 0
    assert handoff.owner is None

    rep_availability_set(rep=teammate, by=manager, away_until=None, handoff_capacity=5)
    handoff = handoff_assign(handoff_id=handoff.pk)
    assert handoff.owner == teammate  # the one rep who is in and has room


def test_a_past_day_or_a_capacity_out_of_range_is_refused(owner, manager):
    today = timezone.localdate()
    with pytest.raises(ValidationError) as caught:
        rep_availability_set(
            rep=owner, by=manager, away_until=today - dt.timedelta(days=1), handoff_capacity=500, today=today
        )
    assert set(caught.value.error_dict) == {"away_until", "handoff_capacity"}
    owner.refresh_from_db()
    assert (owner.away_until, owner.handoff_capacity) == (None, 15)


def test_only_a_manager_of_the_reps_team_or_an_admin_sets_it(owner, teammate, outsider, manager, marketer):
    other_manager = UserFactory(username="boss2", role=User.Role.MANAGER, team=outsider.team)
    for by in (teammate, marketer, other_manager):
        with pytest.raises(PermissionDenied):
            rep_availability_set(rep=owner, by=by, away_until=None, handoff_capacity=1)
    admin = UserFactory(username="admin", role=User.Role.ADMIN, team=None)
    rep_availability_set(rep=owner, by=admin, away_until=None, handoff_capacity=1)
    owner.refresh_from_db()
    assert owner.handoff_capacity == 1


def test_managers_see_the_teams_they_manage_and_their_own(owner, outsider, manager, marketer):
    boss = UserFactory(username="boss", role=User.Role.MANAGER, team=None)
    outsider.team.manager = boss
    outsider.team.save()
    admin = UserFactory(username="admin", role=User.Role.ADMIN, team=None)
    assert list(teams_managed_by(manager)) == [owner.team]
    assert list(teams_managed_by(boss)) == [outsider.team]
    assert set(teams_managed_by(admin)) == {owner.team, outsider.team}
    assert not teams_managed_by(owner).exists() and not teams_managed_by(marketer).exists()


# --- The pages -----------------------------------------------------------------------------------------------


def test_reps_and_marketing_get_403_and_another_managers_team_404(client, owner, outsider, manager, marketer):
    for user in (owner, marketer):
        client.force_login(user)
        assert client.get("/leads/teams/").status_code == 403
        assert client.get(f"/leads/teams/{owner.team.pk}/").status_code == 403
    client.force_login(manager)
    assert client.get(f"/leads/teams/{outsider.team.pk}/").status_code == 404
    handoff = _waiting("theirs@other.example.jp", outsider.team)
    url = f"/leads/teams/{outsider.team.pk}/handoffs/{handoff.pk}/assign"
    assert client.post(url, {"rep": outsider.pk}).status_code == 404
    assert client.post(f"/leads/teams/{outsider.team.pk}/reps/{outsider.pk}", {}).status_code == 404
    # nor a rep of another team through one's own team's address
    assert client.post(f"/leads/teams/{owner.team.pk}/reps/{outsider.pk}", {}).status_code == 404
    handoff.refresh_from_db()
    assert handoff.owner is None


def test_the_manager_with_one_team_lands_on_it_and_sets_a_rep_away(client, owner, teammate, manager):
    client.force_login(manager)
    response = client.get("/leads/teams/")
    assert response.status_code == 302 and response["Location"] == f"/leads/teams/{owner.team.pk}/"
    away = timezone.localdate() + dt.timedelta(days=7)
    url = f"/leads/teams/{owner.team.pk}/reps/{owner.pk}"
    data = {f"rep{owner.pk}-away_until": away.isoformat(), f"rep{owner.pk}-handoff_capacity": "4"}
    response = client.post(url, data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and 'id="team-reps"' in response.content.decode()
    owner.refresh_from_db()
    assert (owner.away_until, owner.handoff_capacity) == (away, 4)
    # an invalid value answers the table with the error, and changes nothing
    bad = {f"rep{owner.pk}-away_until": "", f"rep{owner.pk}-handoff_capacity": "-1"}
    assert client.post(url, bad, HTTP_HX_REQUEST="true").status_code == 200
    owner.refresh_from_db()
    assert owner.handoff_capacity == 4


def test_the_manager_assigns_a_waiting_handoff_by_hand_and_the_log_says_who(client, owner, teammate, manager):
    handoff = _waiting("waiting@kanto.example.jp", owner.team)
    client.force_login(manager)
    page = client.get(f"/leads/teams/{owner.team.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "waiting@kanto.example.jp" in page and f'id="waiting-{handoff.pk}"' in page

    url = f"/leads/teams/{owner.team.pk}/handoffs/{handoff.pk}/assign"
    response = client.post(url, {"rep": teammate.pk}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    handoff.refresh_from_db()
    assert (handoff.owner, handoff.state) == (teammate, Handoff.State.ASSIGNED)
    log = AssignmentLog.objects.filter(handoff=handoff).latest("id")
    assert log.user == teammate and str(manager) in log.reason

    # re-assign the untouched handoff to the other rep (a plain post: back to the page)
    response = client.post(url, {"rep": owner.pk})
    assert response.status_code == 302
    handoff.refresh_from_db()
    assert handoff.owner == owner


def test_assigning_needs_the_csrf_token(owner, manager):
    handoff = _waiting("csrf@kanto.example.jp", owner.team)
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(manager)
    response = csrf_client.post(
        f"/leads/teams/{owner.team.pk}/handoffs/{handoff.pk}/assign", {"rep": owner.pk}
    )
    assert response.status_code == 403
    handoff.refresh_from_db()
    assert handoff.owner is None


def test_the_team_page_costs_the_same_queries_however_many_reps_and_handoffs(
    client, owner, teammate, manager, django_assert_num_queries
):
    client.force_login(manager)
    url = f"/leads/teams/{owner.team.pk}/"
    _waiting("one@kanto.example.jp", owner.team)
    client.get(url)  # warm the translations
    # the session and user (with the layout's team and unread count), the team, its reps with their open counts,
    # the waiting handoffs (with lead, company and rep)
    with django_assert_num_queries(5):
        assert client.get(url).status_code == 200
    for n in range(3):
        UserFactory(username=f"rep{n}", role=User.Role.SALES, team=owner.team)
        _waiting(f"more{n}@kanto.example.jp", owner.team)
    with django_assert_num_queries(5):
        assert client.get(url).status_code == 200
