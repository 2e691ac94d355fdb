"""Factories for the capture tests (API keys, campaigns, form endpoints, leads made through the service)."""

from __future__ import annotations

import factory

from leads.models import Campaign, FormEndpoint, Lead
from leads.services import lead_upsert


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign
        django_get_or_create = ("utm_campaign",)

    name = factory.Sequence(lambda n: f"施策 {n}")
    channel = Campaign.Channel.WEBINAR
    utm_campaign = factory.Sequence(lambda n: f"utm-{n}")


class FormEndpointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FormEndpoint

    name = factory.Sequence(lambda n: f"資料請求フォーム {n}")


def make_lead(email: str = "lead@example.jp", **fields) -> Lead:
    """A lead made the way the app makes them (through the upsert service)."""
    lead, _created = lead_upsert(email=email, source="manual", **fields)
    return lead
