"""POST/GET/PATCH /api/v1/deals: the key's user acts; every error is JSON with a 4xx status."""

from __future__ import annotations

import json

import pytest

from leads.models import Company
from pipeline.models import Deal, StageChange
from tests.leads.factories import make_company, make_lead
from tests.pipeline.factories import make_deal

pytestmark = pytest.mark.django_db
URL = "/api/v1/deals"


def _post(client, data, auth):
    return client.post(URL, json.dumps(data), content_type="application/json", **auth)


def _patch(client, deal_id, data, auth):
    return client.patch(f"{URL}/{deal_id}", json.dumps(data), content_type="application/json", **auth)


def _fields(response) -> set[str]:
    return {e["loc"][-1] for e in response.json()["detail"]}


def test_create_a_deal_as_the_keys_user(client, owner, stages, api_key_for):
    company = make_company()
    lead = make_lead(company=company)
    response = _post(
        client,
        {
            "name": "API商談",
            "company_id": company.pk,
            "contact_lead_id": lead.pk,
            "amount": 1500000,
            "source": "referral",
        },
        api_key_for(owner),
    )
    assert response.status_code == 201, response.content
    body = response.json()
    deal = Deal.objects.get(pk=body["id"])
    assert (deal.owner, deal.contact, deal.source, deal.stage) == (
        owner,
        lead,
        "referral",
        stages["Initial contact"],
    )
    assert body["stage_name_ja"] == "初回接触" and body["amount"] == "1500000" and body["status"] == "open"


def test_a_reps_key_cannot_make_another_teams_lead_a_contact(client, owner, outsider, stages, api_key_for):
    theirs = make_lead(owner=outsider)
    body = {"name": "x", "company_name": "株式会社API", "contact_lead_id": theirs.pk}

    response = _post(client, body, api_key_for(owner))

    assert response.status_code == 422 and _fields(response) == {"contact_lead_id"}
    assert response.json()["detail"][0]["msg"] == "No lead has this id."
    assert not Deal.objects.exists()
    # A key that acts for no user (an integration) may.
    assert _post(client, {**body, "owner_id": outsider.pk}, api_key_for(None)).status_code == 201


def test_a_reps_key_attaches_only_companies_the_rep_sees(
    client, owner, outsider, manager, stages, api_key_for
):
    # A company is the rep's to see when a lead of their team or a deal of theirs works there (the company
    # page's rule); the contact's own company comes with the contact.
    theirs = make_company("株式会社他課")
    make_lead(company=theirs, owner=outsider)
    via_lead, via_deal, via_contact = make_company(), make_company(), make_company()
    make_lead(company=via_lead, owner=owner)
    make_deal(owner=owner, company=via_deal)
    unowned = make_lead(company=via_contact)
    auth = api_key_for(owner)

    refused = _post(client, {"name": "x", "company_id": theirs.pk}, auth)

    assert refused.status_code == 422 and _fields(refused) == {"company_id"}
    assert refused.json()["detail"][0]["msg"] == "No company has this id."
    assert not Deal.objects.filter(company=theirs).exists()
    for company, extra in ((via_lead, {}), (via_deal, {}), (via_contact, {"contact_lead_id": unowned.pk})):
        response = _post(client, {"name": "y", "company_id": company.pk, **extra}, auth)
        assert response.status_code == 201 and response.json()["company_id"] == company.pk
    # By name, the rep's deal gets a company the rep sees, or a new one of the rep's: never the other team's.
    by_name = _post(client, {"name": "n", "company_name": via_deal.name}, auth)
    assert by_name.json()["company_id"] == via_deal.pk
    by_name = _post(client, {"name": "n", "company_name": "株式会社他課"}, auth)
    assert by_name.status_code == 201 and by_name.json()["company_id"] != theirs.pk
    assert Company.objects.get(pk=by_name.json()["company_id"]).owner == owner
    assert not Deal.objects.filter(company=theirs).exists()
    # Managers and integrations attach any company.
    for key in (api_key_for(manager), api_key_for(None)):
        response = _post(client, {"name": "z", "company_id": theirs.pk, "owner_id": owner.pk}, key)
        assert response.status_code == 201
        response = _post(client, {"name": "z", "company_name": "株式会社他課", "owner_id": owner.pk}, key)
        assert response.json()["company_id"] == theirs.pk


def test_a_key_without_a_user_must_name_the_owner(client, owner, stages, api_key_for):
    auth = api_key_for(None)
    response = _post(client, {"name": "x", "company_name": "株式会社API"}, auth)
    assert response.status_code == 422 and _fields(response) == {"owner_id"}
    response = _post(client, {"name": "x", "company_name": "株式会社API", "owner_id": owner.pk}, auth)
    assert response.status_code == 201
    company = Deal.objects.get().company
    assert (company.name, company.owner) == ("株式会社API", owner)  # a new company is the deal owner's


def test_invalid_input_is_422_json(client, owner, stages, api_key_for):
    auth = api_key_for(owner)
    response = _post(client, {"name": "x", "amount": -1, "probability": 101}, auth)
    assert response.status_code == 422
    assert response["Content-Type"].startswith("application/json")
    assert {"amount", "probability"} <= _fields(response)
    response = _post(client, {"name": "x", "stage_id": stages["Won"].pk}, auth)
    assert response.status_code == 422 and _fields(response) == {"stage"}


def test_a_rep_cannot_give_deals_to_another_team(client, owner, outsider, stages, api_key_for):
    response = _post(client, {"name": "x", "owner_id": outsider.pk}, api_key_for(owner))
    assert response.status_code == 422 and _fields(response) == {"owner_id"}


def test_reading_someone_elses_deal_is_404_json(client, owner, teammate, api_key_for, deal):
    response = client.get(f"{URL}/{deal.pk}", **api_key_for(teammate))
    assert response.status_code == 404 and response.json() == {"detail": "Deal not found."}
    assert client.get(f"{URL}/{deal.pk}", **api_key_for(owner)).json()["id"] == deal.pk
    assert client.get(f"{URL}/{deal.pk}", **api_key_for(None)).status_code == 200  # an integration sees all


def test_patch_moves_and_edits(client, owner, deal, stages, api_key_for):
    response = _patch(
        client, deal.pk, {"stage_id": stages["Proposal"].pk, "amount": 2600000}, api_key_for(owner)
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["stage_id"], body["probability"], body["amount"]) == (stages["Proposal"].pk, 40, "2600000")
    assert StageChange.objects.filter(deal=deal, changed_by=owner).count() == 2


def test_patch_close_won_needs_an_amount(client, owner, deal, stages, api_key_for):
    auth = api_key_for(owner)
    response = _patch(client, deal.pk, {"stage_id": stages["Won"].pk}, auth)
    assert response.status_code == 422 and _fields(response) == {"won_amount"}
    response = _patch(client, deal.pk, {"stage_id": stages["Won"].pk, "won_amount": 2300000}, auth)
    assert response.status_code == 200
    assert response.json()["status"] == "won" and response.json()["won_amount"] == "2300000"


def test_patch_close_lost_needs_a_cause_and_a_side(client, owner, deal, stages, api_key_for):
    auth = api_key_for(owner)
    response = _patch(client, deal.pk, {"stage_id": stages["Lost"].pk, "loss_cause": "price"}, auth)
    assert response.status_code == 422 and _fields(response) == {"loss_side"}
    response = _patch(
        client, deal.pk, {"stage_id": stages["Lost"].pk, "loss_cause": "nope", "loss_side": "sales"}, auth
    )
    assert response.status_code == 422
    response = _patch(
        client,
        deal.pk,
        {"stage_id": stages["Lost"].pk, "loss_cause": "competitor", "loss_side": "external"},
        auth,
    )
    assert response.status_code == 200
    deal.refresh_from_db()
    assert (deal.status, deal.loss_cause, deal.loss_side) == ("lost", "competitor", "external")


def test_patch_with_an_old_version_is_409(client, owner, deal, api_key_for):
    auth = api_key_for(owner)
    assert _patch(client, deal.pk, {"amount": 1, "version": 1}, auth).status_code == 200
    response = _patch(client, deal.pk, {"amount": 2, "version": 1}, auth)
    assert response.status_code == 409 and "detail" in response.json()


def test_patch_of_a_stage_in_another_pipeline_is_422(client, owner, deal, api_key_for):
    from pipeline.services import DEFAULT_STAGES, pipeline_create

    other = pipeline_create(name="別パイプライン", stages=DEFAULT_STAGES)
    response = _patch(client, deal.pk, {"stage_id": other.stages.first().pk}, api_key_for(owner))
    assert response.status_code == 422 and _fields(response) == {"stage_id"}


def test_keys_need_the_deals_scope(client, owner, deal, api_key_for):
    response = client.get(f"{URL}/{deal.pk}", **api_key_for(owner, scopes=["leads:read"]))
    assert response.status_code == 403 and "deals:write" in response.json()["detail"]
    assert client.get(f"{URL}/{deal.pk}").status_code == 401


def test_patch_of_someone_elses_deal_is_404(client, deal, teammate, api_key_for, stages):
    response = _patch(client, deal.pk, {"stage_id": stages["Proposal"].pk}, api_key_for(teammate))
    assert response.status_code == 404
    deal.refresh_from_db()
    assert deal.stage == stages["Initial contact"]


def test_a_manager_key_updates_a_team_deal(client, manager, owner, stages, api_key_for):
    deal = make_deal(owner=owner)
    assert _patch(client, deal.pk, {"next_step": "稟議確認"}, api_key_for(manager)).status_code == 200


def test_patch_with_a_stale_if_match_is_409_with_the_current_deal(client, owner, deal, stages, api_key_for):
    auth = api_key_for(owner)
    read = client.get(f"{URL}/{deal.pk}", **auth)
    etag = read["ETag"]
    assert etag == f'"{deal.version}"'
    # someone else closes it as lost on the board meanwhile
    lost = _patch(
        client,
        deal.pk,
        {"stage_id": stages["Lost"].pk, "loss_cause": "price", "loss_side": "external"},
        {**auth, "HTTP_IF_MATCH": etag},
    )
    assert lost.status_code == 200 and lost["ETag"] == f'"{deal.version + 1}"'

    response = _patch(
        client,
        deal.pk,
        {"stage_id": stages["Won"].pk, "won_amount": 2_400_000},
        {**auth, "HTTP_IF_MATCH": etag},
    )

    assert response.status_code == 409
    body = response.json()
    assert body["detail"] and body["deal"]["status"] == "lost" and body["deal"]["version"] == deal.version + 1
    assert response["ETag"] == f'"{deal.version + 1}"'
    deal.refresh_from_db()
    assert (deal.status, deal.won_amount) == ("lost", None)


def test_if_match_and_the_version_field_are_the_same_check(client, owner, deal, stages, api_key_for):
    auth = api_key_for(owner)
    seen = deal.version
    assert (
        _patch(client, deal.pk, {"next_step": "稟議"}, {**auth, "HTTP_IF_MATCH": f'W/"{seen}"'}).status_code
        == 200
    )
    for stale in ({"HTTP_IF_MATCH": str(seen)}, {}):
        body = {"stage_id": stages["Proposal"].pk} | ({} if stale else {"version": seen})
        response = _patch(client, deal.pk, body, {**auth, **stale})
        assert response.status_code == 409 and response.json()["deal"]["next_step"] == "稟議"
    assert _patch(client, deal.pk, {"name": "x"}, {**auth, "HTTP_IF_MATCH": "abc"}).status_code == 422
    mismatch = _patch(
        client, deal.pk, {"name": "x", "version": seen + 1}, {**auth, "HTTP_IF_MATCH": str(seen)}
    )
    assert mismatch.status_code == 422 and _fields(mismatch) == {"version"}
    deal.refresh_from_db()
    assert (deal.stage, deal.name, deal.version) == (
        stages["Initial contact"],
        "山田製作所 勤怠管理クラウド導入",
        seen + 1,
    )


def test_patch_edits_and_closes_in_one_step_from_the_version_seen(client, owner, deal, stages, api_key_for):
    response = _patch(
        client,
        deal.pk,
        {
            "version": deal.version,
            "next_step": "契約書送付",
            "stage_id": stages["Won"].pk,
            "amount": 2_500_000,
        },
        api_key_for(owner),
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["won_amount"], body["next_step"]) == ("won", "2500000", "契約書送付")


def test_a_won_deal_is_not_closed_as_lost_through_the_api_without_reopening(
    client, owner, deal, stages, api_key_for
):
    auth = api_key_for(owner)
    assert _patch(client, deal.pk, {"stage_id": stages["Won"].pk, "won_amount": 100}, auth).status_code == 200
    lost = {"stage_id": stages["Lost"].pk, "loss_cause": "price", "loss_side": "external"}

    response = _patch(client, deal.pk, lost, auth)
    assert response.status_code == 422 and _fields(response) == {"stage_id"}
    assert "再開してください" in response.json()["detail"][0]["msg"]
    # reopening is its own, explicit step: then it can be closed as lost
    assert _patch(client, deal.pk, {"stage_id": stages["Proposal"].pk}, auth).json()["status"] == "open"
    assert _patch(client, deal.pk, lost, auth).json()["status"] == "lost"


@pytest.mark.parametrize(
    "body",
    [
        {"status": "won"},
        {"won": True},
        {"name": "x", "stage": "won"},
    ],
)
def test_unknown_fields_are_422_not_ignored(client, owner, deal, api_key_for, body):
    auth = api_key_for(owner)
    response = _patch(client, deal.pk, body, auth)
    assert response.status_code == 422
    assert _fields(response) >= set(body) - {"name"}
    created = _post(client, {"name": "API商談", "company_name": "株式会社API", **body}, auth)
    assert created.status_code == 422
    deal.refresh_from_db()
    assert (deal.status, deal.name) == ("open", "山田製作所 勤怠管理クラウド導入")
    assert Deal.objects.count() == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("amount", True),
        ("amount", "1000"),
        ("amount", 1000.5),
        ("probability", True),
        ("owner_id", True),
        ("stage_id", False),
        ("version", True),
        ("won_amount", True),
    ],
)
def test_booleans_and_strings_are_not_numbers(client, owner, deal, stages, api_key_for, field, value):
    response = _patch(client, deal.pk, {field: value}, api_key_for(owner))
    assert response.status_code == 422 and _fields(response) == {field}
    deal.refresh_from_db()
    assert (deal.amount, deal.probability, deal.version) == (2_400_000, 10, 1)
