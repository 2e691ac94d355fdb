"""Factories for the campaigns tests: campaigns, personas, and the leads, touches, handoffs and deals that
attribution reads (made with exact times, which no capture path lets a test choose)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory
from django.utils import timezone

from campaigns.models import CampaignCost, PersonaRule
from leads.choices import TouchType
from leads.models import Campaign, Company, Handoff, Lead, Persona, Touch

TZ = timezone.get_fixed_timezone(9 * 60)


def at(day: int, hour: int = 12, month: int = 4, year: int = 2026) -> dt.datetime:
    """A moment in Tokyo time: at(3) is 2026-04-03 12:00 JST."""
    return dt.datetime(year, month, day, hour, tzinfo=TZ)


class PersonaFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Persona
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"ペルソナ {n}")


class PersonaRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PersonaRule

    persona = factory.SubFactory(PersonaFactory)
    priority = 100


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign
        django_get_or_create = ("utm_campaign",)

    name = factory.Sequence(lambda n: f"施策 {n}")
    channel = Campaign.Channel.WEBINAR
    status = Campaign.Status.ACTIVE
    utm_campaign = factory.Sequence(lambda n: f"camp-{n}")


class CostFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CampaignCost

    campaign = factory.SubFactory(CampaignFactory)
    date = dt.date(2026, 4, 1)
    amount = Decimal(100_000)


class CompanyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Company

    name = factory.Sequence(lambda n: f"株式会社テスト{n}")
    domain = factory.Sequence(lambda n: f"test{n}.example.jp")


class LeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lead
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"lead{n}@example.jp")
    name = factory.Sequence(lambda n: f"見込 {n}")

    @factory.post_generation
    def created(obj, create, extracted, **kwargs):
        """LeadFactory(created=at(3)) backdates creation (auto_now_add would stamp now)."""
        if create and extracted is not None:
            Lead.objects.filter(pk=obj.pk).update(created_at=extracted)
            obj.created_at = extracted


class TouchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Touch

    lead = factory.SubFactory(LeadFactory)
    type = TouchType.PAGE_VIEW
    occurred_at = factory.LazyFunction(timezone.now)
    source = "test"
    idempotency_key = factory.Sequence(lambda n: f"t-{n}")
    campaign = None
    utm_campaign = factory.LazyAttribute(lambda t: t.campaign.utm_campaign if t.campaign else "")


class HandoffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Handoff

    lead = factory.SubFactory(LeadFactory)
    state = Handoff.State.ASSIGNED
    mql_at = factory.LazyFunction(timezone.now)


def journey(
    lead: Lead, *steps: tuple[Campaign | None, dt.datetime], type: str = TouchType.FORM_SUBMIT
) -> list[Touch]:
    """Touches of `lead`: journey(lead, (webinar, at(1)), (None, at(2)), …)."""
    return [
        TouchFactory(lead=lead, campaign=campaign, occurred_at=when, type=type) for campaign, when in steps
    ]
