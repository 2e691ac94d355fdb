"""Two workers scoring the same lead at the same moment still make exactly one MQL and one handoff."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from leads.choices import TouchType
from leads.models import Handoff, Lead, Touch
from leads.scoring.defaults import ensure_default_scoring
from leads.scoring.services import leads_score_and_qualify
from leads.services import company_resolve, lead_upsert
from tests.conftest import require_or_skip


@pytest.mark.django_db(transaction=True)
def test_racing_workers_make_one_handoff():
    require_or_skip(
        connection.vendor == "postgresql", "needs PostgreSQL's row locks between real connections"
    )
    ensure_default_scoring()
    company = company_resolve(
        name="東邦精機", domain="toho.example.jp", employee_count=1500, industry="manufacturing"
    )
    leads = []
    for i in range(20):
        lead, _ = lead_upsert(email=f"hot{i}@toho.example.jp", source="api", title="部長", company=company)
        Touch.objects.create(
            lead=lead,
            type=TouchType.DEMO_REQUEST,
            occurred_at=lead.created_at,
            source="t",
            idempotency_key=str(i),
        )
        leads.append(lead.pk)

    barrier = threading.Barrier(4)
    results, errors = [], []

    def worker():
        try:
            barrier.wait()
            results.append(leads_score_and_qualify(leads))
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sum(len(r) for r in results) == 20  # each handoff created by exactly one worker
    assert Handoff.objects.count() == 20
    assert set(Handoff.objects.values_list("lead_id", flat=True)) == set(leads)
    assert Lead.objects.filter(lifecycle_stage="mql").count() == 20
