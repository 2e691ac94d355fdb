"""The background work: the beat sweep, campaign touch linking, and the seam other apps call."""

from __future__ import annotations

import pytest

from campaigns import tasks
from campaigns.models import AttributionCredit, AttributionDay, AttributionState
from campaigns.services import campaign_create
from campaigns.tasks import leads_changed
from leads.models import Lead, Touch
from tests.campaigns.factories import PersonaRuleFactory, at
from tests.leads.factories import CampaignFactory, LeadFactory, PersonaFactory, TouchFactory

pytestmark = pytest.mark.django_db


def test_the_sweep_rebuilds_first_then_picks_up_only_changed_leads(django_capture_on_commit_callbacks):
    campaign = CampaignFactory()
    old = LeadFactory(created=at(1))
    TouchFactory(lead=old, campaign=campaign, occurred_at=at(1, 9))
    with django_capture_on_commit_callbacks(execute=True):
        first = tasks.attribution_sweep.delay().get()
    assert first["rebuild_batches"] == 1
    assert AttributionCredit.objects.filter(lead=old, kind="lead", campaign=campaign).exists()
    assert AttributionDay.objects.filter(campaign=campaign).exists()

    new = LeadFactory(created=at(2))
    TouchFactory(lead=new, campaign=campaign, occurred_at=at(2, 9))
    with django_capture_on_commit_callbacks(execute=True):
        second = tasks.attribution_sweep.delay().get()
    assert second["rebuild_batches"] == 0 and second["leads"] >= 1
    assert AttributionCredit.objects.filter(lead=new, kind="lead", campaign=campaign).exists()
    day = AttributionDay.objects.get(campaign=campaign, date=at(2).date())
    assert day.leads_first == 1
    state = AttributionState.get()
    assert state.touch_id_seen == Touch.objects.latest("id").id and state.rolled_up_at is not None


def test_refresh_leads_twice_changes_nothing():
    campaign = CampaignFactory()
    persona = PersonaFactory()
    PersonaRuleFactory(persona=persona, title_contains="部長")
    lead = LeadFactory(created=at(3), title="部長")
    TouchFactory(lead=lead, campaign=campaign, occurred_at=at(3, 9))
    tasks.refresh_leads.delay([lead.pk]).get()
    snapshot = list(
        AttributionCredit.objects.values_list("kind", "campaign_id", "w", "date").order_by("kind")
    )
    tasks.refresh_leads.delay([lead.pk, lead.pk]).get()
    assert (
        list(AttributionCredit.objects.values_list("kind", "campaign_id", "w", "date").order_by("kind"))
        == snapshot
    )
    assert Lead.objects.get(pk=lead.pk).persona == persona


def test_a_new_campaign_claims_touches_that_arrived_before_it(marketer, django_capture_on_commit_callbacks):
    lead = LeadFactory(created=at(3))
    touch = TouchFactory(lead=lead, occurred_at=at(3, 9), utm_campaign="spring-fair")
    with django_capture_on_commit_callbacks(execute=True):
        campaign = campaign_create(
            by=marketer, name="春フェア", channel="trade_show", utm_campaign="spring-fair"
        )
    touch.refresh_from_db()
    lead.refresh_from_db()
    assert touch.campaign == campaign and lead.first_touch_campaign == campaign
    assert AttributionCredit.objects.get(lead=lead, kind="lead").campaign == campaign
    assert tasks.link_campaign_touches.delay(campaign.pk).get() == 0  # nothing left to link


def test_the_seam_queues_a_refresh_after_commit(django_capture_on_commit_callbacks):
    campaign = CampaignFactory()
    lead = LeadFactory(created=at(3))
    TouchFactory(lead=lead, campaign=campaign, occurred_at=at(3, 9))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        leads_changed(lead_ids=[lead.pk, lead.pk])
    assert len(callbacks) == 1
    callbacks[0]()
    assert AttributionCredit.objects.filter(lead=lead).exists()


@pytest.mark.worker
def test_a_real_worker_runs_the_sweep(celery_worker):
    campaign = CampaignFactory()
    lead = LeadFactory(created=at(3))
    TouchFactory(lead=lead, campaign=campaign, occurred_at=at(3, 9))
    tasks.attribution_sweep.delay().get(timeout=30)
    # The sweep queued the rebuild batch and the roll-ups; the worker runs them in order (solo pool).
    tasks.refresh_rollups.delay().get(timeout=30)
    assert AttributionDay.objects.filter(campaign=campaign).exists()
