"""GET /api/v1/deals, /activities, /pipelines, /stages and POST /activities: the key's user's visibility as on
the pages, cursor pagination, fixed query counts; an activity logged through the API (or a `sales_activity`
event) stops the lead's handoff SLA clock as the lead page does."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from leads.models import Handoff
from pipeline.models import Activity
from pipeline.services import activity_log
from salesmarketing.services import api_key_create
from tests.leads.factories import make_lead
from tests.pipeline.factories import make_deal

pytestmark = pytest.mark.django_db


def _auth(user=None, scopes=("deals:write", "activities:write")) -> dict:
    _key, plain = api_key_create(name="sync", source="crm", scopes=list(scopes), user=user)
    return {"HTTP_AUTHORIZATION": f"Bearer {plain}"}


def _post(client, url, body, auth):
    return client.post(url, json.dumps(body), content_type="application/json", **auth)


def _ids(response) -> list[int]:
    return [row["id"] for row in response.json()["items"]]


# --- deals -----------------------------------------------------------------------------------------------


def test_deals_are_listed_as_the_board_shows_them(client, owner, teammate, manager, marketer, stages):
    mine = make_deal(owner=owner)
    teammates = make_deal(owner=teammate)

    listed = {
        who: set(_ids(client.get("/api/v1/deals", **_auth(user))))
        for who, user in {
            "owner": owner,
            "manager": manager,
            "marketer": marketer,
            "integration": None,
        }.items()
    }

    assert listed == {
        "owner": {mine.pk},
        "manager": {mine.pk, teammates.pk},
        "marketer": {mine.pk, teammates.pk},  # marketing reads every deal, as on the board
        "integration": {mine.pk, teammates.pk},
    }
    # …and reads each one, as on the deal page; another rep's is 404.
    assert client.get(f"/api/v1/deals/{teammates.pk}", **_auth(marketer)).status_code == 200
    assert client.get(f"/api/v1/deals/{teammates.pk}", **_auth(owner)).status_code == 404


def test_deals_filter_and_page(client, owner, stages, django_assert_num_queries):
    lead = make_lead(owner=owner)
    deals = [make_deal(owner=owner, stage=stages["Proposal"]) for _ in range(4)]
    with_contact = make_deal(owner=owner, contact=lead)
    auth = _auth()
    client.get("/api/v1/deals", **auth)

    first = client.get("/api/v1/deals?limit=3", **auth).json()
    second = client.get(f"/api/v1/deals?limit=3&cursor={first['next_cursor']}", **auth).json()
    # the key, the page (company and stage joined), the custom fields offered to the API (leads.custom_fields)
    with django_assert_num_queries(3):
        by_stage = client.get(f"/api/v1/deals?stage={stages['Proposal'].pk}&limit=200", **auth)

    assert [d["id"] for d in first["items"] + second["items"]] == [
        with_contact.pk,
        *reversed([d.pk for d in deals]),
    ]
    assert second["next_cursor"] is None
    assert set(_ids(by_stage)) == {d.pk for d in deals}
    assert _ids(client.get(f"/api/v1/deals?lead={lead.pk}", **auth)) == [with_contact.pk]
    assert _ids(client.get("/api/v1/deals?status=won", **auth)) == []


# --- activities ------------------------------------------------------------------------------------------


def _open_handoff(lead, owner, *, assigned_minutes_ago: int = 30) -> Handoff:
    at = timezone.now() - dt.timedelta(minutes=assigned_minutes_ago)
    return Handoff.objects.create(
        lead=lead,
        owner=owner,
        team=owner.team,
        state=Handoff.State.ASSIGNED,
        mql_at=at,
        assigned_at=at,
        sla_due_at=at + dt.timedelta(hours=4),
    )


def test_a_call_logged_through_the_api_stops_the_handoffs_sla_clock(client, owner):
    lead = make_lead(owner=owner)
    handoff = _open_handoff(lead, owner)

    response = _post(
        client,
        "/api/v1/activities",
        {"type": "call", "subject": "初回架電", "lead_id": lead.pk, "outcome": "資料送付"},
        _auth(owner),
    )

    assert response.status_code == 201, response.content
    activity = Activity.objects.get(pk=response.json()["id"])
    assert (activity.lead_id, activity.created_by_id, activity.type) == (lead.pk, owner.pk, "call")
    handoff.refresh_from_db()
    assert handoff.first_touch_at == activity.occurred_at
    assert handoff.state == Handoff.State.WORKING


def test_a_meeting_on_a_deal_touches_its_contacts_handoff(client, owner, stages):
    lead = make_lead(owner=owner)
    handoff = _open_handoff(lead, owner)
    deal = make_deal(owner=owner, contact=lead)
    at = timezone.now() - dt.timedelta(minutes=5)

    response = _post(
        client,
        "/api/v1/activities",
        {"type": "meeting", "subject": "訪問", "deal_id": deal.pk, "occurred_at": at.isoformat()},
        _auth(owner),
    )

    assert response.status_code == 201
    assert response.json()["lead_id"] == lead.pk
    handoff.refresh_from_db()
    assert handoff.first_touch_at == at


def test_a_sales_activity_event_stops_the_sla_clock_too(client, owner):
    lead = make_lead(owner=owner)
    handoff = _open_handoff(lead, owner)
    at = timezone.now() - dt.timedelta(minutes=1)
    event = {"id": "call-1", "type": "sales_activity", "lead_id": lead.pk, "occurred_at": at.isoformat()}

    response = _post(client, "/api/v1/events", {"events": [event]}, _auth(owner, scopes=["events:write"]))

    assert response.json()["accepted"] == 1
    handoff.refresh_from_db()
    assert handoff.first_touch_at == at and handoff.state == Handoff.State.WORKING


def test_an_activity_on_a_record_the_key_cannot_reach_is_refused(client, owner, outsider, stages):
    theirs = make_lead(owner=outsider)
    handoff = _open_handoff(theirs, outsider)
    their_deal = make_deal(owner=outsider)
    auth = _auth(owner)

    on_lead = _post(
        client, "/api/v1/activities", {"type": "call", "subject": "x", "lead_id": theirs.pk}, auth
    )
    on_deal = _post(
        client, "/api/v1/activities", {"type": "call", "subject": "x", "deal_id": their_deal.pk}, auth
    )
    on_nothing = _post(client, "/api/v1/activities", {"type": "call", "subject": "x"}, auth)

    assert [r.status_code for r in (on_lead, on_deal, on_nothing)] == [422, 422, 422]
    assert on_lead.json()["detail"][0]["loc"] == ["body", "lead_id"]
    assert on_deal.json()["detail"][0]["loc"] == ["body", "deal_id"]
    assert not Activity.objects.exists()
    handoff.refresh_from_db()
    assert handoff.first_touch_at is None


def test_activities_are_listed_as_the_pages_show_them(
    client, owner, outsider, stages, django_assert_num_queries
):
    lead = make_lead(owner=owner)
    deal = make_deal(owner=owner)
    theirs = make_lead(owner=outsider)
    on_lead = [activity_log(by=owner, type="call", subject=f"電話{n}", lead=lead) for n in range(3)]
    on_deal = activity_log(by=owner, type="demo", subject="デモ", deal=deal)
    activity_log(by=outsider, type="call", subject="他課", lead=theirs)
    auth = _auth(owner)
    client.get("/api/v1/activities", **auth)

    with django_assert_num_queries(2):
        everything = client.get("/api/v1/activities?limit=200", **auth)
    first = client.get("/api/v1/activities?limit=2", **auth).json()
    rest = client.get(f"/api/v1/activities?limit=2&cursor={first['next_cursor']}", **auth).json()

    expected = [on_deal.pk, *reversed([a.pk for a in on_lead])]
    assert _ids(everything) == expected
    assert [a["id"] for a in first["items"] + rest["items"]] == expected
    assert _ids(client.get(f"/api/v1/activities?deal={deal.pk}", **auth)) == [on_deal.pk]
    assert _ids(client.get("/api/v1/activities?type=call", **auth)) == expected[1:]
    assert _ids(client.get(f"/api/v1/activities?lead={theirs.pk}", **auth)) == []


def test_activities_need_their_scope(client, owner):
    response = client.get("/api/v1/activities", **_auth(owner, scopes=["deals:write"]))

    assert response.status_code == 403 and "activities:write" in response.json()["detail"]


# --- lookups ---------------------------------------------------------------------------------------------


def test_pipelines_and_stages_for_any_key(client, pipeline, stages):
    auth = _auth(scopes=[])

    pipelines = client.get("/api/v1/pipelines", **auth).json()
    listed = client.get(f"/api/v1/stages?pipeline={pipeline.pk}", **auth).json()

    assert [p["id"] for p in pipelines] == [pipeline.pk]
    assert [s["name_en"] for s in pipelines[0]["stages"]] == [s["name_en"] for s in listed]
    assert [s["id"] for s in listed] == [s.pk for s in sorted(stages.values(), key=lambda s: s.order)]
    assert client.get("/api/v1/stages").status_code == 401
