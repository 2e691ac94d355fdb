"""API keys: `manage.py create_api_key` and the Settings → API keys page (list, create once, revoke)."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from salesmarketing.models import ApiKey, User
from salesmarketing.services import api_key_authenticate
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="boss", role=User.Role.ADMIN, is_staff=True))
    return client


def test_the_command_prints_the_key_once_as_its_last_line(owner):
    out = io.StringIO()
    call_command(
        "create_api_key",
        "Website events",
        "--scope",
        "events:write",
        "--scope",
        "leads:read",
        "--user",
        "owner",
        stdout=out,
    )

    plain = out.getvalue().strip().splitlines()[-1]
    key = api_key_authenticate(plain)
    assert key is not None and key.name == "Website events" and key.source == "website-events"
    assert sorted(key.scopes) == ["events:write", "leads:read"] and key.user == owner
    assert plain not in str(ApiKey.objects.values_list("key_hash", flat=True))


def test_the_command_defaults_to_every_scope_and_takes_a_source():
    out = io.StringIO()
    call_command("create_api_key", "CRM", "--source", "salesforce", stdout=out)
    key = ApiKey.objects.get()
    assert key.source == "salesforce" and set(key.scopes) == set(ApiKey.Scope.values) - {"leads:privacy"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["X", "--source", "not a slug"], "slug"),
        (["X", "--user", "nobody"], "No user"),
        (["  "], "empty"),
    ],
)
def test_the_command_refuses_bad_arguments(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("create_api_key", *args, stdout=io.StringIO())
    assert not ApiKey.objects.exists()


def test_admins_create_a_key_and_see_it_only_once(admin_client):
    response = admin_client.post(
        "/settings/api-keys/", {"name": "Website", "source": "website", "scopes": ["events:write"]}
    )
    assert response.status_code == 201
    assert "no-store" in response["Cache-Control"] or "no-cache" in response["Cache-Control"]
    html = response.content.decode()
    start = html.index('id="new-api-key"')
    plain = html[html.index(">", start) + 1 : html.index("</code>", start)]
    assert api_key_authenticate(plain).name == "Website"

    listing = admin_client.get("/settings/api-keys/").content.decode()
    assert "Website" in listing and plain not in listing


def test_admins_revoke_keys(admin_client, api_key):
    key, plain = api_key
    response = admin_client.post(f"/settings/api-keys/{key.pk}/revoke")
    assert response.status_code == 302
    assert api_key_authenticate(plain) is None
    assert admin_client.get("/settings/api-keys/").status_code == 200


def test_invalid_key_forms_keep_what_was_typed(admin_client):
    response = admin_client.post(
        "/settings/api-keys/", {"name": "Kept name", "source": "no spaces!", "scopes": []}
    )
    assert response.status_code == 200
    assert "Kept name" in response.content.decode()
    assert not ApiKey.objects.exists()


def test_other_users_cannot_manage_keys(client, marketer, api_key):
    client.force_login(marketer)
    assert client.get("/settings/api-keys/").status_code == 403
    assert (
        client.post(
            "/settings/api-keys/", {"name": "x", "source": "x", "scopes": ["events:write"]}
        ).status_code
        == 403
    )
    assert client.post(f"/settings/api-keys/{api_key[0].pk}/revoke").status_code == 403
    assert ApiKey.objects.get().is_active


def test_revoke_needs_post(admin_client, api_key):
    assert admin_client.get(f"/settings/api-keys/{api_key[0].pk}/revoke").status_code == 405
