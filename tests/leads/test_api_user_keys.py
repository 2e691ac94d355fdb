"""A key acting as a user writes only what that user may see in the app, as it reads: POST /leads answers 404 for
another team's lead (and changes nothing), POST /events rejects each event naming one, by id, email or a visitor
id tied to it. An integration's key (no user) reaches every lead."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from leads.models import Lead, Touch, Visitor
from salesmarketing.services import api_key_create
from tests.leads.factories import make_company, make_lead

pytestmark = pytest.mark.django_db


def _client_for(client, user, scopes=("events:write", "leads:write", "leads:read")):
    _key, plain = api_key_create(name="rep", source="crm", scopes=list(scopes), user=user)

    def post(path, body):
        return client.post(
            path, json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {plain}"
        )

    return post


@pytest.fixture
def their_lead(owner):
    """Another team's lead, as the outsider's key must not touch it."""
    return make_lead(
        email="theirs@example.jp", owner=owner, title="部長", company=make_company("株式会社他課")
    )


def _unchanged(lead: Lead) -> None:
    before = {
        f: getattr(lead, f) for f in ("name", "title", "consent_email", "unsubscribed_at", "updated_at")
    }
    lead.refresh_from_db()
    assert {f: getattr(lead, f) for f in before} == before
    assert not Touch.objects.filter(lead=lead).exists()


def test_upserting_another_teams_lead_is_404_and_changes_nothing(client, outsider, their_lead):
    post = _client_for(client, outsider)

    response = post("/api/v1/leads", {"email": "THEIRS@example.jp", "title": "乗っ取り", "company": "偽物"})

    assert response.status_code == 404 and response.json() == {"detail": "Lead not found."}
    _unchanged(their_lead)
    assert their_lead.company.name == "株式会社他課"


def test_a_reps_key_still_creates_new_leads_and_fills_in_its_teams(client, owner, teammate, their_lead):
    post = _client_for(client, teammate)

    updated = post("/api/v1/leads", {"email": their_lead.email, "name": "見込 更新"})
    created = post("/api/v1/leads", {"email": "brand-new@example.jp", "name": "新規"})

    assert (updated.status_code, created.status_code) == (200, 201)
    their_lead.refresh_from_db()
    assert their_lead.name == "見込 更新"


def test_events_naming_another_teams_lead_are_rejected_one_by_one(client, outsider, their_lead):
    Visitor.objects.create(visitor_id="v-theirs", lead=their_lead, identified_at=timezone.now())
    post = _client_for(client, outsider)

    response = post(
        "/api/v1/events",
        {
            "events": [
                {"id": "by-id", "type": "unsubscribe", "lead_id": their_lead.pk, "name": "改名"},
                {"id": "by-email", "type": "form_submit", "email": their_lead.email, "title": "改題"},
                {"id": "by-visitor", "type": "unsubscribe", "visitor_id": "v-theirs"},
                {"id": "mine", "type": "form_submit", "email": "mine@example.jp"},
                {"id": "missing", "type": "page_view", "lead_id": 10**9},
            ]
        },
    )

    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == 1 and body["duplicates"] == 0
    rejected = {r["index"]: r["errors"] for r in body["rejected"]}
    assert {i: list(errors) for i, errors in rejected.items()} == {
        0: ["lead_id"],
        1: ["email"],
        2: ["visitor_id"],
        4: ["lead_id"],
    }
    # Another team's lead by id answers like no lead at all, as GET /leads/<id> answers 404.
    assert rejected[0] == rejected[4]
    _unchanged(their_lead)
    assert Visitor.objects.get(visitor_id="v-theirs").lead_id == their_lead.pk


def test_a_reps_key_may_not_claim_another_teams_visitor(client, outsider, their_lead):
    Visitor.objects.create(visitor_id="v-theirs", lead=their_lead, identified_at=timezone.now())
    post = _client_for(client, outsider)

    response = post(
        "/api/v1/events",
        {
            "events": [
                {"id": "claim", "type": "page_view", "email": "mine@example.jp", "visitor_id": "v-theirs"}
            ]
        },
    )

    assert [list(r["errors"]) for r in response.json()["rejected"]] == [["visitor_id"]]
    assert Visitor.objects.get(visitor_id="v-theirs").lead_id == their_lead.pk


def test_events_for_the_teams_own_leads_and_integrations_are_stored(client, teammate, their_lead):
    Visitor.objects.create(visitor_id="v-theirs", lead=their_lead, identified_at=timezone.now())
    events = {
        "events": [
            {"id": "a", "type": "page_view", "lead_id": their_lead.pk},
            {"id": "b", "type": "page_view", "email": their_lead.email},
            {"id": "c", "type": "page_view", "visitor_id": "v-theirs"},
        ]
    }
    _key, plain = api_key_create(name="site", source="site", scopes=["events:write"])

    as_teammate = _client_for(client, teammate)("/api/v1/events", events).json()
    as_integration = client.post(
        "/api/v1/events",
        json.dumps(events),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {plain}",
    ).json()

    assert (as_teammate["accepted"], as_teammate["rejected"]) == (3, [])
    assert (as_integration["accepted"], as_integration["rejected"]) == (3, [])
    assert Touch.objects.filter(lead=their_lead).count() == 6


def test_marketing_keys_reach_every_lead(client, marketer, their_lead):
    post = _client_for(client, marketer)
    response = post(
        "/api/v1/events", {"events": [{"id": "m", "type": "page_view", "lead_id": their_lead.pk}]}
    )
    assert response.json()["accepted"] == 1
    assert post("/api/v1/leads", {"email": their_lead.email}).status_code == 200
