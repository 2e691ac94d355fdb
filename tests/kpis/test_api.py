"""GET /api/v1/kpis: every KPI for a week or a date range, with a kpis:read key."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from kpis import services
from kpis.models import ManualKpiValue, WeeklySnapshot
from kpis.periods import Period
from kpis.registry import KPIS
from salesmarketing.services import api_key_create
from tests.kpis.conftest import NOW

pytestmark = pytest.mark.django_db


@pytest.fixture
def auth():
    def _make(scopes=("kpis:read",)):
        _key, plain = api_key_create(name="BI", source="bi", scopes=list(scopes))
        return {"HTTP_AUTHORIZATION": f"Bearer {plain}"}

    return _make


def _by_key(body: dict) -> dict:
    return {item["key"]: item for item in body["kpis"]}


def test_a_week_returns_every_kpi_with_its_label_unit_and_period(client, auth, kpi_data, frozen_now):
    response = client.get("/api/v1/kpis?week=2026-W47", HTTP_ACCEPT_LANGUAGE="ja", **auth())
    assert response.status_code == 200
    body = response.json()
    assert body["period"] == {
        "label": "2026-W47",
        "kind": "week",
        "start": "2026-11-16",
        "end": "2026-11-22",
        "time_zone": "Asia/Tokyo",
    }
    assert body["source"] == "live" and body["frozen_at"] is None and body["team"] is None
    kpis = _by_key(body)
    assert set(kpis) == {kpi.key for kpi in KPIS}
    assert kpis["opportunities_marketing_sourced"]["value"] == 2  # D1 D2 (handoffs); D4 is self-reported
    assert kpis["opportunities_marketing_sourced"]["label_ja"] == "商談化数"
    assert kpis["win_rate"]["unit"] == "percent" and kpis["win_rate"]["value"] == pytest.approx(0.666667)
    assert kpis["revenue"]["unit"] == "yen" and kpis["revenue"]["value"] == 4_200_000
    assert kpis["cost_per_lead"]["direction"] == "down"
    assert [item["key"] for item in body["kpis"]][0] == "opportunities_marketing_sourced"


def test_dates_are_both_inclusive_and_a_team_filters(client, auth, kpi_data, frozen_now):
    response = client.get(f"/api/v1/kpis?start=2026-11-16&end=2026-11-22&team={kpi_data.t1.pk}", **auth())
    assert response.status_code == 200
    body = response.json()
    assert body["period"]["label"] == "2026-11-16..2026-11-22" and body["team"] == kpi_data.t1.pk
    kpis = _by_key(body)
    assert kpis["leads_acquired"]["value"] == 1
    assert kpis["visitors"]["value"] == 4  # company-wide


def test_a_frozen_week_answers_with_its_snapshot(client, auth, kpi_data, frozen_now):
    services.snapshot_freeze_week(week=Period.parse("2026-W47"), team=None, now=NOW)
    body = client.get("/api/v1/kpis?week=2026-W47", **auth()).json()
    assert body["source"] == "snapshot" and body["frozen_at"]


def test_each_value_says_whether_it_is_live_or_frozen_and_as_of_when(client, auth, kpi_data, frozen_now):
    live = client.get("/api/v1/kpis?week=2026-W47", **auth()).json()
    assert live["as_of"] == "2026-11-25T01:00:00Z"  # NOW, when the values were computed
    assert {(item["source"], item["as_of"]) for item in live["kpis"]} == {("live", "2026-11-25T01:00:00Z")}

    frozen_at = NOW - dt.timedelta(days=1)
    services.snapshot_freeze_week(week=Period.parse("2026-W47"), team=None, now=frozen_at)
    # a KPI defined after the freeze: not in the snapshot, so computed now and said so
    WeeklySnapshot.objects.update(values={"revenue": 4_200_000, "deals_won": 2})
    body = client.get("/api/v1/kpis?week=2026-W47", **auth()).json()
    kpis = _by_key(body)
    assert (kpis["revenue"]["value"], kpis["revenue"]["source"]) == (4_200_000, "snapshot")
    assert kpis["revenue"]["as_of"] == kpis["deals_won"]["as_of"] == "2026-11-24T01:00:00Z"
    assert (kpis["leads_acquired"]["source"], kpis["leads_acquired"]["as_of"]) == (
        "live",
        "2026-11-25T01:00:00Z",
    )
    assert kpis["leads_acquired"]["value"] == 3
    assert body["source"] == "snapshot" and body["as_of"] == "2026-11-25T01:00:00Z"


def test_empty_values_are_null(client, auth, db):
    kpis = _by_key(client.get("/api/v1/kpis?week=2020-W01", **auth()).json())
    assert kpis["win_rate"]["value"] is None and kpis["leads_acquired"]["value"] == 0


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?week=2026-W54",
        "?week=2026-11",
        "?week=nonsense",
        "?start=2026-11-01",
        "?start=2026-11-30&end=2026-11-01",
        "?start=2026-13-01&end=2026-13-02",
        "?week=2026-W47&start=2026-11-01&end=2026-11-02",
        "?week=2026-W47&team=999999",
        "?start=2020-01-01&end=2026-12-31",
    ],
)
def test_bad_parameters_are_a_json_422(client, auth, db, query):
    response = client.get(f"/api/v1/kpis{query}", **auth())
    assert response.status_code == 422, response.content
    assert "detail" in response.json()


def test_a_bad_team_type_is_a_json_4xx(client, auth, db):
    response = client.get("/api/v1/kpis?week=2026-W47&team=abc", **auth())
    assert response.status_code in (400, 422) and response.json()


def test_a_key_needs_the_kpis_scope(client, auth, db):
    assert client.get("/api/v1/kpis?week=2026-W47").status_code == 401
    response = client.get("/api/v1/kpis?week=2026-W47", **auth(scopes=("leads:read",)))
    assert response.status_code == 403 and "kpis:read" in response.json()["detail"]


# --- hand-entered values (GET / PUT /api/v1/kpis/values) ---------------------------------------------------


def _values_auth(user=None, scopes=("kpis:read", "kpis:write")) -> dict:
    _key, plain = api_key_create(name="survey", source="survey", scopes=list(scopes), user=user)
    return {"HTTP_AUTHORIZATION": f"Bearer {plain}"}


def _put_value(client, body, auth):
    return client.put("/api/v1/kpis/values", json.dumps(body), content_type="application/json", **auth)


def test_a_hand_entered_value_is_entered_corrected_and_read(client, marketer):
    auth = _values_auth(marketer)

    entered = _put_value(
        client, {"kpi": "brand_awareness", "period_start": "2026-11-15", "value": 0.2, "note": "調査A"}, auth
    )
    corrected = _put_value(
        client, {"kpi": "brand_awareness", "period_start": "2026-11-01", "value": "0.25"}, auth
    )
    listed = client.get("/api/v1/kpis/values?kpi=brand_awareness", **auth).json()

    assert (entered.status_code, corrected.status_code) == (200, 200)
    assert entered.json()["period_start"] == "2026-11-01"  # the month's first day
    entry = ManualKpiValue.objects.get()
    assert (entry.value, entry.entered_by_id) == (Decimal("0.25"), marketer.pk)
    assert [(v["kpi"], v["value"]) for v in listed["items"]] == [("brand_awareness", 0.25)]
    assert listed["next_cursor"] is None


def test_what_the_values_service_refuses_is_a_422_naming_the_field(client):
    auth = _values_auth()

    ratio_too_big = _put_value(
        client, {"kpi": "brand_awareness", "period_start": "2026-11-01", "value": 2}, auth
    )
    not_manual = _put_value(client, {"kpi": "revenue", "period_start": "2026-11-01", "value": 1}, auth)

    assert ratio_too_big.status_code == 422 and ratio_too_big.json()["detail"][0]["loc"] == ["body", "value"]
    assert not_manual.status_code == 422 and not_manual.json()["detail"][0]["loc"][-1] == "kpi"
    assert not ManualKpiValue.objects.exists()


def test_a_reps_key_reads_values_but_does_not_enter_them(client, owner):
    auth = _values_auth(owner)

    refused = _put_value(client, {"kpi": "market_size", "period_start": "2026-01-01", "value": 10**9}, auth)

    assert refused.status_code == 403
    assert client.get("/api/v1/kpis/values", **auth).status_code == 200
    assert (
        _put_value(
            client,
            {"kpi": "market_size", "period_start": "2026-01-01", "value": 1},
            _values_auth(scopes=["kpis:read"]),
        ).status_code
        == 403
    )
