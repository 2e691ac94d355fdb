"""KPIs read from the lifecycle history (issue #19 point 4): 新規顧客数 counts the distinct leads that became
customers in the period, whatever wrote the change (a won deal, a handoff rejected as already a customer, a
person by hand), for the lead's owner and team; its drill-down lists each of those leads once."""

from __future__ import annotations

import re

import pytest
from django.utils import formats, timezone, translation

from kpis.periods import Period
from kpis.registry import KPI_BY_KEY, Scope, compute
from leads.choices import LifecycleStage
from leads.handoffs import handoff_reject
from leads.lifecycle import lead_lifecycle_change
from pipeline import services as deals
from pipeline.services import pipeline_ensure_default
from tests.kpis.conftest import NOW, _handoff, jst
from tests.leads.factories import make_lead
from tests.pipeline.factories import make_deal

pytestmark = pytest.mark.django_db

W47 = Period.parse("2026-W47")
NEW_CUSTOMERS = KPI_BY_KEY["new_customers"]


def _new_customers(period: Period = W47, scope: Scope | None = None) -> int:
    return compute([period], scope=scope, kpis=[NEW_CUSTOMERS], now=NOW, fresh=True)[0]["new_customers"]


def test_a_lead_counts_once_however_often_it_became_a_customer_in_the_period(owner, manager):
    pipeline_ensure_default()
    twice, once = make_lead(owner=owner), make_lead(owner=owner)
    deal = make_deal(owner=owner, contact=twice)
    deals.deal_close_won(deal=deal, amount=1_000_000, by=owner, at=jst(11, 16, 10), notify=False)
    lead_lifecycle_change(
        lead=twice, to=LifecycleStage.RECYCLED, by=manager, reason="解約", at=jst(11, 17, 9)
    )
    lead_lifecycle_change(
        lead=twice, to=LifecycleStage.CUSTOMER, by=manager, reason="再契約", at=jst(11, 18, 9)
    )
    rejected = _handoff(once, owner=owner, mql_at=jst(11, 19, 9))
    handoff_reject(handoff=rejected, by=owner, reason="already_customer", now=jst(11, 19, 10))

    assert _new_customers() == 2  # three changes to customer, two people
    assert _new_customers(W47.previous()) == 0


def test_a_second_deal_won_by_a_customer_is_not_a_new_customer(owner):
    pipeline_ensure_default()
    lead = make_lead(owner=owner)
    first, second = make_deal(owner=owner, contact=lead), make_deal(owner=owner, contact=lead)
    deals.deal_close_won(deal=first, amount=500_000, by=owner, at=jst(11, 13, 10), notify=False)  # W46
    deals.deal_close_won(deal=second, amount=500_000, by=owner, at=jst(11, 18, 10), notify=False)  # W47

    assert (_new_customers(W47.previous()), _new_customers()) == (1, 0)
    assert compute([W47], kpis=[KPI_BY_KEY["deals_won"]], now=NOW)[0]["deals_won"] == 1


def test_a_team_counts_the_customers_of_its_owners_leads(owner, outsider, manager):
    ours, theirs, nobodys = make_lead(owner=owner), make_lead(owner=outsider), make_lead()
    for lead in (ours, theirs, nobodys):
        lead_lifecycle_change(
            lead=lead, to=LifecycleStage.CUSTOMER, by=manager, reason="契約", at=jst(11, 18, 9)
        )

    assert _new_customers() == 3
    assert _new_customers(scope=Scope(team_id=owner.team_id)) == 1
    assert _new_customers(scope=Scope(owner_id=outsider.pk)) == 1


def test_the_drilldown_lists_each_new_customer_once_with_its_latest_change(
    client, manager, outsider, kpi_data, frozen_now
):
    l1 = kpi_data.leads[0]  # D1's contact, a customer since D1 was won on the 20th
    lead_lifecycle_change(lead=l1, to=LifecycleStage.RECYCLED, by=manager, reason="解約", at=jst(11, 21, 9))
    lead_lifecycle_change(lead=l1, to=LifecycleStage.CUSTOMER, by=manager, reason="再契約", at=jst(11, 22, 9))
    client.force_login(manager)

    html = client.get("/kpis/new_customers/?period=2026-W47", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert _linked_leads(html) == [l1.get_absolute_url()]
    with translation.override("en"):
        assert _shown(jst(11, 22, 9)) in html and _shown(jst(11, 20, 15)) not in html  # its latest change
    client.force_login(outsider)  # a rep of T2: l1 is T1's, so the list leaves it out (the number stays)
    html = client.get("/kpis/new_customers/?period=2026-W47", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert _linked_leads(html) == []


def _linked_leads(html: str) -> list[str]:
    records = html.split('id="records"')[1]
    return re.findall(r'<a href="(/leads/\d+/)"', records)


def _shown(at) -> str:
    return formats.date_format(timezone.localtime(at), "SHORT_DATETIME_FORMAT")
