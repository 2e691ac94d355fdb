"""Closing deals moves their contacts' lifecycle: won → customer (and the company a customer), all lost →
recycled to nurture; each change is a row of the lead's lifecycle history."""

from __future__ import annotations

import pytest

from leads.choices import LifecycleStage
from leads.lifecycle import lead_lifecycle_change
from leads.models import LifecycleChange
from pipeline import services
from tests.leads.factories import make_company, make_lead
from tests.pipeline.factories import make_deal

pytestmark = pytest.mark.django_db


def _opportunity(company):
    lead = make_lead(company=company)
    lead_lifecycle_change(lead=lead, to=LifecycleStage.OPPORTUNITY)
    return lead


def test_a_won_deal_makes_its_contact_and_company_customers(owner, stages):
    company = make_company()
    lead = _opportunity(company)
    deal = make_deal(owner=owner, company=company, contact=lead)
    services.deal_close_won(deal=deal, amount=1_000_000, by=owner)
    lead.refresh_from_db()
    company.refresh_from_db()
    assert lead.lifecycle_stage == LifecycleStage.CUSTOMER
    assert company.customer_since is not None
    change = LifecycleChange.objects.get(lead=lead, to_stage=LifecycleStage.CUSTOMER)
    assert (change.from_stage, change.by) == (LifecycleStage.OPPORTUNITY, owner)


def test_a_lead_whose_deals_are_all_lost_is_recycled(owner, stages):
    company = make_company()
    lead = _opportunity(company)
    first = make_deal(owner=owner, company=company, contact=lead)
    second = make_deal(owner=owner, company=company, contact=lead)
    services.deal_close_lost(deal=first, cause="price", side="sales", by=owner)
    lead.refresh_from_db()
    assert lead.lifecycle_stage == LifecycleStage.OPPORTUNITY  # one deal still open

    services.deal_close_lost(deal=second, cause="price", side="sales", by=owner)
    lead.refresh_from_db()
    assert lead.lifecycle_stage == LifecycleStage.RECYCLED
    assert lead.recycled_at is not None
    assert LifecycleChange.objects.filter(lead=lead, to_stage=LifecycleStage.RECYCLED).count() == 1
    company.refresh_from_db()
    assert company.customer_since is None


def test_losing_a_deal_of_a_customer_keeps_them_a_customer(owner, stages):
    company = make_company()
    lead = _opportunity(company)
    won = make_deal(owner=owner, company=company, contact=lead)
    services.deal_close_won(deal=won, amount=500_000, by=owner)
    lost = make_deal(owner=owner, company=company, contact=lead)
    services.deal_close_lost(deal=lost, cause="price", side="sales", by=owner)
    lead.refresh_from_db()
    assert lead.lifecycle_stage == LifecycleStage.CUSTOMER
