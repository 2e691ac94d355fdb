"""The API's list endpoints take `created_since` / `updated_since` (ISO 8601 with its time zone): each filters its
rows, a bad value answers 422 naming the parameter, the cursor pages through the filtered rows, and a filtered page
costs the queries an unfiltered one does."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from urllib.parse import quote

import pytest
from django.db import connection
from django.db.models import Model
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leads.models import Campaign, Company, Handoff, Lead
from pipeline.models import Activity, Deal
from pipeline.services import pipeline_ensure_default
from salesmarketing.services import api_key_create
from tests.leads.factories import CampaignFactory, HandoffFactory, make_company, make_lead
from tests.pipeline.factories import make_deal

pytestmark = pytest.mark.django_db


def _deal(owner) -> Deal:
    pipeline_ensure_default()
    return make_deal(owner=owner)


# endpoint → (its model, a maker of one row given a user)
ENDPOINTS: dict[str, tuple[type[Model], Callable[..., Model]]] = {
    "leads": (Lead, lambda owner: make_lead()),
    "companies": (Company, lambda owner: make_company()),
    "deals": (Deal, _deal),
    "handoffs": (Handoff, lambda owner: HandoffFactory()),
    "activities": (
        Activity,
        lambda owner: Activity.objects.create(lead=make_lead(), type="call", subject="電話"),
    ),
    "campaigns": (Campaign, lambda owner: CampaignFactory()),
}


@pytest.fixture
def auth() -> dict:
    _key, plain = api_key_create(name="sync", source="crm")  # an integration's key: every row
    return {"HTTP_AUTHORIZATION": f"Bearer {plain}"}


def _rows(endpoint: str, owner) -> tuple[list[int], dt.datetime]:
    """Six rows: row i created 30 − i days ago; the odd ones updated an hour ago, the even ones never since."""
    model, make = ENDPOINTS[endpoint]
    now = timezone.now()
    ids = [make(owner).pk for _ in range(6)]
    for i, pk in enumerate(ids):
        created = now - dt.timedelta(days=30 - i)
        updated = now - dt.timedelta(hours=1) if i % 2 else created
        model._default_manager.filter(pk=pk).update(created_at=created, updated_at=updated)
    return ids, now


def _get(client, auth, url: str) -> dict:
    response = client.get(url, **auth)
    assert response.status_code == 200, response.content
    return response.json()


def _pages(client, auth, url: str) -> list[list[int]]:
    pages, cursor = [], None
    while True:
        body = _get(client, auth, url + "&limit=1" + (f"&cursor={cursor}" if cursor else ""))
        pages.append([row["id"] for row in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return [page for page in pages if page]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_each_list_filters_by_created_and_updated_since_and_pages_through_them(client, auth, owner, endpoint):
    ids, now = _rows(endpoint, owner)
    created_since = quote((now - dt.timedelta(days=27, hours=12)).isoformat())  # rows 3, 4 and 5
    updated_since = quote((now - dt.timedelta(hours=2)).astimezone(dt.UTC).isoformat())  # rows 1, 3 and 5
    url = f"/api/v1/{endpoint}?"

    created = _get(client, auth, f"{url}created_since={created_since}")["items"]
    updated = _get(client, auth, f"{url}updated_since={updated_since}")["items"]
    both = _get(client, auth, f"{url}created_since={created_since}&updated_since={updated_since}")["items"]

    assert {row["id"] for row in created} == {ids[3], ids[4], ids[5]}
    assert {row["id"] for row in updated} == {ids[1], ids[3], ids[5]}
    assert {row["id"] for row in both} == {ids[3], ids[5]}
    pages = _pages(client, auth, f"{url}updated_since={updated_since}")
    assert sorted(sum(pages, [])) == sorted([ids[1], ids[3], ids[5]]) and len(pages) == 3  # one row a page


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("name", ["created_since", "updated_since"])
def test_a_bad_moment_answers_422_naming_the_parameter(client, auth, endpoint, name):
    response = client.get(f"/api/v1/{endpoint}?{name}=2026-12-01T09:00:00", **auth)  # no time zone

    assert response.status_code == 422 and response["Content-Type"].startswith("application/json")
    (error,) = response.json()["detail"]
    assert error["loc"] == ["query", name] and "ISO 8601" in error["msg"]


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("2026-12-01T09:00:00%2B09:00", True),
        ("2026-12-01T09:00:00+09:00", True),  # the "+" unencoded: a space, taken as meant
        ("2026-12-01T00:00:00Z", True),
        ("2026-12-01", False),  # a day: which day, where?
        ("1764547200", False),
        ("yesterday", False),
        ("2026-13-01T00:00:00Z", False),
        ("0001-01-01T00:00:00%2B09:00", False),  # a moment the database cannot hold
    ],
)
def test_what_counts_as_a_moment(client, auth, value, ok):
    response = client.get(f"/api/v1/leads?updated_since={value}", **auth)

    assert response.status_code == (200 if ok else 422)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_filtered_page_costs_what_an_unfiltered_one_does(client, auth, owner, endpoint):
    _rows(endpoint, owner)
    client.get(f"/api/v1/{endpoint}", **auth)  # the key's last_used_at is written once a minute
    counts = []
    for query in ("", "?created_since=2020-01-01T00:00:00Z&updated_since=2020-01-01T00:00:00Z"):
        with CaptureQueriesContext(connection) as captured:
            assert len(_get(client, auth, f"/api/v1/{endpoint}{query}")["items"]) == 6
        counts.append(len(captured.captured_queries))
    assert counts[0] == counts[1]
