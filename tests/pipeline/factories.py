"""Pipeline test data, made through the services the app uses (companies and leads through leads.services)."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from django.utils import timezone

from leads.models import Campaign, Company, Handoff, Lead
from leads.services import company_resolve, lead_upsert
from pipeline import services
from pipeline.models import Deal, Stage

_seq = itertools.count(1)


def make_company(name: str | None = None) -> Company:
    n = next(_seq)
    return company_resolve(name=name or f"株式会社テスト{n}製作所", domain=f"test{n}.example.jp")


def make_lead(*, company: Company | None = None, email: str | None = None, owner=None, **fields) -> Lead:
    n = next(_seq)
    lead, _created = lead_upsert(
        email=email or f"lead{n}@example.jp", source="manual", company=company, name=f"見込 {n}", **fields
    )
    if owner is not None:
        Lead.objects.filter(pk=lead.pk).update(owner=owner)
        lead.owner = owner
    return lead


def make_campaign(name: str = "残業削減ウェビナー") -> Campaign:
    n = next(_seq)
    return Campaign.objects.create(
        name=f"{name} {n}", channel=Campaign.Channel.WEBINAR, utm_campaign=f"utm-pl-{n}"
    )


def make_deal(
    *,
    owner,
    stage: Stage | None = None,
    amount: int | Decimal = 1_000_000,
    name: str | None = None,
    company: Company | None = None,
    contact: Lead | None = None,
    expected_close_date: dt.date | None = None,
    probability: int | None = None,
    **fields,
) -> Deal:
    n = next(_seq)
    return services.deal_create(
        name=name or f"商談 {n}",
        owner=owner,
        by=owner,
        company=company or make_company(),
        contact=contact,
        stage=stage,
        amount=amount,
        probability=probability,
        expected_close_date=expected_close_date or timezone.localdate() + dt.timedelta(days=30),
        **fields,
    )


def make_handoff(*, lead: Lead, owner, campaign: Campaign | None = None) -> Handoff:
    """An accepted handoff as the handoff flow leaves it (that flow is built and tested in the leads app)."""
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
