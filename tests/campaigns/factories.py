"""Factories for the campaigns app: persona rules and costs, and the journeys (touches at exact times) that
attribution reads. Campaigns, personas, leads, touches and handoffs are records of the leads app: their factories
are in tests/leads/factories.py."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory
from django.utils import timezone

from campaigns.models import CampaignCost, PersonaRule
from leads.choices import TouchType
from leads.models import Campaign, Lead, Touch
from tests.leads.factories import CampaignFactory, PersonaFactory, TouchFactory

TZ = timezone.get_fixed_timezone(9 * 60)


def at(day: int, hour: int = 12, month: int = 4, year: int = 2026) -> dt.datetime:
    """A moment in Tokyo time: at(3) is 2026-04-03 12:00 JST."""
    return dt.datetime(year, month, day, hour, tzinfo=TZ)


class PersonaRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PersonaRule

    persona = factory.SubFactory(PersonaFactory)
    priority = 100


class CostFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CampaignCost

    campaign = factory.SubFactory(CampaignFactory)
    date = dt.date(2026, 4, 1)
    amount = Decimal(100_000)


def journey(
    lead: Lead, *steps: tuple[Campaign | None, dt.datetime], type: str = TouchType.FORM_SUBMIT
) -> list[Touch]:
    """Touches of `lead`: journey(lead, (webinar, at(1)), (None, at(2)), …)."""
    return [
        TouchFactory(lead=lead, campaign=campaign, occurred_at=when, type=type) for campaign, when in steps
    ]
