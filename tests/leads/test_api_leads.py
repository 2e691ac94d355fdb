"""POST /api/v1/leads (upsert by email) and GET /api/v1/leads/{id}; the OpenAPI schema and docs."""

from __future__ import annotations

import pytest

from leads.choices import Region
from leads.models import Company, Lead
from salesmarketing.models import ApiKey
from tests.leads.factories import make_lead

pytestmark = pytest.mark.django_db


def test_it_creates_a_lead_with_201_then_updates_it_with_200(api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        created = api.post(
            "/api/v1/leads",
            {
                "email": "Taro.Yamada@Example.co.jp",
                "name": "山田 太郎",
                "company": "株式会社サンプル",
                "company_domain": "example.co.jp",
                "prefecture": "愛知県",
                "employee_count": 250,
                "industry": "manufacturing",
                "consent_email": True,
            },
        )
    assert created.status_code == 201
    body = created.json()
    assert body["email"] == "taro.yamada@example.co.jp"
    assert body["company"]["region"] == Region.CHUBU and body["company"]["employee_count"] == 250
    assert body["consent_email"] is True and body["source"] == "api"
    # The lead is rescored after commit, and its "lead created" event dispatched (salesmarketing.events).
    assert [c.__qualname__ for c in callbacks] == [
        "_after_commit.<locals>.dispatch_emitted",
        "leads_touched.<locals>.enqueue",
    ]

    updated = api.post("/api/v1/leads", {"email": "taro.yamada@example.co.jp", "title": "部長", "name": ""})
    assert updated.status_code == 200
    assert updated.json()["id"] == body["id"]
    assert updated.json()["title"] == "部長" and updated.json()["name"] == "山田 太郎"
    assert Lead.objects.count() == 1 and Company.objects.count() == 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "email"),
        ({"email": "not-an-email"}, "email"),
        ({"email": 12345}, "email"),
        ({"email": "a@example.jp", "name": "x" * 201}, "name"),
        ({"email": "a@example.jp", "employee_count": "many"}, "employee_count"),
        ({"email": "a@example.jp", "industry": "farming"}, "industry"),
        ({"email": "a@example.jp", "company_domain": "no domain here"}, "company_domain"),
        ({"email": "a@example.jp", "favourite_colour": "blue"}, "favourite_colour"),
        ({"email": "a@example.jp", "name": "nul\u0000"}, "name"),
        # Booleans are not numbers, nor numbers (or strings) booleans: JSON types are taken as they are.
        ({"email": "a@example.jp", "employee_count": True}, "employee_count"),
        ({"email": "a@example.jp", "employee_count": "120"}, "employee_count"),
        ({"email": "a@example.jp", "employee_count": 1.5}, "employee_count"),
        ({"email": "a@example.jp", "consent_email": 1}, "consent_email"),
        ({"email": "a@example.jp", "consent_email": "yes"}, "consent_email"),
    ],
)
def test_invalid_leads_get_422_with_the_field_named(api, payload, field):
    response = api.post("/api/v1/leads", payload)
    assert response.status_code == 422
    assert any(field in error["loc"] for error in response.json()["detail"]), response.json()
    assert not Lead.objects.exists()


def test_a_malformed_body_is_400_json(api):
    response = api.post("/api/v1/leads", b"{'email': 'single quotes'}")
    assert response.status_code == 400
    assert response.json()["detail"]


def test_it_reads_a_lead_with_scores_and_stages(api):
    lead = make_lead("read@example.jp", name="読み取り")
    Lead.objects.filter(pk=lead.pk).update(
        fit_score=30, engagement_score=25, total_score=55, awareness_stage="semi"
    )

    response = api.get(f"/api/v1/leads/{lead.pk}")

    assert response.status_code == 200
    body = response.json()
    assert (body["fit_score"], body["engagement_score"], body["total_score"]) == (30, 25, 55)
    assert body["lifecycle_stage"] == "lead" and body["awareness_stage"] == "semi"
    assert body["company"] is None


def test_a_missing_lead_is_404_json(api):
    response = api.get("/api/v1/leads/424242")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")


def test_scopes_are_enforced(client, api_as):
    lead = make_lead("scoped@example.jp")
    writer = api_as(client, [ApiKey.Scope.EVENTS_WRITE])
    assert writer.get(f"/api/v1/leads/{lead.pk}").status_code == 403
    assert writer.post("/api/v1/leads", {"email": "x@example.jp"}).status_code == 403
    reader = api_as(client, [ApiKey.Scope.LEADS_READ])
    assert reader.get(f"/api/v1/leads/{lead.pk}").status_code == 200
    assert not Lead.objects.filter(email="x@example.jp").exists()


def test_the_openapi_schema_documents_events_and_leads(owner_client):
    schema = owner_client.get("/api/v1/openapi.json").json()
    paths = schema["paths"]
    assert {"/api/v1/events", "/api/v1/leads", "/api/v1/leads/{lead_id}"} <= set(paths)
    batch = schema["components"]["schemas"]["EventBatchIn"]["properties"]["events"]
    assert batch["maxItems"] == 1000 and batch["items"]["$ref"].endswith("/EventIn")
    event = schema["components"]["schemas"]["EventIn"]
    assert event["required"] == ["id", "type"]
    assert "idempotency" in event["properties"]["id"]["description"]
    assert "Asia/Tokyo" in event["properties"]["occurred_at"]["description"]
    assert "202" in paths["/api/v1/events"]["post"]["responses"]
    lead_out = schema["components"]["schemas"]["LeadOut"]["properties"]
    assert {"fit_score", "engagement_score", "total_score", "lifecycle_stage", "awareness_stage"} <= set(
        lead_out
    )


def test_the_docs_page_needs_a_login(client, owner):
    response = client.get("/api/v1/docs")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    client.force_login(owner)
    assert client.get("/api/v1/docs").status_code == 200


def test_reading_a_lead_explains_its_score_and_shows_its_handoff(api):
    from django.utils import timezone

    from leads.models import Handoff, Touch
    from leads.scoring.defaults import ensure_default_scoring
    from leads.scoring.services import leads_score_and_qualify

    ensure_default_scoring()
    lead = make_lead("explain@example.jp", name="説明", title="部長")
    Touch.objects.create(
        lead=lead, type="demo_request", occurred_at=timezone.now(), source="t", idempotency_key="1"
    )
    leads_score_and_qualify([lead.pk])
    body = api.get(f"/api/v1/leads/{lead.pk}").json()
    rules = {row["rule"]: (row["axis"], round(row["counted"])) for row in body["score_explanation"]}
    assert rules == {"デモ依頼": ("engagement", 40), "部長": ("fit", 15)}
    assert (body["fit_score"], body["engagement_score"], body["total_score"]) == (15, 40, 55)
    assert body["lifecycle_stage"] == "mql"
    handoff = Handoff.objects.get(lead=lead)
    assert body["handoff"]["id"] == handoff.pk and body["handoff"]["reason"] == "デモ依頼 +40, 部長 +15"
