"""'My handoffs' page and the handoffs API; the scoring page."""

from __future__ import annotations

import pytest

from leads.handoffs import handoff_assign
from leads.models import Handoff, Lead, ScoringConfig, ScoringRule, TerritoryRule
from leads.scoring.defaults import ensure_default_scoring
from leads.services import company_resolve, lead_upsert
from salesmarketing.models import User
from salesmarketing.services import api_key_create
from tests.salesmarketing.factories import UserFactory

pytestmark = pytest.mark.django_db


def _assigned(email, rep):
    """A handoff given to `rep` (a territory rule sends the lead's region to the rep's team)."""
    region = f"r{rep.pk}"
    TerritoryRule.objects.get_or_create(team=rep.team, region=region, defaults={"priority": 1})
    company = company_resolve(name=f"{email} 社", domain=f"{email.split('@')[1]}.{rep.pk}", region=region)
    lead, _ = lead_upsert(email=email, source="api", title="部長", company=company)
    handoff = Handoff.objects.create(
        lead=lead, mql_at=lead.created_at, score_at_handoff=70, reason="デモ依頼 +40"
    )
    handoff = handoff_assign(handoff_id=handoff.pk)
    assert handoff.owner == rep
    return handoff


def test_rep_sees_own_open_handoffs_with_sla_and_reason(client, owner, outsider):
    mine = _assigned("mine@example.jp", owner)
    _assigned("theirs@example.jp", outsider)
    client.force_login(owner)
    html = client.get("/leads/handoffs/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "mine@example.jp" in html and "theirs@example.jp" not in html
    assert "デモ依頼 +40" in html
    assert " left<" in html or " over<" in html  # the SLA countdown
    assert f'id="handoff-{mine.pk}"' in html


def test_other_reps_handoff_answers_404_and_marketing_cannot_act(client, owner, outsider, marketer):
    theirs = _assigned("theirs@example.jp", outsider)
    client.force_login(owner)
    for action in ("touch", "accept", "reject"):
        assert client.post(f"/leads/handoffs/{theirs.pk}/{action}", {"reason": "other"}).status_code == 404
    client.force_login(marketer)
    assert client.get("/leads/handoffs/").status_code == 200
    assert client.post(f"/leads/handoffs/{theirs.pk}/accept").status_code == 404


def test_a_manager_sees_the_handoffs_of_the_teams_they_manage_as_with_deals(
    client, owner, outsider, marketer
):
    ours = _assigned("ours@example.jp", owner)
    managed = _assigned("managed@example.jp", outsider)
    boss = UserFactory(username="boss", role=User.Role.MANAGER, team=None)
    outsider.team.manager = boss
    outsider.team.save()
    client.force_login(boss)

    html = client.get("/leads/handoffs/").content.decode()

    assert "managed@example.jp" in html and "ours@example.jp" not in html
    assert client.post(f"/leads/handoffs/{ours.pk}/accept").status_code == 404
    assert client.post(f"/leads/handoffs/{managed.pk}/touch").status_code != 404


def test_first_touch_then_accept_over_htmx(client, owner):
    handoff = _assigned("a@example.jp", owner)
    client.force_login(owner)
    row = client.post(f"/leads/handoffs/{handoff.pk}/touch", HTTP_HX_REQUEST="true")
    assert row.status_code == 200 and row.content.decode().lstrip().startswith("<tr")
    handoff.refresh_from_db()
    assert handoff.state == Handoff.State.WORKING
    response = client.post(f"/leads/handoffs/{handoff.pk}/accept", HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and response["HX-Redirect"]
    handoff.refresh_from_db()
    assert handoff.state == Handoff.State.ACCEPTED


def test_reject_needs_a_note_for_other_and_shows_the_error_next_to_the_field(client, owner):
    handoff = _assigned("b@example.jp", owner)
    client.force_login(owner)
    response = client.post(
        f"/leads/handoffs/{handoff.pk}/reject",
        {"reason": "other", "note": ""},
        HTTP_HX_REQUEST="true",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 422
    assert 'class="field has-error"' in response.content.decode()
    handoff.refresh_from_db()
    assert handoff.state == Handoff.State.ASSIGNED
    client.post(f"/leads/handoffs/{handoff.pk}/reject", {"reason": "too_early", "note": "来期検討"})
    handoff.refresh_from_db()
    assert (handoff.state, handoff.reject_reason, handoff.reject_note) == (
        "rejected",
        "too_early",
        "来期検討",
    )


def test_api_lists_accepts_and_rejects_with_json_errors(client, owner):
    first = _assigned("c@example.jp", owner)
    second = _assigned("d@example.jp", owner)
    _, key = api_key_create(name="CRM sync", source="crm", scopes=["handoffs:write"], user=owner)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    listed = client.get("/api/v1/handoffs?state=open", **auth).json()["items"]
    assert {h["id"] for h in listed} == {first.pk, second.pk}
    assert listed[0]["reason"] == "デモ依頼 +40"

    accepted = client.post(f"/api/v1/handoffs/{first.pk}/accept", **auth)
    assert accepted.status_code == 200 and accepted.json()["state"] == "accepted"
    assert client.post(f"/api/v1/handoffs/{first.pk}/accept", **auth).status_code == 200  # idempotent
    conflict = client.post(
        f"/api/v1/handoffs/{first.pk}/reject",
        {"reason": "not_a_fit"},
        content_type="application/json",
        **auth,
    )
    assert conflict.status_code == 409 and "detail" in conflict.json()

    bad = client.post(
        f"/api/v1/handoffs/{second.pk}/reject", {"reason": "bored"}, content_type="application/json", **auth
    )
    assert bad.status_code == 422 and bad.json()["detail"]
    unknown = client.post(
        f"/api/v1/handoffs/{second.pk}/reject",
        {"reason": "too_early", "notes": "typo of note"},
        content_type="application/json",
        **auth,
    )
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["type"] == "extra_forbidden"
    ok = client.post(
        f"/api/v1/handoffs/{second.pk}/reject",
        {"reason": "too_early", "note": "来期"},
        content_type="application/json",
        **auth,
    )
    assert ok.json()["reject_reason"] == "too_early"
    assert Lead.objects.get(email="d@example.jp").lifecycle_stage == "recycled"
    assert client.post("/api/v1/handoffs/999999/accept", **auth).status_code == 404


def test_api_needs_a_key_with_the_scope(client, owner):
    _, key = api_key_create(name="events only", source="web", scopes=["events:write"])
    assert client.get("/api/v1/handoffs").status_code == 401
    response = client.get("/api/v1/handoffs", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 403 and "handoffs:write" in response.json()["detail"]


def test_marketer_edits_a_rule_and_everyone_is_rescored(client, marketer, django_capture_on_commit_callbacks):
    ensure_default_scoring()
    lead, _ = lead_upsert(email="e@example.jp", source="api", title="部長")
    client.force_login(marketer)
    assert "部長" in client.get("/leads/scoring/").content.decode()
    rule = ScoringRule.objects.get(name="部長")
    data = {
        "kind": "fit", "name": "部長", "group": rule.group_id, "points": 12, "is_active": "on",
        "field": "title", "operator": "contains", "value": "部長", "half_life_days": 30,
    }  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/leads/scoring/rules/{rule.pk}/", data)
    assert response.status_code == 302
    assert ScoringConfig.get().version == 2
    lead.refresh_from_db()
    assert lead.fit_score == 12
    progress = client.get("/leads/scoring/progress", HTTP_HX_REQUEST="true").content.decode()
    assert 'id="rescore-progress"' in progress and "every 2s" not in progress  # finished: no more polling


def test_a_fit_rule_without_a_field_is_refused_next_to_the_field(client, marketer, owner):
    ensure_default_scoring()
    client.force_login(marketer)
    response = client.post(
        "/leads/scoring/rules/new", {"kind": "fit", "name": "x", "points": 5, "half_life_days": 30}
    )
    assert response.status_code == 422 and 'class="field has-error"' in response.content.decode()
    client.force_login(owner)  # sales reps see the model but cannot change it
    assert client.get("/leads/scoring/").status_code == 200
    assert (
        client.post("/leads/scoring/thresholds", {"fit_threshold": 0, "total_threshold": 1}).status_code
        == 403
    )
