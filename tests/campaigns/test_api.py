"""GET /api/v1/campaigns (and one campaign), a campaign's costs: listed, and added through campaigns' cost
service with its checks (422 naming the field), by the people who may change campaigns on the pages."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from campaigns.models import CampaignCost
from campaigns.services import cost_add
from leads.models import Campaign
from salesmarketing.services import api_key_create

pytestmark = pytest.mark.django_db


def _auth(user=None, scopes=("campaigns:read", "campaigns:write")) -> dict:
    _key, plain = api_key_create(name="ads", source="ads", scopes=list(scopes), user=user)
    return {"HTTP_AUTHORIZATION": f"Bearer {plain}"}


def _post_cost(client, campaign, body, auth):
    return client.post(
        f"/api/v1/campaigns/{campaign.pk}/costs", json.dumps(body), content_type="application/json", **auth
    )


@pytest.fixture
def campaign():
    return Campaign.objects.create(
        name="残業削減ウェビナー", channel="webinar", utm_campaign="zangyo", budget=500_000, status="active"
    )


def test_campaigns_are_listed_filtered_and_paged(client, campaign, owner, django_assert_num_queries):
    others = [Campaign.objects.create(name=f"展示会{n}", channel="trade_show") for n in range(3)]
    auth = _auth(owner, scopes=["campaigns:read"])  # a rep reads campaigns, as on the pages
    client.get("/api/v1/campaigns", **auth)

    with django_assert_num_queries(2):
        everything = client.get("/api/v1/campaigns?limit=200", **auth).json()
    first = client.get("/api/v1/campaigns?limit=3", **auth).json()
    rest = client.get(f"/api/v1/campaigns?limit=3&cursor={first['next_cursor']}", **auth).json()
    by_utm = client.get("/api/v1/campaigns?utm_campaign=zangyo", **auth).json()["items"]
    by_channel = client.get("/api/v1/campaigns?channel=trade_show", **auth).json()["items"]

    expected = [c.pk for c in reversed([campaign, *others])]
    assert [c["id"] for c in everything["items"]] == expected
    assert [c["id"] for c in first["items"] + rest["items"]] == expected and rest["next_cursor"] is None
    assert [c["id"] for c in by_utm] == [campaign.pk] and by_utm[0]["budget"] == 500_000
    assert len(by_channel) == 3
    assert client.get(f"/api/v1/campaigns/{campaign.pk}", **auth).json()["name"] == "残業削減ウェビナー"
    assert client.get("/api/v1/campaigns/999999", **auth).status_code == 404


def test_a_cost_is_added_and_listed(client, campaign, marketer):
    cost_add(campaign=campaign, date=dt.date(2026, 11, 1), amount=1000)
    auth = _auth(marketer)

    added = _post_cost(
        client,
        campaign,
        {"date": "2026-11-02", "amount": 120_000, "external_id": "g-1", "description": "検索広告"},
        auth,
    )
    costs = client.get(f"/api/v1/campaigns/{campaign.pk}/costs", **auth).json()

    assert added.status_code == 201, added.content
    assert added.json()["amount"] == 120_000
    assert [c["amount"] for c in costs["items"]] == [120_000, 1000]
    assert CampaignCost.objects.get(external_id="g-1").description == "検索広告"


def test_a_cost_line_sent_twice_is_refused_naming_its_external_id(client, campaign):
    auth = _auth()
    body = {"date": "2026-11-02", "amount": 5000, "external_id": "row-7"}

    first = _post_cost(client, campaign, body, auth)
    again = _post_cost(client, campaign, body, auth)
    negative = _post_cost(client, campaign, {"date": "2026-11-02", "amount": -1}, auth)

    assert (first.status_code, again.status_code, negative.status_code) == (201, 422, 422)
    assert again.json()["detail"][0]["loc"] == ["body", "external_id"]
    assert negative.json()["detail"][0]["loc"][-1] == "amount"
    assert CampaignCost.objects.filter(campaign=campaign).count() == 1


def test_a_reps_key_may_not_add_costs(client, campaign, owner):
    response = _post_cost(client, campaign, {"date": "2026-11-02", "amount": 1}, _auth(owner))

    assert response.status_code == 403
    assert not CampaignCost.objects.exists()


def test_adding_a_cost_needs_the_write_scope(client, campaign):
    response = _post_cost(
        client, campaign, {"date": "2026-11-02", "amount": 1}, _auth(scopes=["campaigns:read"])
    )

    assert response.status_code == 403 and "campaigns:write" in response.json()["detail"]
