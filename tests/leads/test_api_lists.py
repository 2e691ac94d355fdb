"""GET /api/v1/leads, /companies and /handoffs: the key's user's visibility, filters, cursor pagination (opaque
cursor, newest first, a capped limit), a fixed number of queries; companies created and updated through the
records services, their refusals answered 422 naming the field."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from leads.models import Company, Handoff, Lead
from salesmarketing.api import MAX_LIMIT
from salesmarketing.services import api_key_create
from tests.leads.factories import make_company, make_lead

pytestmark = pytest.mark.django_db

ALL = ("leads:read", "leads:write", "handoffs:write")


def _auth(user=None, scopes=ALL) -> dict:
    _key, plain = api_key_create(name="sync", source="crm", scopes=list(scopes), user=user)
    return {"HTTP_AUTHORIZATION": f"Bearer {plain}"}


def _all_pages(client, url: str, auth: dict, limit: int) -> list[list[int]]:
    pages, cursor = [], None
    while True:
        sep = "&" if "?" in url else "?"
        query = f"{sep}limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        body = client.get(url + query, **auth).json()
        pages.append([row["id"] for row in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


# --- leads -----------------------------------------------------------------------------------------------


def test_leads_are_listed_newest_first_a_page_at_a_time(client):
    leads = [make_lead() for _ in range(5)]
    same_moment = timezone.now()
    Lead.objects.filter(pk__in=[lead.pk for lead in leads[1:4]]).update(created_at=same_moment)

    pages = _all_pages(client, "/api/v1/leads", _auth(), limit=2)

    ordered = list(Lead.objects.order_by("-created_at", "-id").values_list("pk", flat=True))
    assert [len(p) for p in pages] == [2, 2, 1]
    assert sum(pages, []) == ordered  # rows sharing a created_at neither repeat nor vanish


def test_a_reps_key_lists_only_the_teams_leads(client, owner, teammate, outsider):
    mine = make_lead(owner=owner)
    ours = make_lead(owner=teammate)
    make_lead(owner=outsider)
    make_lead()  # nobody's

    body = client.get("/api/v1/leads", **_auth(owner)).json()

    assert {row["id"] for row in body["items"]} == {mine.pk, ours.pk}
    assert body["next_cursor"] is None


def test_leads_filter_by_stage_owner_and_company(client, owner):
    company = make_company()
    at_company = make_lead(company=company, owner=owner)
    make_lead(owner=owner)
    Lead.objects.filter(pk=at_company.pk).update(lifecycle_stage="mql")
    auth = _auth()

    by_company = client.get(f"/api/v1/leads?company={company.pk}", **auth).json()["items"]
    by_stage = client.get("/api/v1/leads?lifecycle_stage=mql", **auth).json()["items"]
    by_owner = client.get(f"/api/v1/leads?owner={owner.pk}", **auth).json()["items"]

    assert [r["id"] for r in by_company] == [r["id"] for r in by_stage] == [at_company.pk]
    assert len(by_owner) == 2
    assert by_company[0]["company"]["id"] == company.pk


def test_a_lead_is_found_by_email_without_rescoring_it(client, django_capture_on_commit_callbacks):
    lead = make_lead("Taro.Yamada@Example.jp")
    before = Lead.objects.values("updated_at", "scored_at", "total_score", "engagement_score").get(pk=lead.pk)
    auth = _auth()

    with django_capture_on_commit_callbacks() as callbacks:
        found = client.get("/api/v1/leads?email=TARO.yamada@example.JP", **auth).json()
        missing = client.get("/api/v1/leads?email=nobody@example.jp", **auth).json()

    assert [row["id"] for row in found["items"]] == [lead.pk] and found["next_cursor"] is None
    assert missing == {"items": [], "next_cursor": None}
    assert callbacks == []  # no scoring task (nor anything else) queued
    after = Lead.objects.values("updated_at", "scored_at", "total_score", "engagement_score").get(pk=lead.pk)
    assert after == before


def test_another_teams_lead_is_not_found_by_email(client, owner, outsider):
    theirs = make_lead(owner=outsider)

    body = client.get(f"/api/v1/leads?email={theirs.email}", **_auth(owner)).json()

    assert body["items"] == []


def test_the_lead_list_takes_a_fixed_number_of_queries(client, django_assert_num_queries):
    auth = _auth()
    client.get("/api/v1/leads", **auth)  # the key's last_used_at is written once a minute
    for _ in range(3):
        make_lead(company=make_company())
    # the key, the custom fields offered to the API (leads.custom_fields), the page (companies joined)
    with django_assert_num_queries(3):
        small = client.get("/api/v1/leads?limit=50", **auth)
    for _ in range(12):
        make_lead(company=make_company())
    with django_assert_num_queries(3):
        large = client.get("/api/v1/leads?limit=50", **auth)
    assert (len(small.json()["items"]), len(large.json()["items"])) == (3, 15)


@pytest.mark.parametrize(
    "query",
    ["cursor=not-a-cursor", "cursor=WzEsMl0", "cursor=WyJ4IiwxXQ", f"limit={MAX_LIMIT + 1}", "limit=0"],
)
def test_a_bad_cursor_or_limit_is_a_422_naming_it(client, query):
    response = client.get(f"/api/v1/leads?{query}", **_auth())

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] in {"cursor", "limit"}


def test_listing_leads_needs_the_read_scope(client):
    response = client.get("/api/v1/leads", **_auth(scopes=["leads:write"]))

    assert response.status_code == 403 and "leads:read" in response.json()["detail"]


# --- companies -------------------------------------------------------------------------------------------


def _post(client, url, body, auth):
    return client.post(url, json.dumps(body), content_type="application/json", **auth)


def _patch(client, url, body, auth):
    return client.patch(url, json.dumps(body), content_type="application/json", **auth)


def test_a_company_is_created_and_updated_through_the_services(client):
    auth = _auth()

    created = _post(
        client,
        "/api/v1/companies",
        {"name": "株式会社API", "domain": "API.example.jp", "prefecture": "大阪府", "employee_count": 120},
        auth,
    )

    assert created.status_code == 201, created.content
    body = created.json()
    company = Company.objects.get(pk=body["id"])
    assert (company.domain, company.region, body["region"]) == ("api.example.jp", "kinki", "kinki")

    parent = make_company("株式会社親")
    updated = _patch(
        client, f"/api/v1/companies/{company.pk}", {"name_kana": "エーピーアイ", "parent_id": parent.pk}, auth
    )

    assert updated.status_code == 200
    company.refresh_from_db()
    assert (company.name, company.name_kana, company.parent_id) == ("株式会社API", "エーピーアイ", parent.pk)
    assert client.get(f"/api/v1/companies/{company.pk}", **auth).json()["parent_id"] == parent.pk


def test_what_the_service_refuses_is_a_422_naming_the_field(client):
    taken = make_company()
    child = make_company()
    Company.objects.filter(pk=taken.pk).update(parent=child)
    auth = _auth()

    duplicate = _post(client, "/api/v1/companies", {"name": "重複", "domain": taken.domain}, auth)
    bad_number = _post(
        client, "/api/v1/companies", {"name": "番号", "corporate_number": "1234567890123"}, auth
    )
    loop = _patch(client, f"/api/v1/companies/{child.pk}", {"parent_id": taken.pk}, auth)
    unknown_parent = _patch(client, f"/api/v1/companies/{child.pk}", {"parent_id": 10**9}, auth)

    assert [r.status_code for r in (duplicate, bad_number, loop, unknown_parent)] == [422] * 4
    assert duplicate.json()["detail"][0]["loc"] == ["body", "domain"]
    assert bad_number.json()["detail"][0]["loc"] == ["body", "corporate_number"]
    assert loop.json()["detail"][0]["loc"] == ["body", "parent_id"]
    assert unknown_parent.json()["detail"][0]["loc"] == ["body", "parent_id"]
    assert Company.objects.filter(name__in=["重複", "番号"]).count() == 0


def test_a_reps_key_reaches_the_companies_the_company_pages_show(client, owner, outsider):
    ours = make_company()
    make_lead(company=ours, owner=owner)
    theirs = make_company()
    make_lead(company=theirs, owner=outsider)
    unworked = make_company()
    auth = _auth(owner)

    listed = {row["id"] for row in client.get("/api/v1/companies", **auth).json()["items"]}
    read = client.get(f"/api/v1/companies/{theirs.pk}", **auth)
    changed = _patch(client, f"/api/v1/companies/{theirs.pk}", {"name": "乗っ取り"}, auth)

    assert listed == {ours.pk, unworked.pk}
    assert (read.status_code, changed.status_code) == (404, 404)
    theirs.refresh_from_db()
    assert theirs.name != "乗っ取り"


def test_companies_filter_and_page(client):
    for n in range(5):
        make_company(f"株式会社フィルタ{n}")
    make_company("有限会社ほか")
    auth = _auth()

    pages = _all_pages(client, "/api/v1/companies?q=フィルタ", auth, limit=2)
    by_domain = client.get(
        "/api/v1/companies?domain=" + Company.objects.first().domain.upper(), **auth
    ).json()

    assert [len(p) for p in pages] == [2, 2, 1]
    assert sum(pages, []) == sorted(sum(pages, []), reverse=True)
    assert len(by_domain["items"]) == 1


def test_writing_a_company_needs_the_write_scope(client):
    response = _post(client, "/api/v1/companies", {"name": "株式会社X"}, _auth(scopes=["leads:read"]))

    assert response.status_code == 403


# --- handoffs --------------------------------------------------------------------------------------------


def _handoff(lead, owner, minutes_ago: int) -> Handoff:
    at = timezone.now() - dt.timedelta(minutes=minutes_ago)
    return Handoff.objects.create(
        lead=lead, owner=owner, team=owner.team, state=Handoff.State.ASSIGNED, mql_at=at, assigned_at=at
    )


def test_handoffs_page_with_the_same_cursor_shape(client, owner, django_assert_num_queries):
    handoffs = [_handoff(make_lead(owner=owner), owner, minutes_ago=n) for n in range(5)]
    auth = _auth(scopes=["handoffs:write"])
    client.get("/api/v1/handoffs", **auth)

    pages = _all_pages(client, "/api/v1/handoffs?state=open", auth, limit=2)
    with django_assert_num_queries(2):  # the key, the page (lead and deal joined)
        client.get("/api/v1/handoffs?limit=200", **auth)

    assert sum(pages, []) == [h.pk for h in handoffs]  # newest MQL first
    by_lead = client.get(f"/api/v1/handoffs?lead={handoffs[2].lead_id}", **auth).json()
    assert [row["id"] for row in by_lead["items"]] == [handoffs[2].pk]


def test_a_reps_company_list_takes_a_fixed_number_of_queries(client, owner, django_assert_num_queries):
    auth = _auth(owner)
    client.get("/api/v1/companies", **auth)
    make_lead(company=make_company(), owner=owner)
    # the key, the page (visibility as EXISTS subqueries), the custom fields offered to the API
    with django_assert_num_queries(3):
        small = client.get("/api/v1/companies?limit=200", **auth).json()
    for _ in range(8):
        make_lead(company=make_company(), owner=owner)
    with django_assert_num_queries(3):
        large = client.get("/api/v1/companies?limit=200", **auth).json()
    assert (len(small["items"]), len(large["items"])) == (1, 9)
