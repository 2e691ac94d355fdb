"""salesmarketing.hooks: the higher apps register their work once in `ready()`, and the lower apps' calls reach it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.apps import apps
from django.utils import timezone

from campaigns import hooks as campaigns_hooks
from integrations.hooks import domain_events_emitted
from kpis import hooks as kpis_hooks
from leads.choices import LifecycleStage, TouchType
from leads.handoffs import handoff_accept, handoff_assign, lead_first_touched
from leads.models import Handoff
from leads.services import company_resolve, lead_upsert, touch_record
from nurture import merging as nurture_merging
from nurture import timeline as nurture_timeline
from nurture.mail import bounces as nurture_bounces
from nurture.mail import outcomes as nurture_outcomes
from nurture.segments import hooks as nurture_segment_hooks
from nurture.sequences import hooks as nurture_sequence_hooks
from pipeline import hooks as pipeline_hooks
from pipeline import mailbox as pipeline_mailbox
from pipeline.models import Deal
from pipeline.services import (
    deal_create_from_handoff,
    deal_discard_for_undone_handoff,
    pipeline_ensure_default,
)
from quotes.selectors import deal_item_count
from quotes.services.lines import deal_amount_derived
from quotes.views import deal_page_section
from salesmarketing import hooks

EXPECTED = {
    hooks.HANDOFF_ACCEPTED: (deal_create_from_handoff,),
    hooks.HANDOFF_ACCEPT_UNDONE: (deal_discard_for_undone_handoff,),
    # INSTALLED_APPS order: campaigns, pipeline, kpis
    hooks.LEAD_ERASING: (campaigns_hooks.lead_erasing, pipeline_hooks.lead_erasing, kpis_hooks.lead_erasing),
    hooks.LEAD_EXPORTING: (pipeline_hooks.lead_exporting,),
    hooks.DEALS: (pipeline_hooks.deals,),
    hooks.SEARCH: (pipeline_hooks.deal_search,),
    hooks.SALES_TOUCH_RECORDED: (lead_first_touched,),
    hooks.EMAIL_TOUCHES_RECORDED: (nurture_outcomes.email_touches_recorded,),
    hooks.DEAL_PAGE_SECTIONS: (deal_page_section,),
    hooks.DEAL_AMOUNT_DERIVED: (deal_amount_derived,),
    hooks.DEAL_ITEM_COUNT: (deal_item_count,),
    hooks.LEAD_LIST_ACTIONS: (
        nurture_segment_hooks.lead_list_actions,
        nurture_sequence_hooks.lead_list_actions,
    ),
    hooks.LEAD_BULK_ACTIONS: (
        nurture_segment_hooks.lead_bulk_actions,
        nurture_sequence_hooks.lead_bulk_actions,
    ),
    hooks.LEAD_PAGE_ACTIONS: (nurture_sequence_hooks.lead_page_actions,),
    hooks.LEAD_TIMELINE: (nurture_timeline.lead_timeline,),
    hooks.HANDOFF_REJECTED: (nurture_sequence_hooks.handoff_rejected,),
    # INSTALLED_APPS order: pipeline, nurture
    hooks.INBOUND_EMAIL_RECEIVED: (
        pipeline_mailbox.inbound_email_received,
        nurture_bounces.inbound_email_received,
        nurture_sequence_hooks.inbound_email_received,
    ),
    hooks.DOMAIN_EVENTS_EMITTED: (domain_events_emitted,),
    # INSTALLED_APPS order: campaigns, pipeline, nurture
    hooks.LEAD_MERGING: (
        campaigns_hooks.lead_merging,
        pipeline_hooks.lead_merging,
        nurture_merging.lead_merging,
    ),
    hooks.COMPANY_MERGING: (pipeline_hooks.company_merging,),
}


def test_the_higher_apps_register_each_hook_once():
    assert {name: hooks.registered(name) for name in hooks.HOOK_POINTS} == EXPECTED


def test_running_ready_again_registers_nothing_twice():
    for label in ("leads", "campaigns", "pipeline", "nurture", "quotes", "kpis", "integrations"):
        apps.get_app_config(label).ready()
    assert {name: hooks.registered(name) for name in hooks.HOOK_POINTS} == EXPECTED


def test_call_passes_keywords_and_returns_each_result_in_order(monkeypatch):
    monkeypatch.setattr(hooks, "_registry", {name: [] for name in hooks.HOOK_POINTS})
    hooks.register(hooks.LEAD_EXPORTING, lambda *, lead: {"first": lead})
    hooks.register(hooks.LEAD_EXPORTING, lambda *, lead: {"second": lead})
    assert hooks.call(hooks.LEAD_EXPORTING, lead=7) == [{"first": 7}, {"second": 7}]
    assert hooks.call(hooks.DEALS) == []  # nothing registered: nothing to do, no error


def test_an_unknown_hook_point_is_an_error():
    with pytest.raises(ValueError, match="unknown hook point"):
        hooks.register("handoff_acepted", print)
    with pytest.raises(ValueError, match="unknown hook point"):
        hooks.call("handoff_acepted")


@pytest.mark.django_db
def test_accepting_a_handoff_in_leads_creates_the_deal_pipeline_registered(owner):
    pipeline_ensure_default()
    company = company_resolve(name="株式会社北斗物流", domain="hokuto.example.jp", region="kanto")
    lead, _ = lead_upsert(email="lead@hokuto.example.jp", source="api", company=company)
    handoff = handoff_assign(handoff_id=Handoff.objects.create(lead=lead, mql_at=timezone.now()).pk)

    handoff_accept(handoff=handoff, by=owner)

    deal = Deal.objects.get(handoff=handoff)
    assert (deal.contact, deal.source) == (lead, Deal.Source.MARKETING)
    lead.refresh_from_db()
    assert lead.lifecycle_stage == LifecycleStage.OPPORTUNITY


@pytest.mark.django_db
def test_a_sales_activity_recorded_in_leads_stops_the_handoff_clock_handoffs_registered():
    company = company_resolve(name="株式会社北斗物流", domain="hokuto.example.jp", region="kanto")
    lead, _ = lead_upsert(email="clock@hokuto.example.jp", source="api", company=company)
    handoff = Handoff.objects.create(lead=lead, mql_at=timezone.now() - dt.timedelta(hours=1))

    touch_record(lead=lead, type=TouchType.SALES_ACTIVITY, source="test", idempotency_key="call-1")

    handoff.refresh_from_db()
    assert handoff.first_touch_at is not None
    assert handoff.state == Handoff.State.WORKING
