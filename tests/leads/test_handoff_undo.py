"""Accept and reject can be taken back for a few seconds by whoever made them, through a service, recorded."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from leads.handoffs import (
    UNDO_SECONDS,
    HandoffConflict,
    handoff_accept,
    handoff_assign_to,
    handoff_decision_undo,
    handoff_first_touch,
    handoff_reject,
)
from leads.models import AssignmentLog, Handoff, Lead
from leads.services import lead_upsert
from pipeline.models import Deal
from pipeline.services import deal_move_to_stage, pipeline_ensure_default

pytestmark = pytest.mark.django_db


@pytest.fixture
def handoff(manager, owner, sales_team):
    pipeline_ensure_default()
    lead, _ = lead_upsert(email="undo@example.jp", source="api", name="取消 太郎")
    Lead.objects.filter(pk=lead.pk).update(lifecycle_stage="mql")
    waiting = Handoff.objects.create(lead=lead, team=sales_team, mql_at=timezone.now(), score_at_handoff=70)
    return handoff_assign_to(handoff=waiting, rep=owner, by=manager)


def test_an_accept_undone_in_time_reopens_the_handoff_and_removes_its_deal(handoff, owner):
    accepted = handoff_accept(handoff=handoff, by=owner)
    assert Deal.objects.filter(handoff=accepted).exists()

    undone = handoff_decision_undo(
        handoff=accepted, by=owner, now=accepted.decided_at + dt.timedelta(seconds=5)
    )

    assert undone.state == Handoff.State.ASSIGNED and undone.owner == owner
    assert undone.first_touch_at is None and undone.decided_at is None and undone.decided_by is None
    assert not Deal.objects.filter(handoff=undone).exists()
    lead = Lead.objects.get(pk=handoff.lead_id)
    assert (lead.lifecycle_stage, lead.owner) == ("mql", owner)
    assigned, undo = AssignmentLog.objects.filter(handoff=handoff)  # the manager's assignment, then the undo
    assert undo.user == owner and str(owner) in undo.reason and undo.reason != assigned.reason


def test_a_reject_undone_keeps_the_first_touch_made_before_it(handoff, owner):
    touched = handoff_first_touch(handoff=handoff, by=owner)
    rejected = handoff_reject(handoff=touched, by=owner, reason="too_early", note="来期")
    assert Lead.objects.get(pk=handoff.lead_id).lifecycle_stage == "recycled"

    undone = handoff_decision_undo(handoff=rejected, by=owner)

    assert undone.state == Handoff.State.WORKING and undone.first_touch_at == touched.first_touch_at
    assert (undone.reject_reason, undone.reject_note) == ("", "")
    lead = Lead.objects.get(pk=handoff.lead_id)
    assert (lead.lifecycle_stage, lead.owner, lead.recycled_at) == ("mql", owner, None)


def test_too_late_or_someone_elses_decision_cannot_be_undone(handoff, owner, manager):
    accepted = handoff_accept(handoff=handoff, by=owner)
    late = accepted.decided_at + dt.timedelta(seconds=UNDO_SECONDS + 1)

    with pytest.raises(HandoffConflict):
        handoff_decision_undo(handoff=accepted, by=owner, now=late)
    with pytest.raises(HandoffConflict):
        handoff_decision_undo(handoff=accepted, by=manager)

    accepted.refresh_from_db()
    assert accepted.state == Handoff.State.ACCEPTED and Deal.objects.filter(handoff=accepted).exists()


def test_a_deal_already_worked_on_stays_and_the_accept_with_it(handoff, owner):
    accepted = handoff_accept(handoff=handoff, by=owner)
    deal = Deal.objects.get(handoff=accepted)
    second = deal.stage.pipeline.stages.filter(is_won=False, is_lost=False).order_by("order")[1]
    deal_move_to_stage(deal=deal, stage=second, position=None, moved_by=owner)

    with pytest.raises(HandoffConflict):
        handoff_decision_undo(handoff=accepted, by=owner)

    accepted.refresh_from_db()
    assert accepted.state == Handoff.State.ACCEPTED and Deal.objects.filter(pk=deal.pk).exists()


def test_the_pages_offer_the_undo_and_it_works(client, handoff, owner):
    client.force_login(owner)
    client.post(f"/leads/handoffs/{handoff.pk}/accept")
    deal = Deal.objects.get(handoff=handoff)

    page = client.get(deal.get_absolute_url()).content.decode()
    assert f'action="/leads/handoffs/{handoff.pk}/undo"' in page

    assert client.post(f"/leads/handoffs/{handoff.pk}/undo").status_code == 302
    assert not Deal.objects.filter(pk=deal.pk).exists()

    row = client.post(
        f"/leads/handoffs/{handoff.pk}/reject", {"reason": "not_a_fit"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert f'action="/leads/handoffs/{handoff.pk}/undo"' in row
    row = client.post(
        f"/leads/handoffs/{handoff.pk}/undo", {"from": "row"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "/undo" not in row and f'action="/leads/handoffs/{handoff.pk}/accept"' in row
    handoff.refresh_from_db()
    assert handoff.state == Handoff.State.ASSIGNED
