"""A company's owner: set on the company form, changed with a reason on the account page (logged, as a lead's
owner is), shown and filtered on the company list, seen by its owner, and carried by the companies API."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError

from leads.models import Company, OwnerChange
from leads.owners.selectors import owner_choices
from leads.owners.services import owner_change
from leads.records import services
from salesmarketing.models import Notification, User
from salesmarketing.services import api_key_create
from tests.leads.factories import make_company, make_lead
from tests.salesmarketing.factories import UserFactory

pytestmark = pytest.mark.django_db


def _company(owner=None, name: str | None = None) -> Company:
    company = make_company(name)
    Company.objects.filter(pk=company.pk).update(owner=owner)
    company.refresh_from_db()
    return company


# --- The services ------------------------------------------------------------------------------------------------


def test_changing_a_companys_owner_is_logged_with_its_reason_and_told_to_the_new_owner(
    owner, teammate, manager
):
    company = _company(owner)

    change = owner_change(record=company, owner=teammate, by=manager, reason="大阪へ移管")

    company.refresh_from_db()
    assert company.owner == teammate and change is not None
    row = OwnerChange.objects.get()
    assert (row.lead, row.company, row.from_owner, row.to_owner, row.by, row.reason) == (
        None,
        company,
        owner,
        teammate,
        manager,
        "大阪へ移管",
    )
    note = Notification.objects.get(recipient=teammate)
    assert company.name in note.text[0] and note.text[1] == "大阪へ移管"


def test_editing_a_company_logs_a_new_owner_and_needs_a_reason_for_it(owner, teammate, manager):
    company = _company(owner)
    with pytest.raises(ValidationError) as caught:
        services.company_edit(company=company, by=manager, owner=teammate, owner_reason=" ")
    assert "owner_reason" in caught.value.error_dict
    company.refresh_from_db()
    assert company.owner == owner and not OwnerChange.objects.exists()

    services.company_edit(company=company, by=manager, owner=owner, address="同じ担当")  # no change, no row
    services.company_edit(company=company, by=manager, owner=teammate, owner_reason="担当替え")

    company.refresh_from_db()
    assert company.owner == teammate
    assert list(company.owner_changes.values_list("from_owner", "to_owner", "reason")) == [
        (owner.pk, teammate.pk, "担当替え")
    ]


def test_who_may_change_a_companys_owner_is_the_leads_rule(owner, teammate, manager, outsider, marketer):
    company = _company(owner)
    assert set(owner_choices(viewer=owner, record=company)) == {owner, teammate, manager}
    assert set(owner_choices(viewer=manager, record=company)) == {owner, teammate, manager}
    assert owner_choices(viewer=teammate, record=company) is None  # not theirs
    assert owner_choices(viewer=marketer, record=company) is None
    assert owner_choices(viewer=outsider, record=company) is None


def test_a_merge_taking_the_other_companys_owner_logs_it(owner, teammate, manager):
    from leads.merge.services import company_merge

    survivor = _company(owner, "株式会社統合")
    merged = _company(teammate, "（株）統合")
    owner_change(record=merged, owner=None, by=manager, reason="退職")
    owner_change(record=merged, owner=teammate, by=manager, reason="後任")

    company_merge(survivor_id=survivor.pk, merged_id=merged.pk, taken={"owner": "merged"}, by=manager)

    survivor.refresh_from_db()
    assert survivor.owner == teammate
    # the merged company's log moves over, and the merge's change is the newest row
    assert [(c.from_owner, c.to_owner) for c in survivor.owner_changes.all()] == [
        (owner, teammate),
        (None, teammate),
        (teammate, None),
    ]


# --- The pages ---------------------------------------------------------------------------------------------------


def test_a_rep_creates_a_company_they_own_and_gives_it_only_within_the_team(
    client, owner, teammate, outsider
):
    client.force_login(owner)
    assert "selected>担当 太郎" in client.get("/leads/companies/new").content.decode()
    html = client.post("/leads/companies/new", {"name": "他課行き", "owner": outsider.pk}).content.decode()
    assert "has-error" in html and not Company.objects.filter(name="他課行き").exists()
    html = client.post("/leads/companies/new", {"name": "無担当", "owner": ""}).content.decode()
    assert "has-error" in html and not Company.objects.filter(name="無担当").exists()

    response = client.post("/leads/companies/new", {"name": "同僚の会社", "owner": teammate.pk})

    assert response.status_code == 302
    assert Company.objects.get(name="同僚の会社").owner == teammate
    assert not OwnerChange.objects.exists()  # made so, not changed


def test_the_edit_form_changes_the_owner_with_a_reason_and_logs_it(client, owner, teammate, manager):
    company = _company(owner, "株式会社編集")
    client.force_login(manager)
    url = f"/leads/companies/{company.pk}/edit"
    html = client.post(url, {"name": company.name, "owner": teammate.pk}).content.decode()
    assert "has-error" in html and not OwnerChange.objects.exists()

    response = client.post(url, {"name": company.name, "owner": teammate.pk, "owner_reason": "引き継ぎ"})

    assert response.status_code == 302
    row = OwnerChange.objects.get(company=company)
    assert (row.from_owner, row.to_owner, row.by, row.reason) == (owner, teammate, manager, "引き継ぎ")


def test_a_rep_who_does_not_own_the_company_cannot_change_its_owner_on_the_form(client, owner, teammate):
    company = _company(owner, "株式会社他人")
    make_lead(company=company, owner=teammate)
    client.force_login(teammate)
    url = f"/leads/companies/{company.pk}/edit"
    assert 'name="owner_reason"' not in client.get(url).content.decode()

    response = client.post(url, {"name": "株式会社他人", "owner": teammate.pk, "address": "大阪市"})

    assert response.status_code == 302
    company.refresh_from_db()
    assert (company.owner, company.address) == (owner, "大阪市")  # the rest saved, the owner kept
    assert not OwnerChange.objects.exists()


def test_the_account_page_shows_the_owner_and_changes_it_with_a_reason(client, owner, teammate, manager):
    company = _company(owner, "株式会社アカウント")
    client.force_login(manager)
    url = f"/leads/companies/{company.pk}/owner"
    page = client.get(company.get_absolute_url()).content.decode()
    assert "担当 太郎" in page and url in page
    assert client.post(url, {"owner": teammate.pk, "reason": ""}).status_code == 200

    response = client.post(url, {"owner": teammate.pk, "reason": "テリトリー変更"})

    assert response.status_code == 302 and response["Location"] == company.get_absolute_url()
    company.refresh_from_db()
    assert company.owner == teammate
    assert "テリトリー変更" in client.get(url).content.decode()


def test_who_gets_403_and_404_on_the_companys_owner_page(client, owner, teammate, outsider, marketer):
    company = _company(owner)
    make_lead(company=company, owner=owner)
    url = f"/leads/companies/{company.pk}/owner"
    client.force_login(teammate)  # sees the company through the team's lead, does not own it
    assert client.get(url).status_code == 403
    assert url not in client.get(company.get_absolute_url()).content.decode()
    client.force_login(marketer)
    assert client.post(url, {"owner": teammate.pk, "reason": "x"}).status_code == 403
    client.force_login(outsider)
    assert client.get(url).status_code == 404
    company.refresh_from_db()
    assert company.owner == owner and not OwnerChange.objects.exists()


def test_a_company_is_seen_by_its_owners_team_and_by_the_reps_who_work_its_leads(
    client, owner, teammate, outsider
):
    company = _company(owner, "株式会社担当先")
    make_lead(company=company, owner=outsider)  # another team works the company's only lead
    for user in (owner, teammate, outsider):
        client.force_login(user)
        assert client.get(company.get_absolute_url()).status_code == 200, user
        assert "株式会社担当先" in client.get("/leads/companies/").content.decode(), user


def test_another_teams_company_nobody_of_mine_works_with_answers_404(
    client, owner, teammate, outsider, manager
):
    """An owned company is its owner's team's: no longer seen by every rep because it has no lead or deal yet."""
    theirs = _company(outsider, "株式会社他課担当")
    unowned = _company(None, "株式会社未担当")
    client.force_login(owner)
    assert client.get(theirs.get_absolute_url()).status_code == 404
    assert client.get(unowned.get_absolute_url()).status_code == 200  # nobody's yet: today's rule
    listed = client.get("/leads/companies/").content.decode()
    assert "株式会社他課担当" not in listed and "株式会社未担当" in listed
    auth = _auth(owner)
    assert client.get(f"/api/v1/companies/{theirs.pk}", **auth).status_code == 404
    assert _patch(client, theirs, {"address": "書き換え"}, auth).status_code == 404
    assert client.get(f"/api/v1/companies/{unowned.pk}", **auth).status_code == 200
    ids = {row["id"] for row in client.get("/api/v1/companies", **auth).json()["items"]}
    assert theirs.pk not in ids and unowned.pk in ids
    for user in (outsider, manager):  # its owner's team, and a manager as before
        client.force_login(user)
        assert client.get(theirs.get_absolute_url()).status_code == 200, user
    assert client.get(f"/api/v1/companies/{theirs.pk}", **_auth(manager)).status_code == 200
    assert client.get(f"/api/v1/companies/{theirs.pk}", **_auth(teammate)).status_code == 404


def test_the_company_list_shows_and_filters_by_owner(client, owner, teammate, manager):
    _company(owner, "自分の会社")
    _company(teammate, "同僚の会社")
    _company(None, "担当なしの会社")
    client.force_login(owner)

    def names(**params):
        html = client.get("/leads/companies/", params).content.decode()
        return {name for name in ("自分の会社", "同僚の会社", "担当なしの会社") if name in html}

    assert names() == {"自分の会社", "同僚の会社", "担当なしの会社"}
    assert names(owner="mine") == {"自分の会社"}
    assert names(owner="none") == {"担当なしの会社"}
    assert names(owner=teammate.pk) == {"同僚の会社"}
    assert names(owner="mine", q="同僚") == set()
    assert "同僚 花子" in client.get("/leads/companies/", {"owner": teammate.pk}).content.decode()


def test_the_company_list_costs_the_same_with_owners(client, owner, teammate, django_assert_num_queries):
    client.force_login(owner)
    for i in range(3):
        _company(owner if i % 2 else None)
    client.get("/leads/companies/")
    with django_assert_num_queries(
        6
    ) as few:  # session, user, custom field definitions, the owners, count, page
        client.get("/leads/companies/")
    for i in range(20):
        _company([owner, teammate, None][i % 3])
    with django_assert_num_queries(len(few.captured_queries)):
        client.get("/leads/companies/")


# --- The API -------------------------------------------------------------------------------------------------


def _auth(user=None) -> dict:
    _key, plain = api_key_create(name="sync", source="crm", scopes=["leads:read", "leads:write"], user=user)
    return {"HTTP_AUTHORIZATION": f"Bearer {plain}"}


def _patch(client, company, body, auth):
    return client.patch(
        f"/api/v1/companies/{company.pk}", json.dumps(body), content_type="application/json", **auth
    )


def _post(client, body, auth):
    return client.post("/api/v1/companies", json.dumps(body), content_type="application/json", **auth)


def test_the_api_filters_by_owner_and_carries_it(client, owner, teammate):
    mine = _company(owner)
    _company(teammate)
    _company(None)

    body = client.get(f"/api/v1/companies?owner={owner.pk}", **_auth()).json()

    assert [(row["id"], row["owner_id"]) for row in body["items"]] == [(mine.pk, owner.pk)]


def test_the_api_changes_the_owner_with_a_reason_and_logs_it(client, owner, teammate, manager):
    company = _company(owner)
    auth = _auth(manager)

    no_reason = _patch(client, company, {"owner_id": teammate.pk}, auth)
    changed = _patch(client, company, {"owner_id": teammate.pk, "owner_reason": "API で移管"}, auth)

    assert no_reason.status_code == 422
    assert no_reason.json()["detail"][0]["loc"] == ["body", "owner_reason"]
    assert changed.status_code == 200 and changed.json()["owner_id"] == teammate.pk
    row = OwnerChange.objects.get(company=company)
    assert (row.from_owner, row.to_owner, row.by, row.reason) == (owner, teammate, manager, "API で移管")


def test_the_api_refuses_an_owner_the_keys_user_may_not_choose(client, owner, teammate, outsider):
    company = _company(owner)
    make_lead(company=company, owner=teammate)
    inactive = UserFactory(username="gone", role=User.Role.SALES, team=owner.team, is_active=False)
    auth = _auth(owner)
    reason = {"owner_reason": "理由"}

    answers = [
        _patch(client, company, {"owner_id": 10**9, **reason}, auth),  # nobody has this id
        _patch(client, company, {"owner_id": inactive.pk, **reason}, auth),  # inactive
        _patch(client, company, {"owner_id": outsider.pk, **reason}, auth),  # another team
        _patch(client, company, {"owner_id": None, **reason}, auth),  # a rep's company is someone's
        _patch(client, company, {"owner_id": teammate.pk, **reason}, _auth(teammate)),  # not theirs to give
        _post(client, {"name": "他課行き", "owner_id": outsider.pk}, auth),
    ]

    assert [r.status_code for r in answers] == [422] * 6
    assert {tuple(r.json()["detail"][0]["loc"]) for r in answers} == {("body", "owner_id")}
    company.refresh_from_db()
    assert company.owner == owner and not OwnerChange.objects.exists()
    assert not Company.objects.filter(name="他課行き").exists()


def test_a_company_made_through_the_api_is_the_reps_unless_told_otherwise(client, owner, teammate, outsider):
    own = _post(client, {"name": "自分で登録"}, _auth(owner))
    given = _post(client, {"name": "同僚へ", "owner_id": teammate.pk}, _auth(owner))
    by_integration = _post(client, {"name": "連携から", "owner_id": outsider.pk}, _auth())

    assert (own.status_code, given.status_code, by_integration.status_code) == (201, 201, 201)
    assert (own.json()["owner_id"], given.json()["owner_id"]) == (owner.pk, teammate.pk)
    assert by_integration.json()["owner_id"] == outsider.pk
