"""Segments over the API: CRUD, counts and members (only what the key's user sees), static members, 422 with the
rule's location, 404, scopes and roles."""

from __future__ import annotations

import json

import pytest

from nurture.models import Segment, SegmentMember
from salesmarketing.services import api_key_create
from tests.nurture.factories import (
    SegmentFactory,
    SegmentMemberFactory,
    SegmentStaticFactory,
    segment_lead,
    segment_scores,
)

pytestmark = pytest.mark.django_db

ALL = ["segments:read", "segments:write", "leads:read"]
SEMI = {"op": "and", "rules": [{"field": "awareness", "op": "eq", "value": "semi"}]}


class Api:
    def __init__(self, client, *, scopes=ALL, user=None):
        _key, plain = api_key_create(name="seg", source="seg", scopes=list(scopes), user=user)
        self.client, self.headers = client, {"HTTP_AUTHORIZATION": f"Bearer {plain}"}

    def __call__(self, method: str, path: str, body=None, **params):
        kwargs = dict(self.headers)
        if body is not None:
            kwargs |= {"data": json.dumps(body), "content_type": "application/json"}
        elif params:
            kwargs["data"] = params
        return getattr(self.client, method)(f"/api/v1{path}", **kwargs)


def test_crud(client, marketer):
    api = Api(client, user=marketer)
    created = api("post", "/segments", {"name": "準顕在層", "rules": SEMI})
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["name"] == "準顕在層" and body["kind"] == "dynamic" and body["created_by_id"] == marketer.pk
    pk = body["id"]
    assert api("get", f"/segments/{pk}").json()["rules"] == SEMI
    assert [s["id"] for s in api("get", "/segments").json()] == [pk]
    patched = api("patch", f"/segments/{pk}", {"name": "改名"})
    assert patched.status_code == 200 and patched.json()["name"] == "改名" and patched.json()["rules"] == SEMI
    assert api("delete", f"/segments/{pk}").status_code == 204
    assert api("get", f"/segments/{pk}").status_code == 404
    assert not Segment.objects.exists()


def test_invalid_rules_answer_422_with_the_rules_location(client):
    api = Api(client)
    bad = {
        "op": "and",
        "rules": [SEMI["rules"][0], {"field": "engagement_score", "op": "gte", "value": "20"}],
    }
    response = api("post", "/segments", {"name": "x", "rules": bad})
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [
        ["body", "payload", "rules", "rules", 1, "value"]
    ]
    assert not Segment.objects.exists()
    assert (
        api("post", "/segments", {"name": "x", "rules": SEMI, "colour": "red"}).status_code == 422
    )  # strict
    segment = SegmentFactory(rules=SEMI)
    assert api("patch", f"/segments/{segment.pk}", {"rules": bad}).status_code == 422
    assert api("post", "/segments/count", {"rules": bad}).status_code == 422


def test_count_and_members_are_what_the_keys_user_sees(client, owner, outsider, marketer):
    mine = segment_scores(segment_lead(owner=owner, awareness_stage="semi"), engagement=10)
    segment_lead(owner=outsider, awareness_stage="semi")
    segment = SegmentFactory(rules=SEMI)
    as_rep = Api(client, user=owner)
    assert as_rep("get", f"/segments/{segment.pk}/count").json() == {"count": 1, "total": 2}
    members = as_rep("get", f"/segments/{segment.pk}/members").json()
    assert [m["id"] for m in members["items"]] == [mine.pk] and members["next_after"] is None
    assert Api(client)("get", f"/segments/{segment.pk}/count").json() == {"count": 2, "total": 2}
    assert Api(client, user=marketer)("post", "/segments/count", {"rules": SEMI}).json() == {
        "count": 2,
        "total": 2,
    }


def test_members_page_by_keyset(client):
    leads = [segment_lead(awareness_stage="semi") for _ in range(3)]
    segment = SegmentFactory(rules=SEMI)
    api = Api(client)
    first = api("get", f"/segments/{segment.pk}/members").json()
    assert [m["id"] for m in first["items"]] == sorted((lead.pk for lead in leads), reverse=True)
    after = api("get", f"/segments/{segment.pk}/members", after=leads[1].pk).json()
    assert [m["id"] for m in after["items"]] == [leads[0].pk]
    assert api("get", f"/segments/{segment.pk}/members", after=0).status_code == 422


def test_static_members_add_and_remove(client, owner, outsider):
    mine, theirs = segment_lead(owner=owner), segment_lead(owner=outsider)
    segment = SegmentStaticFactory()
    reps_key = Api(client, user=owner)  # a rep may not change segments at all
    assert reps_key("post", f"/segments/{segment.pk}/members", {"lead_ids": [mine.pk]}).status_code == 403
    api = Api(client)
    added = api("post", f"/segments/{segment.pk}/members", {"lead_ids": [mine.pk, theirs.pk, mine.pk]})
    assert added.status_code == 200 and added.json() == {"changed": 2}
    assert api("post", f"/segments/{segment.pk}/members", {"lead_ids": [mine.pk]}).json() == {"changed": 0}
    assert api("post", f"/segments/{segment.pk}/members", {"lead_ids": [999999]}).status_code == 404
    removed = api("post", f"/segments/{segment.pk}/members/remove", {"lead_ids": [theirs.pk]})
    assert removed.json() == {"changed": 1}
    assert list(SegmentMember.objects.values_list("lead_id", flat=True)) == [mine.pk]
    dynamic = SegmentFactory(rules=SEMI)
    assert api("post", f"/segments/{dynamic.pk}/members", {"lead_ids": [mine.pk]}).status_code == 422


@pytest.mark.parametrize(
    ("method", "path", "body", "scopes"),
    [
        ("get", "/segments", None, ["segments:write", "leads:read"]),
        ("post", "/segments", {"name": "x", "rules": SEMI}, ["segments:read", "leads:read"]),
        ("get", "/segments/{pk}/members", None, ["segments:read"]),
        ("get", "/segments/{pk}/count", None, ["leads:read"]),
        ("delete", "/segments/{pk}", None, ["segments:read"]),
    ],
)
def test_scopes(client, method, path, body, scopes):
    segment = SegmentFactory(rules=SEMI)
    response = Api(client, scopes=scopes)(method, path.format(pk=segment.pk), body)
    assert response.status_code == 403


def test_unknown_segments_are_404_and_a_session_is_not_a_key(client, marketer):
    api = Api(client)
    for method in ("get", "delete"):
        assert api(method, "/segments/999999").status_code == 404
    assert api("get", "/segments/999999/members").status_code == 404
    assert api("post", "/segments/999999/members", {"lead_ids": [1]}).status_code == 404
    client.force_login(marketer)
    assert client.get("/api/v1/segments").status_code == 401


def test_deleting_a_segment_deletes_its_list(client):
    member = SegmentMemberFactory(lead=segment_lead())
    Api(client)("delete", f"/segments/{member.segment_id}")
    assert not SegmentMember.objects.exists()
