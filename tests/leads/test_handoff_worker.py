"""Events posted through the API make a qualifying lead an MQL with one assigned, notified handoff, through a
real Celery worker on Redis, within seconds; a replayed batch changes nothing."""

from __future__ import annotations

import time

from leads.models import Handoff, Lead
from leads.scoring.defaults import ensure_default_scoring
from salesmarketing.models import Notification
from salesmarketing.services import api_key_create


def _wait_for(condition, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError("timed out waiting for the worker")


def test_events_make_an_mql_with_one_assigned_handoff_through_a_real_worker(celery_worker, client, owner):
    ensure_default_scoring()
    _, key = api_key_create(name="website", source="web")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    lead = client.post(
        "/api/v1/leads",
        {"email": "kacho@toho.example.jp", "name": "東邦 課長", "title": "製造部 部長", "company": "東邦精機株式会社",
         "company_domain": "toho.example.jp", "employee_count": 1200, "industry": "manufacturing"},
        content_type="application/json", **auth,
    )  # fmt: skip
    assert lead.status_code == 201, lead.content
    events = [
        {"id": "seminar-1", "type": "webinar_attended", "email": "kacho@toho.example.jp"},
        *[
            {
                "id": f"pricing-{i}",
                "type": "page_view",
                "email": "kacho@toho.example.jp",
                "url": "https://www.example.jp/pricing",
            }
            for i in range(3)
        ],
    ]
    started = time.monotonic()
    response = client.post("/api/v1/events", {"events": events}, content_type="application/json", **auth)
    assert response.status_code == 202 and response.json()["accepted"] == 4

    handoff = _wait_for(
        lambda: Handoff.objects.filter(lead__email="kacho@toho.example.jp", owner__isnull=False).first()
    )
    elapsed = time.monotonic() - started
    assert elapsed < 10, f"handoff took {elapsed:.1f}s"
    assert handoff.owner == owner and handoff.sla_due_at is not None
    assert "ウェビナー参加 +20" in handoff.reason
    assert any("東邦 課長" in note.text[0] for note in Notification.objects.filter(recipient=owner))
    scored = Lead.objects.get(email="kacho@toho.example.jp")
    assert scored.lifecycle_stage == "mql" and scored.fit_score >= 15 and scored.total_score >= 50

    replay = client.post("/api/v1/events", {"events": events}, content_type="application/json", **auth)
    assert replay.json() == {"accepted": 0, "duplicates": 4, "rejected": []}
    time.sleep(1)  # give a (wrongly) queued rescore the chance to run
    again = Lead.objects.get(pk=scored.pk)
    assert (again.fit_score, again.engagement_score, again.total_score) == (
        scored.fit_score, scored.engagement_score, scored.total_score,
    )  # fmt: skip
    assert Handoff.objects.filter(lead=scored).count() == 1
