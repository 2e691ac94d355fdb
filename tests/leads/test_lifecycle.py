"""Lifecycle history: every change of a lead's stage is a row (from, to, at, by, reason), written by the one
service (leads.lifecycle), automatically by scoring, handoffs and newsletter sign-ups, and by hand."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from leads.choices import LifecycleStage
from leads.handoffs import handoff_accept, handoff_reject
from leads.lifecycle import lead_lifecycle_change, lead_lifecycle_set_by_hand
from leads.models import Handoff, Lead, LifecycleChange, ScoringConfig
from leads.scoring.services import leads_score_and_qualify
from tests.leads.factories import FormEndpointFactory, make_lead

pytestmark = pytest.mark.django_db


def _history(lead) -> list[tuple[str, str]]:
    return list(
        LifecycleChange.objects.filter(lead=lead).order_by("at", "id").values_list("from_stage", "to_stage")
    )


def _mql_handoff(lead) -> Handoff:
    lead_lifecycle_change(lead=lead, to=LifecycleStage.MQL, reason="test set-up")
    return Handoff.objects.create(lead=lead, mql_at=lead.created_at)


def test_a_change_is_recorded_with_from_to_by_and_reason(owner):
    lead = make_lead()
    assert lead_lifecycle_change(lead=lead, to=LifecycleStage.MQL, by=owner, reason="met at a seminar")
    change = LifecycleChange.objects.get(lead=lead)
    assert (change.from_stage, change.to_stage, change.by, change.reason) == (
        "lead",
        "mql",
        owner,
        "met at a seminar",
    )
    lead.refresh_from_db()
    assert lead.lifecycle_stage == LifecycleStage.MQL


def test_the_same_stage_again_writes_nothing():
    lead = make_lead()
    assert not lead_lifecycle_change(lead=lead, to=LifecycleStage.LEAD)
    assert not LifecycleChange.objects.exists()


def test_only_from_leaves_a_lead_in_another_stage_alone():
    lead = make_lead()
    lead_lifecycle_change(lead=lead, to=LifecycleStage.CUSTOMER)
    assert not lead_lifecycle_change(lead=lead, to=LifecycleStage.SUBSCRIBER, only_from=[LifecycleStage.LEAD])
    lead.refresh_from_db()
    assert lead.lifecycle_stage == LifecycleStage.CUSTOMER
    assert _history(lead) == [("lead", "customer")]


def test_by_hand_needs_a_reason_and_a_new_stage(owner):
    lead = make_lead()
    with pytest.raises(ValidationError) as excinfo:
        lead_lifecycle_set_by_hand(lead=lead, to=LifecycleStage.LEAD, by=owner, reason="  ")
    assert set(excinfo.value.message_dict) == {"stage", "reason"}
    with pytest.raises(ValidationError) as excinfo:
        lead_lifecycle_set_by_hand(lead=lead, to="nonsense", by=owner, reason="x")
    assert set(excinfo.value.message_dict) == {"stage"}
    assert not LifecycleChange.objects.exists()
    lead_lifecycle_set_by_hand(lead=lead, to=LifecycleStage.DISQUALIFIED, by=owner, reason="競合の社員")
    assert LifecycleChange.objects.get(lead=lead).by == owner


def test_accepting_a_handoff_records_sql_and_then_opportunity(owner):
    lead = make_lead()
    handoff = _mql_handoff(lead)
    handoff_accept(handoff=handoff, by=owner)
    lead.refresh_from_db()
    assert lead.lifecycle_stage == LifecycleStage.OPPORTUNITY
    assert _history(lead) == [("lead", "mql"), ("mql", "sql"), ("sql", "opportunity")]
    assert LifecycleChange.objects.filter(lead=lead, to_stage="sql").get().by == owner


@pytest.mark.parametrize(
    ("reason", "stage"),
    [
        (Handoff.RejectReason.TOO_EARLY, LifecycleStage.RECYCLED),
        (Handoff.RejectReason.ALREADY_CUSTOMER, LifecycleStage.CUSTOMER),
    ],
)
def test_rejecting_a_handoff_records_where_the_lead_went(owner, reason, stage):
    lead = make_lead()
    handoff = _mql_handoff(lead)
    handoff_reject(handoff=handoff, by=owner, reason=reason)
    lead.refresh_from_db()
    assert lead.lifecycle_stage == stage
    assert _history(lead)[-1] == ("mql", stage)


def test_crossing_the_mql_threshold_is_recorded_by_the_system():
    config = ScoringConfig.get()
    config.fit_threshold = config.total_threshold = 0
    config.save()
    first, second = make_lead(), make_lead()
    lead_lifecycle_change(lead=second, to=LifecycleStage.SUBSCRIBER)
    leads_score_and_qualify([first.pk, second.pk])
    assert set(Lead.objects.values_list("lifecycle_stage", flat=True)) == {LifecycleStage.MQL}
    rows = LifecycleChange.objects.filter(to_stage="mql")
    assert {(r.lead_id, r.from_stage, r.by_id) for r in rows} == {
        (first.pk, "lead", None),
        (second.pk, "subscriber", None),
    }
    leads_score_and_qualify([first.pk, second.pk])  # already MQL: nothing new
    assert LifecycleChange.objects.filter(to_stage="mql").count() == 2


def test_a_newsletter_only_sign_up_is_a_subscriber(client):
    FormEndpointFactory(site_key="news", is_newsletter=True)
    FormEndpointFactory(site_key="wp")
    client.post("/f/news", {"email": "news@example.jp", "consent_email": "on", "sm_sid": "n1"})
    client.post("/f/wp", {"email": "wp@example.jp", "sm_sid": "w1"})
    stages = dict(Lead.objects.values_list("email", "lifecycle_stage"))
    assert stages == {"news@example.jp": LifecycleStage.SUBSCRIBER, "wp@example.jp": LifecycleStage.LEAD}
    assert _history(Lead.objects.get(email="news@example.jp")) == [("lead", "subscriber")]


def test_a_known_lead_signing_up_for_the_newsletter_keeps_its_stage(client):
    lead = make_lead("known@example.jp")
    lead_lifecycle_change(lead=lead, to=LifecycleStage.SQL)
    FormEndpointFactory(site_key="news", is_newsletter=True)
    client.post("/f/news", {"email": "known@example.jp", "sm_sid": "n2"})
    lead.refresh_from_db()
    assert lead.lifecycle_stage == LifecycleStage.SQL


def test_the_systems_reason_is_stored_in_the_sites_language(owner, settings):
    settings.LANGUAGE_CODE = "ja"
    lead = make_lead()
    handoff = _mql_handoff(lead)
    with translation.override("en"):  # an English-speaking rep's request
        handoff_reject(handoff=handoff, by=owner, reason=Handoff.RejectReason.TOO_EARLY)
    reason = LifecycleChange.objects.get(lead=lead, to_stage=LifecycleStage.RECYCLED).reason
    with translation.override("ja"):
        expected = "引き渡しを差し戻し：" + str(Handoff.RejectReason.TOO_EARLY.label)
    assert reason == expected
