"""A number read after a write includes that write, with a warm cache, for every table the KPIs measure: the
write marks its days (triggers, kpis.changes), and the periods holding those days are recomputed at the next read
while every other period stays a cache hit.

NOW is Wednesday 25 November (W48 running since Monday 23rd); W46 and W47 are over. The last tests write rows of
the real today and read the real running periods."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.contrib import admin
from django.db import connection
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext

from campaigns.services import cost_add
from kpis import services
from kpis.models import KpiMark, ManualKpiValue
from kpis.periods import Period
from kpis.registry import KPIS, Scope, compute
from kpis.registry.engine import CACHED_SOURCES, _generations
from kpis.registry.measures import MANUAL_MEASURES, MEASURES_BY_NAME
from leads.choices import LifecycleStage
from leads.lifecycle import lead_lifecycle_change, lead_lifecycle_set_by_hand
from leads.models import Handoff, Lead
from pipeline import services as deals
from pipeline.models import Deal, Stage
from quotes import services as quotes
from salesmarketing.services import api_key_create
from tests.kpis.conftest import NOW, _lead, jst

pytestmark = pytest.mark.django_db

W46, W47, W48 = (Period.parse(f"2026-W{n}") for n in (46, 47, 48))
OCTOBER, NOVEMBER = Period.parse("2026-10"), Period.parse("2026-11")
PAST = [OCTOBER, W46, W47]


def _marks(periods: list[Period], scope: Scope = Scope()) -> list[str]:  # noqa: B008 (immutable)
    """The generations each period's cached value is keyed by: unchanged means read from the cache."""
    names = dict.fromkeys(name for kpi in KPIS for name in kpi.measures)
    cached = tuple(
        n for n in names if n not in MANUAL_MEASURES and MEASURES_BY_NAME[n].source in CACHED_SOURCES
    )
    marks = _generations([(cached, period) for period in periods], NOW, scope)
    return [marks[cached, period] for period in periods]


def _warm(periods: list[Period]) -> list[dict]:
    """Read twice: the second read comes from the cache."""
    compute(periods, now=NOW)
    return compute(periods, now=NOW)


def _key(kpis: list[str]) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {api_key_create(name='BI', source='bi', scopes=kpis)[1]}"}


def _api_values(client, auth, query: str) -> dict:
    response = client.get(f"/api/v1/kpis?{query}", **auth)
    assert response.status_code == 200
    return {item["key"]: item["value"] for item in response.json()["kpis"]}


def test_a_deal_won_on_monday_and_reopened_through_the_api_leaves_this_weeks_numbers(
    client, kpi_data, frozen_now, teammate
):
    auth = _key(["kpis:read", "deals:write"])
    d7 = Deal.objects.get(name="D7")  # won on Monday 23rd: the cached days of the running week and month
    before = _api_values(client, auth, "week=2026-W48")
    assert _api_values(client, auth, "week=2026-W48") == before  # warm
    compute([NOVEMBER], now=NOW)
    untouched = _marks(PAST)

    open_stage = Stage.objects.filter(pipeline_id=d7.stage.pipeline_id, is_won=False, is_lost=False).first()
    api = {"HTTP_AUTHORIZATION": f"Bearer {api_key_create(name='CRM', source='crm', scopes=['deals:write'], user=teammate)[1]}"}  # fmt: skip
    response = client.patch(
        f"/api/v1/deals/{d7.pk}",
        json.dumps({"stage_id": open_stage.pk}),
        content_type="application/json",
        **api,
    )
    assert response.status_code == 200 and response.json()["status"] == "open"

    after = _api_values(client, auth, "week=2026-W48")
    assert (before["deals_won"], after["deals_won"]) == (1, 0)
    assert (before["revenue"], after["revenue"]) == (700_000, 0)
    assert before["win_rate"] == 1 and after["win_rate"] is None
    assert before["average_deal_size"] == 700_000 and after["average_deal_size"] is None
    assert before["ltv"] != after["ltv"]
    assert (
        compute([NOVEMBER], now=NOW)[0]["deals_won"]
        == compute([NOVEMBER], now=NOW, fresh=True)[0]["deals_won"]
    )
    assert _marks(PAST) == untouched  # closed weeks before Monday: still read from the cache


def test_a_deal_closed_into_a_past_week_through_the_service_shows_there_and_nowhere_else(kpi_data, owner):
    w46, w47 = _warm([W46, W47])
    untouched = _marks([OCTOBER, W46])
    d2 = Deal.objects.get(name="D2")  # created Wednesday 18th (W47), open
    deals.deal_close_won(deal=d2, amount=400_000, by=owner, at=jst(11, 19, 12), notify=False)

    after = compute([W46, W47], now=NOW)
    assert after[1]["deals_won"] == w47["deals_won"] + 1
    assert after[1]["revenue"] == w47["revenue"] + 400_000
    assert after[1]["win_rate"] != w47["win_rate"]
    assert after[0] == w46
    assert _marks([OCTOBER, W46]) == untouched


def test_a_lead_backdated_into_last_month_shows_in_it(kpi_data):
    (october,) = _warm([OCTOBER])
    untouched = _marks([W46, W47])
    _lead("imported@example.jp", jst(10, 14, 12))  # an import keeps the lead's own date

    assert compute([OCTOBER], now=NOW)[0]["leads_acquired"] == october["leads_acquired"] + 1
    assert _marks([W46, W47]) == untouched


def test_a_page_view_backdated_into_last_week_through_the_api_shows_in_its_visitors(
    client, kpi_data, frozen_now
):
    w46, w47 = _warm([W46, W47])
    untouched = _marks([OCTOBER, W46])
    event = {"id": "late-1", "type": "page_view", "visitor_id": "late-visitor", "url": "https://x.jp/"}
    response = client.post(
        "/api/v1/events",
        json.dumps({"events": [{**event, "occurred_at": jst(11, 18, 9).isoformat()}]}),
        content_type="application/json",
        **_key(["events:write"]),
    )
    assert response.status_code == 202 and response.json()["accepted"] == 1

    after = compute([W46, W47], now=NOW)
    assert after[1]["visitors"] == w47["visitors"] + 1
    assert after[0] == w46
    assert _marks([OCTOBER, W46]) == untouched


def test_a_handoff_corrected_by_raw_sql_shows_in_its_week(kpi_data):
    (w47,) = _warm([W47])
    untouched = _marks([OCTOBER, W46])
    working = Handoff.objects.get(state="working")  # MQL on Friday 20th, still open
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE leads_handoff SET state = 'rejected', reject_reason = 'too_early', decided_at = %s"
            " WHERE id = %s",
            [jst(11, 21, 9), working.pk],
        )

    after = compute([W47], now=NOW)[0]
    assert after["handoffs_rejected"] == w47["handoffs_rejected"] + 1
    assert after["lead_quality"] != w47["lead_quality"]
    assert _marks([OCTOBER, W46]) == untouched


def test_a_deal_deleted_changes_the_cohort_of_the_handoff_it_came_from(kpi_data):
    """D2 came from a handoff of W46 (MQL on the 13th) but was made in W47: W46's 商談化率 counts it."""
    (w46,) = _warm([W46])
    Deal.objects.filter(name="D2").delete()
    assert compute([W46], now=NOW)[0] == compute([W46], now=NOW, fresh=True)[0]
    assert compute([W46], now=NOW)[0] != w46


def test_a_deal_changed_in_the_admin_shows_at_once(admin_client, admin_user, rf, kpi_data):
    (october,) = _warm([OCTOBER])
    d3 = Deal.objects.get(name="D3")  # sales-sourced, created on October 1st
    request = rf.get("/")
    request.user = admin_user
    form = admin.site._registry[Deal].get_form(request, d3)
    data = {k: "" if v is None else v for k, v in model_to_dict(d3, fields=list(form.base_fields)).items()}
    data["source"] = "marketing"  # relabelled by hand: self-reported, not from a handoff
    response = admin_client.post(f"/admin/pipeline/deal/{d3.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:2000]

    after = compute([OCTOBER], now=NOW)[0]
    assert after["opportunities_marketing_influenced"] == october["opportunities_marketing_influenced"] + 1
    assert after["opportunities_marketing_sourced"] == october["opportunities_marketing_sourced"]


def test_the_live_weekly_review_reads_its_numbers_from_the_cache_and_shows_a_late_write(kpi_data, owner):
    """The live review (a week not frozen) reads the week, the month and quarter to date from the cache like the
    dashboard, and they equal the numbers computed whole, before and after a deal is closed into the week."""

    def live() -> dict:
        return services.snapshot_values(week=W47, team_id=None, now=NOW, fresh=False)

    live()
    with CaptureQueriesContext(connection) as queries:
        before = live()
    assert not any('"pipeline_deal"' in query["sql"] for query in queries.captured_queries)  # cache hits
    assert before == services.snapshot_values(week=W47, team_id=None, now=NOW)

    d2 = Deal.objects.get(name="D2")  # created Wednesday 18th (W47), open
    deals.deal_close_won(deal=d2, amount=400_000, by=owner, at=jst(11, 19, 12), notify=False)
    after = live()
    assert after["values"]["deals_won"] == before["values"]["deals_won"] + 1
    assert after["context"]["month"]["revenue"] == before["context"]["month"]["revenue"] + 400_000
    assert after == services.snapshot_values(week=W47, team_id=None, now=NOW)


def test_costs_and_hand_entered_values_entered_later_show_at_once(kpi_data, manager):
    october, w47 = _warm([OCTOBER, W47])
    cost_add(campaign=kpi_data.campaign, date=dt.date(2026, 11, 18), amount=Decimal(20_000))
    services.manual_value_set(
        kpi="brand_awareness",
        period_kind=ManualKpiValue.Kind.MONTH,
        period_start=dt.date(2026, 10, 1),
        value=Decimal("0.22"),
        by=manager,
    )
    after_october, after_w47 = compute([OCTOBER, W47], now=NOW)
    assert after_w47["marketing_cost"] == w47["marketing_cost"] + 20_000
    assert (october["brand_awareness"], after_october["brand_awareness"]) == (0.2, 0.22)


def test_writes_that_change_no_measured_column_mark_nothing(kpi_data):
    """A rescore rewrites every lead and a board move a deal's stage: no period's numbers change, so no cached
    value is dropped."""
    marks = _marks(PAST + [W48])
    Lead.objects.update(fit_score=42)
    Deal.objects.filter(name="D2").update(stage_changed_at=jst(11, 24, 9), probability=70)
    assert _marks(PAST + [W48]) == marks


def test_todays_writes_are_read_at_once_in_every_running_period(kpi_data, owner):
    """A running period's medians and distinct counts (MQLs, speed to lead) are kept in the cache under its
    days' generations: a write of today is marked like any other, so the next read includes it."""
    now = dt.datetime.now(dt.UTC)
    running = [Period.current(kind, now) for kind in ("week", "month", "quarter")]
    before = _warm_at(running, now)
    lead = _lead("mql-now@example.jp", now - dt.timedelta(minutes=5))
    handoff = Handoff.objects.create(
        lead=lead, owner=owner, team=owner.team, state="assigned", mql_at=now - dt.timedelta(minutes=1),
        assigned_at=now, sla_due_at=now + dt.timedelta(hours=4), first_touch_at=now,
    )  # fmt: skip
    after = compute(running, now=now)
    assert [values["mqls"] for values in after] == [values["mqls"] + 1 for values in before]
    assert after == compute(running, now=now, fresh=True)
    Handoff.objects.filter(pk=handoff.pk).update(first_touch_at=now + dt.timedelta(minutes=30))
    assert compute(running, now=now) == compute(running, now=now, fresh=True)


def test_folding_the_marks_keeps_every_cached_value_right(kpi_data):
    """Beat folds the marks into a row per day: the keys change once (each day folded gets a new generation), the
    values read after are the fresh ones, and a write after the fold is read at once."""
    before = _warm(PAST + [W48])
    keys = _marks(PAST + [W48])
    assert KpiMark.objects.exists()  # the fixture's writes
    assert services.day_marks_fold() > 0
    assert not KpiMark.objects.exists()
    assert all(new != old for new, old in zip(_marks(PAST + [W48]), keys, strict=True))
    assert compute(PAST + [W48], now=NOW) == before
    cost_add(campaign=kpi_data.campaign, date=dt.date(2026, 11, 18), amount=Decimal(5_000))
    assert compute([W47], now=NOW)[0]["marketing_cost"] == before[2]["marketing_cost"] + 5_000
    assert services.day_marks_fold() == 1  # the cost's day
    assert compute(PAST + [W48], now=NOW) == compute(PAST + [W48], now=NOW, fresh=True)


def _warm_at(periods: list[Period], now: dt.datetime) -> list[dict]:
    compute(periods, now=now)
    return compute(periods, now=now)


# --- quotes (見積送付数, 見積受注率, 見積受注数) --------------------------------------------------------------------


def test_a_quote_of_last_week_accepted_today_moves_last_weeks_acceptance_rate_only(kpi_data, outsider):
    """Q2 was sent on Friday of W47: the acceptance rate is a cohort of the quotes sent, so its answer today
    changes W47 (its sent day is marked), not W46."""
    w46, w47 = _warm([W46, W47])
    untouched = _marks([OCTOBER, W46])
    _q1, q2, _q3 = kpi_data.quotes
    quotes.quote_accept(quote=q2, by=outsider)

    after = compute([W46, W47], now=NOW)
    assert (w47["quote_acceptance_rate"], after[1]["quote_acceptance_rate"]) == (0.5, 1.0)
    assert after[1] == compute([W47], now=NOW, fresh=True)[0]
    assert after[0] == w46
    assert _marks([OCTOBER, W46]) == untouched


def test_a_sent_quote_revised_counts_no_more_in_the_week_it_was_sent(kpi_data, outsider):
    (w47,) = _warm([W47])
    _q1, q2, _q3 = kpi_data.quotes
    quotes.quote_revise(quote=q2, by=outsider)  # Q2 superseded; its revision is a draft, not sent yet

    after = compute([W47], now=NOW)[0]
    assert (w47["quotes_sent"], after["quotes_sent"]) == (2, 1)
    assert after["quote_acceptance_rate"] == 1.0


def test_a_deal_handed_to_another_team_takes_its_quotes_team_numbers_along(kpi_data, owner, outsider):
    """Q3 was sent in W46 on D8, a deal made in W47: handing D8 to T1 changes nobody's deal numbers of W46, but
    it moves Q3 between the teams' W46 quote numbers (the deal's change marks its quotes' days)."""
    t1, t2 = Scope(team_id=kpi_data.t1.pk), Scope(team_id=kpi_data.t2.pk)
    for scope in (t1, t2):
        compute([W46], scope=scope, now=NOW)
    before_t1, before_t2 = (compute([W46], scope=scope, now=NOW)[0] for scope in (t1, t2))
    deals.deal_update(deal=Deal.objects.get(name="D8"), by=outsider, owner=owner)

    after_t1, after_t2 = (compute([W46], scope=scope, now=NOW)[0] for scope in (t1, t2))
    assert (before_t1["quotes_sent"], after_t1["quotes_sent"]) == (0, 1)
    assert (before_t2["quotes_sent"], after_t2["quotes_sent"]) == (1, 0)
    assert after_t1 == compute([W46], scope=t1, now=NOW, fresh=True)[0]


# --- lifecycle history (新規顧客数) -----------------------------------------------------------------------------


def test_a_lead_made_a_customer_now_shows_at_the_next_read(kpi_data, manager, frozen_now):
    """Today's change (W48 running, a distinct count computed whole at each read) with the rest cached."""
    w47, w48 = _warm([W47, W48])
    untouched = _marks(PAST)
    l5 = kpi_data.leads[4]
    lead_lifecycle_set_by_hand(lead=l5, to=LifecycleStage.CUSTOMER, by=manager, reason="注文書を受領")

    after = compute([W47, W48], now=NOW)
    assert (w48["new_customers"], after[1]["new_customers"]) == (0, 1)
    assert after[0] == w47
    assert _marks(PAST) == untouched


def test_a_lifecycle_change_backdated_into_a_past_week_shows_there_and_nowhere_else(kpi_data, manager):
    october, w46, w47 = _warm(PAST)
    untouched = _marks([OCTOBER, W46])
    l3 = kpi_data.leads[2]
    lead_lifecycle_change(
        lead=l3, to=LifecycleStage.CUSTOMER, by=manager, reason="契約済み", at=jst(11, 19, 9)
    )

    after = compute(PAST, now=NOW)
    assert (w47["new_customers"], after[2]["new_customers"]) == (1, 2)
    assert after[:2] == [october, w46]
    assert _marks([OCTOBER, W46]) == untouched


def test_a_lifecycle_change_corrected_by_raw_sql_moves_between_periods(kpi_data):
    """l1 became a customer on the 20th (W47, D1 won); the row is redated into October by hand."""
    october, w47 = _warm([OCTOBER, W47])
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE leads_lifecyclechange SET at = %s WHERE lead_id = %s AND to_stage = 'customer'",
            [jst(10, 20, 9), kpi_data.leads[0].pk],
        )

    after = compute([OCTOBER, W47], now=NOW)
    assert (october["new_customers"], after[0]["new_customers"]) == (0, 1)
    assert (w47["new_customers"], after[1]["new_customers"]) == (1, 0)


def test_a_lead_handed_to_another_team_takes_its_customer_count_along(kpi_data, manager, outsider):
    """l2 (T1, created in W46) became a customer in W47: handing it to T2 marks the days of its changes, not only
    of its creation, so both teams' W47 moves."""
    l2 = kpi_data.leads[1]
    lead_lifecycle_change(lead=l2, to=LifecycleStage.CUSTOMER, by=manager, reason="契約", at=jst(11, 19, 9))
    t1, t2 = Scope(team_id=kpi_data.t1.pk), Scope(team_id=kpi_data.t2.pk)
    for scope in (t1, t2):
        compute([W47], scope=scope, now=NOW)
    before_t1, before_t2 = (compute([W47], scope=scope, now=NOW)[0] for scope in (t1, t2))
    Lead.objects.filter(pk=l2.pk).update(owner=outsider)

    after_t1, after_t2 = (compute([W47], scope=scope, now=NOW)[0] for scope in (t1, t2))
    assert (before_t1["new_customers"], after_t1["new_customers"]) == (2, 1)  # l1 and l2, then l1
    assert (before_t2["new_customers"], after_t2["new_customers"]) == (0, 1)
    assert after_t2 == compute([W47], scope=t2, now=NOW, fresh=True)[0]


# --- whose the rows are ------------------------------------------------------------------------------------------


def test_old_rows_handed_to_another_rep_keep_everyones_numbers_cached(kpi_data, outsider):
    """An assignment changes whose a lead or a handoff is, not how many there were: it marks their days under the
    tables' whose sources, which only a team's or an owner's numbers read. So a rescore handing thousands of old
    leads to reps leaves the company-wide months they were created in cached, while both teams' weeks move."""
    l2 = kpi_data.leads[1]  # T1's, created and handed over in W46
    scopes = everyone, t1, t2 = Scope(), Scope(team_id=kpi_data.t1.pk), Scope(team_id=kpi_data.t2.pk)
    for scope in scopes:
        compute(PAST, scope=scope, now=NOW)
    before = {scope: (_marks(PAST, scope), compute(PAST, scope=scope, now=NOW)) for scope in scopes}

    Lead.objects.filter(pk=l2.pk).update(owner=outsider)
    Handoff.objects.filter(lead=l2).update(owner=outsider, team=kpi_data.t2)

    assert _marks(PAST, everyone) == before[everyone][0]
    for scope in (t1, t2):  # W46 (l2's creation and MQL) and W47 (its first touch, decision and deal) move
        assert _marks(PAST, scope)[0] == before[scope][0][0]
        assert _marks(PAST, scope)[1:] != before[scope][0][1:]
    after = {scope: compute(PAST, scope=scope, now=NOW) for scope in scopes}
    assert after[everyone] == before[everyone][1]
    assert after[t1][1]["leads_acquired"] == before[t1][1][1]["leads_acquired"] - 1  # W46
    assert after[t2][1]["leads_acquired"] == before[t2][1][1]["leads_acquired"] + 1
    for scope in (t1, t2):
        assert after[scope] == compute(PAST, scope=scope, now=NOW, fresh=True)


def test_a_rows_other_columns_changed_with_its_owner_mark_everyones_days_too(kpi_data, outsider):
    """Whose-only is only whose-only: a lead merged and handed over in one write leaves every count of its day."""
    everyone = Scope()
    _october, w46, _w47 = _warm(PAST)
    l2 = kpi_data.leads[1]
    Lead.objects.filter(pk=l2.pk).update(owner=outsider, merged_into=kpi_data.leads[0])

    after = compute(PAST, scope=everyone, now=NOW)
    assert after[1]["leads_acquired"] == w46["leads_acquired"] - 1
    assert after == compute(PAST, scope=everyone, now=NOW, fresh=True)
