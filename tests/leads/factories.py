"""Factories for the leads app's records: companies, leads, touches, handoffs, form endpoints, and the campaigns
and personas they point at. Every other test module imports these from here.

Companies and leads made with `make_company` / `make_lead` go through the services the app uses
(`company_resolve`, `lead_upsert`), and so are campaigns and personas (CampaignFactory, PersonaFactory build
through the campaigns app's `campaign_create` / `persona_save`, so a factory cannot make a record the pages
would refuse). The model factories (LeadFactory, TouchFactory, HandoffFactory, …) exist for what no service lets a
test choose: exact, backdated times for attribution and KPI tests.
"""

from __future__ import annotations

import datetime as dt
import itertools

import factory
from django.utils import timezone

from campaigns.services import campaign_create, persona_save
from leads.choices import TouchType
from leads.models import Campaign, Company, FormEndpoint, Handoff, Lead, Persona, Touch
from leads.services import company_resolve, lead_upsert

_seq = itertools.count(1)


# --- Campaigns and personas ----------------------------------------------------------------------------------


class PersonaFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Persona

    name = factory.Sequence(lambda n: f"ペルソナ {n}")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        # get_or_create by name, as before; a new persona goes through the service
        existing = model_class.objects.filter(name=kwargs["name"]).first()
        return existing or persona_save(persona=model_class(*args, **kwargs))


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    name = factory.Sequence(lambda n: f"施策 {n}")
    channel = Campaign.Channel.WEBINAR
    status = Campaign.Status.ACTIVE
    utm_campaign = factory.Sequence(lambda n: f"camp-{n}")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        # The service checks the campaign (full_clean, a unique UTM code) and, after commit, links the touches that
        # already carry its UTM code, as the campaign page does; an unset owner stays unset (`by` fills only that).
        existing = model_class.objects.filter(utm_campaign=kwargs.get("utm_campaign") or None).first()
        if existing is not None:
            return existing
        return campaign_create(by=kwargs.get("owner"), **kwargs)


# --- Companies and leads, through the services ---------------------------------------------------------------


def make_company(name: str | None = None) -> Company:
    n = next(_seq)
    return company_resolve(name=name or f"株式会社テスト{n}製作所", domain=f"test{n}.example.jp")


def make_lead(
    email: str | None = None, *, company: Company | str | None = None, owner=None, **fields
) -> Lead:
    """A lead made the way the app makes them (the upsert service). Without an email, a new one (lead<n>@…);
    without a name, 見込 <n>. `company` is a Company or the name of one to find or create; `owner` is set
    directly (owners come from the handoff flow, tested on its own)."""
    n = next(_seq)
    if isinstance(company, str):
        company = company_resolve(name=company) if company else None
    fields.setdefault("name", f"見込 {n}")
    lead, _created = lead_upsert(
        email=email or f"lead{n}@example.jp", source="manual", company=company, **fields
    )
    if owner is not None:
        Lead.objects.filter(pk=lead.pk).update(owner=owner)
        lead.owner = owner
    return lead


def make_handoff(*, lead: Lead, owner, campaign: Campaign | None = None) -> Handoff:
    """An accepted handoff as the handoff flow leaves it (that flow is tested in tests/leads/test_handoffs.py)."""
    now = timezone.now()
    return Handoff.objects.create(
        lead=lead,
        owner=owner,
        team=owner.team,
        state=Handoff.State.ACCEPTED,
        campaign=campaign,
        mql_at=now - dt.timedelta(hours=5),
        assigned_at=now - dt.timedelta(hours=5),
        decided_at=now,
        decided_by=owner,
    )


# --- Records with exact times (attribution, KPIs) ------------------------------------------------------------


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


# --- Capture -------------------------------------------------------------------------------------------------


class FormEndpointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FormEndpoint

    name = factory.Sequence(lambda n: f"資料請求フォーム {n}")
