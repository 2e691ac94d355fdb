"""/api/v1/openapi.json for a client with an API key (the docs page stays behind the login), and the users and
teams lookups any valid key reads."""

from __future__ import annotations

import pytest

from salesmarketing.services import api_key_create, api_key_revoke
from tests.salesmarketing.factories import UserFactory

pytestmark = pytest.mark.django_db


def _auth(user=None, scopes=()) -> dict:
    _key, plain = api_key_create(name="client", source="crm", scopes=list(scopes), user=user)
    return {"HTTP_AUTHORIZATION": f"Bearer {plain}"}


def test_the_schema_is_readable_with_an_api_key(client):
    response = client.get("/api/v1/openapi.json", **_auth())

    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {"/api/v1/leads", "/api/v1/companies", "/api/v1/activities", "/api/v1/campaigns"} <= set(paths)
    assert "get" in paths["/api/v1/leads"] and "post" in paths["/api/v1/leads"]


def test_without_a_key_or_with_a_revoked_one_the_schema_needs_a_login(client):
    key, plain = api_key_create(name="old", source="crm", scopes=[])
    api_key_revoke(key=key)

    for headers in ({}, {"HTTP_AUTHORIZATION": f"Bearer {plain}"}, {"HTTP_AUTHORIZATION": "Bearer sm_x_y"}):
        response = client.get("/api/v1/openapi.json", **headers)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_a_logged_in_user_reads_the_schema_and_the_docs(client, owner):
    client.force_login(owner)

    assert client.get("/api/v1/openapi.json").status_code == 200
    assert client.get("/api/v1/docs").status_code == 200


def test_users_and_teams_for_any_key(client, owner, outsider, django_assert_num_queries):
    gone = UserFactory(username="gone", is_active=False)
    auth = _auth()
    client.get("/api/v1/teams", **auth)

    with django_assert_num_queries(2):
        users = client.get("/api/v1/users", **auth).json()
    active = client.get("/api/v1/users?active=true", **auth).json()
    teams = client.get("/api/v1/teams", **auth).json()

    assert {u["username"] for u in users} == {"owner", "outsider", "gone"}
    assert gone.pk not in {u["id"] for u in active}
    assert {u["id"]: u["team_id"] for u in users}[owner.pk] == owner.team_id
    assert "email" not in users[0] and "password" not in users[0]
    assert {t["id"] for t in teams} == {u.team_id for u in (owner, outsider, gone) if u.team_id}
    assert client.get("/api/v1/users").status_code == 401
