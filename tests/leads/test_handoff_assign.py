"""Managers assign waiting handoffs (and re-assign untouched ones) from the handoffs list; the list filters by
rep and SLA state."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from leads.handoffs import HandoffConflict, handoff_assign_to
from leads.models import AssignmentLog, Handoff, Lead
from leads.services import lead_upsert
from salesmarketing.models import Notification
from tests.salesmarketing.factories import UserFactory

pytestmark = pytest.mark.django_db


def _waiting(email: str, team, **fields) -> Handoff:
    """A handoff the round-robin could give to nobody: it waits for a manager."""
    lead, _ = lead_upsert(email=email, source="api", name=email.split("@")[0])
    now = timezone.now()
    return Handoff.objects.create(
        lead=lead, team=team, mql_at=now, score_at_handoff=70, reason="資料DL +30", **fields
    )


def test_a_manager_assigns_a_waiting_handoff_logged_and_notified(
    manager, teammate, sales_team, django_capture_on_commit_callbacks
):
    teammate.email = "hanako@example.jp"
    teammate.save()
    handoff = _waiting("waiting@example.jp", sales_team)

    with django_capture_on_commit_callbacks(execute=True):
        handoff = handoff_assign_to(handoff=handoff, rep=teammate, by=manager)

    handoff.refresh_from_db()
    assert (handoff.owner, handoff.state) == (teammate, Handoff.State.ASSIGNED)
    assert handoff.assigned_at and handoff.sla_due_at and handoff.sla_due_at > handoff.assigned_at
    log = AssignmentLog.objects.get(handoff=handoff)
    assert log.user == teammate and str(manager) in log.reason
    assert Lead.objects.get(pk=handoff.lead_id).owner == teammate
    assert Notification.objects.filter(recipient=teammate, url="/leads/handoffs/").count() == 1
    assert [m.to for m in mail.outbox] == [["hanako@example.jp"]]


def test_re_assigning_restarts_the_sla_for_the_new_rep_and_says_who_had_it(
    manager, owner, teammate, sales_team
):
    earlier = timezone.now() - dt.timedelta(days=2)
    handoff = _waiting(
        "late@example.jp",
        sales_team,
        owner=owner,
        state=Handoff.State.ASSIGNED,
        assigned_at=earlier,
        sla_due_at=earlier + dt.timedelta(hours=4),
        escalated_at=earlier + dt.timedelta(hours=5),
    )

    handoff = handoff_assign_to(handoff=handoff, rep=teammate, by=manager)

    assert handoff.owner == teammate and handoff.escalated_at is None
    assert handoff.sla_due_at > timezone.now()
    assert str(owner) in AssignmentLog.objects.get(handoff=handoff).reason


@pytest.mark.parametrize("state", [Handoff.State.WORKING, Handoff.State.ACCEPTED, Handoff.State.REJECTED])
def test_a_worked_or_decided_handoff_cannot_be_assigned(manager, owner, teammate, sales_team, state):
    extra = {"reject_reason": Handoff.RejectReason.NOT_A_FIT} if state == Handoff.State.REJECTED else {}
    handoff = _waiting("done@example.jp", sales_team, owner=owner, state=state, **extra)
    with pytest.raises(HandoffConflict):
        handoff_assign_to(handoff=handoff, rep=teammate, by=manager)
    handoff.refresh_from_db()
    assert handoff.owner == owner and not AssignmentLog.objects.exists()


def test_the_list_lets_a_manager_assign_and_a_rep_not(client, manager, owner, teammate, outsider, sales_team):
    handoff = _waiting("waiting@example.jp", sales_team)
    # The form offers the manager's own reps only; a forged choice of another team's rep changes nothing.
    client.force_login(manager)
    page = client.get("/leads/handoffs/").content.decode()
    assert f'action="/leads/handoffs/{handoff.pk}/assign"' in page
    assert f'<option value="{teammate.pk}"' in page and f'<option value="{outsider.pk}"' not in page
    client.post(f"/leads/handoffs/{handoff.pk}/assign", {"rep": outsider.pk})
    handoff.refresh_from_db()
    assert handoff.owner is None

    response = client.post(
        f"/leads/handoffs/{handoff.pk}/assign", {"rep": teammate.pk}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200 and f'id="handoff-{handoff.pk}"' in response.content.decode()
    handoff.refresh_from_db()
    assert handoff.owner == teammate

    client.force_login(teammate)  # a rep sees the handoff but assigns nothing
    assert (
        f'action="/leads/handoffs/{handoff.pk}/assign"' not in client.get("/leads/handoffs/").content.decode()
    )
    assert client.post(f"/leads/handoffs/{handoff.pk}/assign", {"rep": owner.pk}).status_code == 403
    handoff.refresh_from_db()
    assert handoff.owner == teammate


def test_the_list_filters_by_rep_and_sla_state(client, manager, owner, sales_team):
    now = timezone.now()
    waiting = _waiting("waiting@example.jp", sales_team)
    breached = _waiting(
        "breached@example.jp",
        sales_team,
        owner=owner,
        state=Handoff.State.ASSIGNED,
        assigned_at=now - dt.timedelta(days=1),
        sla_due_at=now - dt.timedelta(hours=1),
    )
    touched = _waiting(
        "touched@example.jp",
        sales_team,
        owner=owner,
        state=Handoff.State.WORKING,
        assigned_at=now,
        sla_due_at=now + dt.timedelta(hours=4),
        first_touch_at=now,
    )
    client.force_login(manager)

    def shown(**query) -> set[int]:
        html = client.get("/leads/handoffs/", query).content.decode()
        return {h.pk for h in (waiting, breached, touched) if f'id="handoff-{h.pk}"' in html}

    assert shown() == {waiting.pk, breached.pk, touched.pk}
    assert shown(rep="none") == {waiting.pk}
    assert shown(rep=str(owner.pk)) == {breached.pk, touched.pk}
    assert shown(sla="breached") == {breached.pk}
    assert shown(sla="met") == {touched.pk}
    assert shown(rep=str(owner.pk), sla="met") == {touched.pk}


def test_another_teams_manager_cannot_assign(client, sales_team, outsider):
    handoff = _waiting("waiting@example.jp", sales_team)
    other_manager = UserFactory(username="boss2", role="manager", team=outsider.team)
    client.force_login(other_manager)
    assert client.post(f"/leads/handoffs/{handoff.pk}/assign", {"rep": outsider.pk}).status_code == 404
