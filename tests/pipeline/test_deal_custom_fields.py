"""Custom fields of deals: the new-deal form and the deal page's edit form get the fields shown in forms
(required respected), the deal page shows the values, and the API reads and writes them (422 per field)."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from leads.custom_fields.services import field_definition_create
from leads.models import CustomFieldType, CustomObject
from pipeline.models import Deal

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def fields():
    field_definition_create(
        by=None, object_type=CustomObject.DEAL, key="competitor", field_type=CustomFieldType.CHOICE,
        label_ja="競合", label_en="Competitor", options=["A社", "B社"], required=True,
    )  # fmt: skip
    field_definition_create(
        by=None, object_type=CustomObject.DEAL, key="seats", field_type=CustomFieldType.NUMBER,
        label_ja="ライセンス数", label_en="Seats",
    )  # fmt: skip
    field_definition_create(
        by=None, object_type=CustomObject.LEAD, key="seats", field_type=CustomFieldType.TEXT, label_ja="リード用",
    )  # fmt: skip


def _new_deal(stages, **fields) -> dict:
    return {
        "name": "勤怠管理クラウド",
        "company_name": "株式会社X",
        "stage": stages["Discovery"].pk,
        "amount": "1000000",
        "expected_close_date": "2030-03-31",
        "source": "sales",
        **fields,
    }


def test_the_new_deal_form_asks_for_the_required_custom_field(owner_client, stages, fields):
    page = owner_client.get(reverse("pipeline:deal_new")).content.decode()
    assert 'name="custom.competitor"' in page and 'name="custom.seats"' in page
    response = owner_client.post(reverse("pipeline:deal_new"), _new_deal(stages))
    assert response.status_code == 200 and response.context["form"].errors["custom.competitor"]
    assert not Deal.objects.exists()
    response = owner_client.post(
        reverse("pipeline:deal_new"), _new_deal(stages, **{"custom.competitor": "B社", "custom.seats": "120"})
    )
    deal = Deal.objects.get()
    assert response.status_code == 302
    assert deal.custom == {"competitor": "B社", "seats": 120}
    page = owner_client.get(deal.get_absolute_url()).content.decode()
    assert "競合" in page and "B社" in page and "ライセンス数" in page


def test_the_deal_page_edits_custom_values(owner_client, deal, fields):
    Deal.objects.filter(pk=deal.pk).update(custom={"competitor": "A社"})
    deal.refresh_from_db()
    data = {
        "name": deal.name,
        "amount": str(int(deal.amount)),
        "probability": str(deal.probability),
        "expected_close_date": deal.expected_close_date.isoformat(),
        "source": deal.source,
        "version": deal.version,
        "custom.competitor": "A社",
        "custom.seats": "30",
    }
    html = owner_client.post(reverse("pipeline:deal_edit", args=[deal.pk]), data, **HTMX).content.decode()
    assert html.lstrip().startswith('<div id="overview"') and "ライセンス数" in html
    deal.refresh_from_db()
    assert deal.custom == {"competitor": "A社", "seats": 30} and deal.version == 2


def test_a_deal_made_from_a_handoff_needs_no_custom_values(owner, fields):
    from pipeline.services import deal_create

    deal = deal_create(name="from handoff", owner=owner, by=None)
    assert deal.custom == {}


def test_the_deal_api_round_trip_and_422(client, owner, stages, api_key_for, fields):
    headers = api_key_for(owner)
    body = {"name": "API商談", "custom": {"competitor": "A社", "seats": 10}}
    created = client.post("/api/v1/deals", json.dumps(body), content_type="application/json", **headers)
    assert created.status_code == 201, created.content
    deal_id = created.json()["id"]
    assert created.json()["custom"] == {"competitor": "A社", "seats": 10}
    assert client.get(f"/api/v1/deals/{deal_id}", **headers).json()["custom"] == {
        "competitor": "A社",
        "seats": 10,
    }
    assert client.get("/api/v1/deals", **headers).json()["items"][0]["custom"]["seats"] == 10

    patched = client.patch(
        f"/api/v1/deals/{deal_id}",
        json.dumps({"custom": {"seats": 12}}),
        content_type="application/json",
        **headers,
    )
    assert patched.status_code == 200 and patched.json()["custom"] == {"competitor": "A社", "seats": 12}

    bad = client.patch(
        f"/api/v1/deals/{deal_id}",
        json.dumps({"custom": {"seats": "many", "competitor": "C社"}}),
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="en",
        **headers,
    )
    assert bad.status_code == 422
    locs = {tuple(e["loc"]) for e in bad.json()["detail"]}
    assert locs == {("body", "custom", "seats"), ("body", "custom", "competitor")}

    missing = client.post(
        "/api/v1/deals", json.dumps({"name": "no competitor"}), content_type="application/json", **headers
    )
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "custom", "competitor"]
