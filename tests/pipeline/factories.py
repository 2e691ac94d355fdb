"""Pipeline test data, made through the services the app uses. Companies, leads and handoffs (records of the
leads app) come from tests/leads/factories.py."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from django.utils import timezone

from leads.models import Company, Lead
from pipeline import services
from pipeline.models import Deal, Stage
from tests.leads.factories import make_company

_seq = itertools.count(1)


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
