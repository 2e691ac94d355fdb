"""The JSON API fuzzed from its own OpenAPI schema, over real HTTP (pytest-django's live server).

Schemathesis reads /api/v1/openapi.json (as a logged-in user reads it: the docs need a login) and sends every
operation a fixed number of derandomized cases — valid and invalid bodies, queries and path ids, NUL bytes,
huge numbers, bad dates — once with an API key that has every scope and once without any key. Every answer
must be below 500; every error a 4xx with a JSON body; every documented response must match its schema.
Bounded: a few dozen cases per operation, the whole module well under a minute.
"""

from __future__ import annotations

import datetime as dt
import json
import os

import pytest
import requests
import schemathesis
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from leads.models import Handoff
from leads.services import lead_upsert
from pipeline.services import deal_create, pipeline_ensure_default
from salesmarketing.models import ApiKey, User
from salesmarketing.services import api_key_create
from tests.salesmarketing.factories import TeamFactory, UserFactory

# Bounded for the suite; raise it locally for a deeper search: FUZZ_EXAMPLES=500 pytest tests/reliability/…
EXAMPLES_PER_OPERATION = int(os.environ.get("FUZZ_EXAMPLES", "20"))
HYPOTHESIS = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture
def seeded(django_db_reset_sequences):
    """A little data with small ids (sequences reset), so generated ids such as 1 find real rows: a rep, a
    lead with an open handoff, a second lead, a deal."""
    team = TeamFactory(name="営業一課")
    rep = UserFactory(username="rep", role=User.Role.SALES, team=team)
    lead, _ = lead_upsert(email="taro@example.jp", source="manual", name="山田 太郎", consent_email=True)
    lead_upsert(email="hanako@example.jp", source="manual", name="鈴木 花子")
    Handoff.objects.create(
        lead=lead, owner=rep, team=team, state=Handoff.State.ASSIGNED, mql_at=timezone.now()
    )
    pipeline_ensure_default()
    deal_create(
        name="山田製作所 導入",
        owner=rep,
        by=rep,
        contact=lead,
        amount=1_000_000,
        expected_close_date=timezone.localdate() + dt.timedelta(days=30),
    )
    return {"rep": rep}


@pytest.fixture
def api_schema(seeded, live_server, client):
    """The schema as served at /api/v1/openapi.json (the docs need a login, so a logged-in session reads it)."""
    client.force_login(UserFactory(username="schema-reader", role=User.Role.ADMIN, team=None))
    schema = schemathesis.openapi.from_url(
        f"{live_server.url}/api/v1/openapi.json", cookies={"sessionid": client.cookies["sessionid"].value}
    )
    schema.config.update(base_url=live_server.url)
    schema.config.generation.update(max_examples=EXAMPLES_PER_OPERATION, deterministic=True)
    return schema


def errors_are_json(ctx, response, case) -> bool | None:
    """Every 4xx is JSON with a `detail` (ninja's 422 lists its errors under `detail`)."""
    if response.status_code >= 400:
        content_type = response.headers.get("content-type", [""])[0]
        assert content_type.startswith("application/json"), (
            f"{response.status_code} answered with {content_type!r}: {response.text[:200]!r}"
        )
        body = json.loads(response.text)
        assert isinstance(body, dict) and "detail" in body, (
            f"error body without detail: {response.text[:200]!r}"
        )
    return None


CHECKS = [not_a_server_error, content_type_conformance, response_schema_conformance, errors_are_json]


@pytest.fixture
def bearer(seeded):
    _key, plain = api_key_create(name="fuzz", source="fuzz", scopes=ApiKey.Scope.values)
    return {"Authorization": f"Bearer {plain}"}


def fuzz(schema, *, headers: dict[str, str], statuses=None) -> None:
    """Every operation of the schema, EXAMPLES_PER_OPERATION valid and invalid cases each; all failures are
    collected and reported together (one line per operation that failed)."""
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        cases = st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)
        )

        @given(case=cases)
        @HYPOTHESIS
        def run(case):
            case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
            response = case.call_and_validate(headers=headers, checks=CHECKS)
            if statuses is not None:
                assert response.status_code in statuses, (response.status_code, response.text[:200])

        try:
            run()
        except (AssertionError, BaseExceptionGroup) as exc:  # every operation is tried; all are reported
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)


def test_with_a_key_with_every_scope_nothing_fails(api_schema, bearer):
    fuzz(api_schema, headers=bearer)


def test_without_a_key_every_answer_is_a_json_4xx(api_schema):
    # 401 normally; ninja validates the path before authenticating, so a path that is not an id is a 422/404.
    fuzz(api_schema, headers={}, statuses={401, 404, 405, 422})


HUGE = 2**70
HOSTILE = [
    # (method, path, body (str: sent as is), content type, statuses allowed)
    ("POST", "/api/v1/leads", '{"email": "x@example.jp", "name": "a\\u0000b"}', "application/json", {422}),
    ("POST", "/api/v1/deals", '{"name": "a\\u0000", "owner_id": 1}', "application/json", {422}),
    ("PATCH", "/api/v1/deals/1", '{"next_step": "\\u0000"}', "application/json", {422}),
    ("POST", "/api/v1/handoffs/1/reject", '{"reason": "other", "note": "\\u0000"}', "application/json", {422}),
    ("GET", "/api/v1/handoffs?cursor=WzEsMl0", None, None, {422}),
    ("GET", "/api/v1/leads?cursor=%00", None, None, {422}),
    ("GET", f"/api/v1/deals?limit={HUGE}", None, None, {422}),
    ("GET", "/api/v1/companies?cursor=WyI5OTk5LTEyLTMxVDIzOjU5OjU5KzAwOjAwIiwxXQ", None, None, {200, 422}),
    ("POST", "/api/v1/activities", '{"type": "call", "subject": "\\u0000", "lead_id": 1}', "application/json", {422}),
    ("PUT", "/api/v1/kpis/values", '{"kpi": "market_size", "period_start": "2026-01-01", "value": 1e300}',
     "application/json", {422}),
    ("GET", f"/api/v1/handoffs?owner={HUGE}", None, None, {200, 422}),
    ("GET", f"/api/v1/leads/{HUGE}", None, None, {404}),
    ("GET", "/api/v1/leads/-1", None, None, {404}),
    ("GET", f"/api/v1/leads/{HUGE}/export", None, None, {404}),
    ("DELETE", f"/api/v1/leads/{HUGE}", None, None, {404}),
    ("POST", "/api/v1/leads/1", "{}", "application/json", {405}),
    ("GET", f"/api/v1/deals/{HUGE}", None, None, {404, 422}),
    ("POST", f"/api/v1/handoffs/{HUGE}/accept", None, None, {404, 422}),
    ("PATCH", "/api/v1/deals/1", f'{{"version": {HUGE}}}', "application/json", {409, 422}),
    ("PATCH", "/api/v1/deals/1", '{"expected_close_date": "2026-02-30"}', "application/json", {422}),
    ("POST", "/api/v1/deals", f'{{"name": "x", "owner_id": {HUGE}}}', "application/json", {422}),
    ("POST", "/api/v1/deals", f'{{"name": "x", "owner_id": 1, "stage_id": {HUGE}}}', "application/json", {422}),
    ("POST", "/api/v1/deals", '{"name": "x", "owner_id": 1, "amount": 1e300}', "application/json", {422}),
    ("POST", "/api/v1/deals", '{"name": "x", "owner_id": 1, "amount": "NaN"}', "application/json", {422}),
    ("GET", "/api/v1/kpis?start=2026-02-30&end=2026-03-01", None, None, {422}),
    ("GET", "/api/v1/kpis?week=2026-W99", None, None, {422}),
    ("GET", "/api/v1/kpis?start=0001-01-01&end=9999-12-31", None, None, {200, 422}),
    ("GET", f"/api/v1/kpis?week=2026-W47&team={HUGE}", None, None, {422}),
    ("POST", "/api/v1/events", "not json", "text/plain", {400, 422}),
    ("POST", "/api/v1/events", "[]", "application/json", {400, 422}),
    ("POST", "/api/v1/events", "\xff\xfe", "application/json", {400, 422}),
    ("POST", "/api/v1/leads", "email=x%40example.jp", "application/x-www-form-urlencoded", {400, 422}),
    ("POST", "/api/v1/events", f'{{"events": [{{"id": "a", "type": "page_view", "lead_id": {HUGE}}}]}}',
     "application/json", {202}),
    ("GET", "/api/v1/nowhere", None, None, {404}),
    ("DELETE", "/api/v1/leads/-1", None, None, {404}),
    ("PUT", "/api/v1/kpis", None, None, {405}),
    ("DELETE", "/api/v1/handoffs", None, None, {405}),
    ("PUT", "/api/v1/deals/1", "{}", "application/json", {405}),
]  # fmt: skip


def test_hostile_inputs_answer_a_json_4xx(seeded, bearer, live_server):
    """The inputs the fuzzer found (and their neighbours), pinned: NUL characters, numbers beyond bigint,
    impossible dates, bodies that are not JSON objects, unknown paths and methods."""
    failures = []
    with requests.Session() as session:
        for method, path, body, content_type, statuses in HOSTILE:
            headers = dict(bearer, **({"Content-Type": content_type} if content_type else {}))
            data = body.encode("utf-8", "surrogateescape") if body is not None else None
            response = session.request(method, live_server.url + path, data=data, headers=headers, timeout=30)
            is_json = response.headers.get("Content-Type", "").startswith("application/json")
            if response.status_code not in statuses or not is_json:
                failures.append(f"{method} {path}: {response.status_code} {response.text[:150]!r}")
    assert not failures, "\n".join(failures)
