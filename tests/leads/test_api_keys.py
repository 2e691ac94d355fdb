"""API keys: `manage.py create_api_key`, the Settings → API keys page (list, create once, revoke), and what a
user's key may do once its user is deleted or deactivated."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction

from salesmarketing.models import ApiKey, User
from salesmarketing.services import api_key_authenticate, api_key_create
from tests.leads.factories import make_lead
from tests.pipeline.factories import make_deal
from tests.salesmarketing.factories import UserFactory

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


# --- A user's key reaches what the user reaches, and no more once the user is gone -------------------------


def _bearer(plain: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {plain}"}


def test_a_deleted_users_keys_are_deleted_with_them_never_widened(client, owner, outsider):
    theirs = make_lead(owner=owner)
    _key, plain = api_key_create(name="rep", source="crm", scopes=["leads:read"], user=outsider)
    assert client.get(f"/api/v1/leads/{theirs.pk}", **_bearer(plain)).status_code == 404

    outsider.delete()

    # Before: the key lost its user and read every lead as an integration's key would.
    assert client.get(f"/api/v1/leads/{theirs.pk}", **_bearer(plain)).status_code == 401
    assert not ApiKey.objects.exists()


def test_a_deactivated_users_keys_stop_working(client, owner):
    deal = make_deal(owner=owner, name="継続商談")
    _key, plain = api_key_create(name="rep", source="crm", scopes=["deals:write"], user=owner)
    url = f"/api/v1/deals/{deal.pk}"
    patch = {"next_step": "見積提出"}
    assert client.get(url, **_bearer(plain)).status_code == 200

    owner.is_active = False
    owner.save(update_fields=["is_active"])

    assert client.get(url, **_bearer(plain)).status_code == 401
    response = client.patch(url, json.dumps(patch), content_type="application/json", **_bearer(plain))
    assert response.status_code == 401 and response.json() == {"detail": "Unauthorized"}
    deal.refresh_from_db()
    assert deal.next_step == ""
    assert api_key_authenticate(plain) is None

    owner.is_active = True  # reactivating the user brings their keys back, like their login
    owner.save(update_fields=["is_active"])
    assert client.get(url, **_bearer(plain)).status_code == 200


def test_whether_a_key_is_an_integrations_is_stored_not_inferred(owner):
    user_key, _plain = api_key_create(name="rep", source="crm", user=owner)
    integration, _plain = api_key_create(name="site", source="web")
    assert (user_key.kind, integration.kind) == (ApiKey.Kind.USER, ApiKey.Kind.INTEGRATION)
    assert integration.is_integration and not user_key.is_integration

    # The database refuses a user's key without its user, and an integration's key with one.
    with pytest.raises(IntegrityError), transaction.atomic():
        ApiKey.objects.filter(pk=user_key.pk).update(user=None)
    with pytest.raises(IntegrityError), transaction.atomic():
        ApiKey.objects.filter(pk=integration.pk).update(user=owner)


def test_the_command_refuses_a_deactivated_user(owner):
    owner.is_active = False
    owner.save(update_fields=["is_active"])
    with pytest.raises(CommandError, match="deactivated"):
        call_command("create_api_key", "X", "--user", "owner", stdout=io.StringIO())
    assert not ApiKey.objects.exists()
