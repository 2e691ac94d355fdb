"""deal_create_from_handoff: the seam the handoff flow calls when sales accepts a lead."""

from __future__ import annotations

import pytest

from pipeline.models import Deal, StageChange
from pipeline.services import deal_create_from_handoff
from tests.leads.factories import CampaignFactory, make_company, make_handoff, make_lead

pytestmark = pytest.mark.django_db


def test_an_accepted_handoff_becomes_a_marketing_sourced_deal_in_the_first_stage(owner, stages):
    company = make_company("株式会社北斗物流")
    lead = make_lead(company=company)
    campaign = CampaignFactory()
    handoff = make_handoff(lead=lead, owner=owner, campaign=campaign)

    deal = deal_create_from_handoff(handoff=handoff, by=owner)

    assert deal.stage == stages["Initial contact"]
    assert (deal.owner, deal.team, deal.source) == (owner, owner.team, Deal.Source.MARKETING)
    assert (deal.company, deal.contact, deal.handoff) == (company, lead, handoff)
    assert deal.first_touch_campaign == campaign
    assert company.name in deal.name
    assert StageChange.objects.filter(deal=deal, from_stage=None).count() == 1


def test_calling_the_seam_twice_returns_the_same_deal(owner, stages):
    handoff = make_handoff(lead=make_lead(company=make_company()), owner=owner)
    first = deal_create_from_handoff(handoff=handoff, by=owner)
    second = deal_create_from_handoff(handoff=handoff, by=owner)
    assert first.pk == second.pk
    assert Deal.objects.count() == 1


def test_a_lead_without_company_still_gets_a_deal(owner, stages):
    lead = make_lead()
    deal = deal_create_from_handoff(handoff=make_handoff(lead=lead, owner=owner), by=owner)
    assert deal.company is None
    assert deal.contact == lead
