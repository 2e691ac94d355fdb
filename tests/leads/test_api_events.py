"""POST /api/v1/events over HTTP: authentication, scopes, every kind of bad body, and the 202 report."""

from __future__ import annotations

import json

import pytest
from django.test import override_settings

from leads.models import Lead, Touch
from salesmarketing.models import ApiKey
from salesmarketing.services import api_key_revoke
from tests.leads.factories import make_lead

pytestmark = pytest.mark.django_db

URL = "/api/v1/events"


def page_view(n, **fields):
    return {"id": f"pv-{n}", "type": "page_view", "visitor_id": "v-1", "url": f"https://x.jp/{n}", **fields}


def test_a_mixed_batch_answers_202_with_counts_and_per_event_errors(api):
    response = api.post(
        URL,
        {
            "events": [
                page_view(1),
                {
                    "id": "f1",
                    "type": "form_submit",
                    "email": "taro@example.jp",
                    "visitor_id": "v-1",
                    "name": "山田 太郎",
                },
                {"id": "bad", "type": "form_submit", "email": "nope"},
                page_view(1),
                {"id": "x", "type": "meteor_strike", "visitor_id": "v"},
            ]
        },
    )

    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == 2 and body["duplicates"] == 1
    assert [r["index"] for r in body["rejected"]] == [2, 4]
    assert "email" in body["rejected"][0]["errors"] and "type" in body["rejected"][1]["errors"]
    assert Touch.objects.filter(source="api:crm").count() == 2
    assert Lead.objects.get().touches.count() == 2


def test_replaying_a_batch_counts_duplicates_and_stores_nothing_new(api):
    batch = {"events": [page_view(n) for n in range(5)]}
    assert api.post(URL, batch).json() == {"accepted": 5, "duplicates": 0, "rejected": []}
    assert api.post(URL, batch).json() == {"accepted": 0, "duplicates": 5, "rejected": []}
    assert Touch.objects.count() == 5


def test_two_keys_of_the_same_source_share_idempotency(client, api, api_as):
    api.post(URL, {"events": [page_view(1)]})
    rotated = api_as(client, [ApiKey.Scope.EVENTS_WRITE], source="crm")
    assert rotated.post(URL, {"events": [page_view(1)]}).json()["duplicates"] == 1


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"HTTP_AUTHORIZATION": "Bearer nope"}, 401),
        ({"HTTP_AUTHORIZATION": "Bearer sm_deadbeef_wrongsecret"}, 401),
        ({"HTTP_AUTHORIZATION": "Basic dXNlcjpwYXNz"}, 401),
    ],
)
def test_without_a_valid_key_it_answers_401_json(client, headers, status):
    response = client.post(URL, data=json.dumps({"events": []}), content_type="application/json", **headers)
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    assert not Touch.objects.exists()


def test_a_revoked_key_is_refused(api, api_key):
    api_key_revoke(key=api_key[0])
    assert api.post(URL, {"events": [page_view(1)]}).status_code == 401


def test_a_key_without_the_scope_gets_403(client, api_as):
    reader = api_as(client, [ApiKey.Scope.LEADS_READ])
    response = reader.post(URL, {"events": [page_view(1)]})
    assert response.status_code == 403
    assert "events:write" in response.json()["detail"]
    assert not Touch.objects.exists()


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b'{"events": [', 400),
        (b"\xff\xfe\x00garbage", 400),  # not UTF-8 (nor any JSON encoding)
        (b'{"events": ["\xe3\x81"]}', 400),  # truncated UTF-8 sequence inside a string
        (b"[" * 100_000 + b"]" * 100_000, 400),  # nesting deeper than the parser allows
        (
            b'{"events": [{"id": "a", "type": "page_view", "visitor_id": "v", "n": 1' + b"0" * 5000 + b"}]}",
            400,
        ),
        (b"[]", 422),
        (b'"events"', 422),
        (b"{}", 422),
        (b'{"events": {"id": "a"}}', 422),
        (b'{"events": null}', 422),
        (b'{"events": "page_view"}', 422),
        # An unknown field beside `events` is refused, as on every other endpoint (it was silently ignored).
        (b'{"events": [], "dry_run": true}', 422),
        (b'{"event": [{"id": "a", "type": "page_view", "visitor_id": "v"}], "events": []}', 422),
    ],
)
def test_malformed_bodies_get_a_json_4xx(api, body, status):
    response = api.post(URL, body)
    assert response.status_code == status, response.content[:200]
    assert response["Content-Type"].startswith("application/json")
    assert "detail" in response.json()
    assert not Touch.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("lead_id", True),  # was stored as a touch on lead 1
        ("lead_id", 1.0),
        ("lead_id", "1"),
        ("employee_count", True),
        ("employee_count", "50"),
        ("consent_email", 1),
        ("consent_email", "true"),
    ],
)
def test_booleans_are_not_numbers_nor_numbers_booleans(api, field, value):
    make_lead(email="first@example.jp")
    identity = {} if field == "lead_id" else {"email": "x@example.jp"}
    events = [
        {"id": "loose", "type": "page_view", **identity, field: value},
        {"id": "list", "type": "page_view", **identity, field: [value]},  # a plain type error, for reference
    ]

    response = api.post(URL, {"events": events})

    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == 0 and [list(r["errors"]) for r in body["rejected"]] == [[field], [field]]
    # The same "wrong type" answer as for a list (`"lead_id": true` used to name lead 1).
    assert body["rejected"][0]["errors"] == body["rejected"][1]["errors"]
    assert not Touch.objects.exists()


def test_more_than_a_thousand_events_is_a_422_for_the_whole_batch(api):
    response = api.post(URL, {"events": [page_view(n) for n in range(1001)]})
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "too_long"
    assert not Touch.objects.exists()


def test_a_body_over_the_size_limit_is_413_json(api):
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=10_000):
        response = api.post(
            URL, {"events": [page_view(n, properties={"pad": "x" * 100}) for n in range(100)]}
        )
    assert response.status_code == 413
    assert "larger than" in response.json()["detail"]
    assert not Touch.objects.exists()


def test_a_full_thousand_event_batch_is_stored(api):
    response = api.post(URL, {"events": [page_view(n) for n in range(1000)]})
    assert response.status_code == 202
    assert response.json()["accepted"] == 1000
    assert Touch.objects.count() == 1000


def test_nul_characters_and_lone_surrogates_are_rejected_not_500(api):
    body = (
        '{"events": [{"id": "a\\u0000", "type": "page_view", "visitor_id": "v"},'
        ' {"id": "b", "type": "page_view", "visitor_id": "v", "url": "\\ud83d"},'
        ' {"id": "c", "type": "page_view", "visitor_id": "v", "properties": {"k": NaN}},'
        ' {"id": "d", "type": "page_view", "visitor_id": "v"}]}'
    )
    response = api.post(URL, body)
    assert response.status_code == 202
    assert response.json()["accepted"] == 1
    assert [r["index"] for r in response.json()["rejected"]] == [0, 1, 2]


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("get", URL, "POST"),
        ("delete", URL, "POST"),
        ("put", "/api/v1/leads", "GET, POST"),
        ("post", "/api/v1/leads/1", "GET, DELETE"),
    ],
)
def test_other_methods_get_a_json_405(client, method, path, allowed):
    response = getattr(client, method)(path)
    assert response.status_code == 405 and response["Allow"] == allowed
    assert response.json()["detail"]
