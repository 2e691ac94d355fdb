"""Issue #17: the KPI definitions an independent check found off, each as DESIGN.md ("KPI definitions") settles it.

1. 商談化数 (and marketing-sourced revenue, marketing deals won, ROI) count deals made from a lead sales accepted
   through a marketing handoff; a deal labelled "marketing" by hand or by an API key is self-reported, apart.
2. 商談化率 divides distinct leads, not handoffs: a lead handed over twice in a period is one lead.
3. Unique visitors are people: a known lead once, whatever its tracking ids and email-only page views.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from campaigns.models import CampaignCost
from kpis.models import VisitorPeriod
from kpis.periods import Period
from kpis.registry import KPI_BY_KEY, compute
from leads.handoffs import handoff_accept, handoff_reject
from leads.ingest import events_ingest
from leads.models import Handoff, Lead
from leads.privacy import lead_erase
from pipeline import services as deals
from pipeline.models import Deal
from pipeline.services import pipeline_ensure_default
from salesmarketing.services import api_key_create
from tests.kpis.conftest import jst
from tests.leads.factories import CampaignFactory, make_company, make_lead
from tests.pipeline.factories import make_deal

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _pipeline(db):
    pipeline_ensure_default()


def _key_of(user) -> dict:
    _key, plain = api_key_create(name="CRM sync", source="crm", scopes=["deals:write"], user=user)
    return {"HTTP_AUTHORIZATION": f"Bearer {plain}"}


W47 = Period.parse("2026-W47")
NOW = jst(11, 25, 10)


def _values(*keys, period=W47):
    return compute([period], kpis=[KPI_BY_KEY[k] for k in keys], now=NOW)[0]


def _handed_over(lead, owner, at):
    """A handoff as the MQL flip leaves it (that flow is the scoring app's), assigned to `owner`."""
    return Handoff.objects.create(
        lead=lead, owner=owner, team=owner.team, state=Handoff.State.ASSIGNED, mql_at=at, assigned_at=at
    )


# --- 1. marketing-sourced means: from an accepted marketing handoff ---------------------------------------


def test_a_deal_labelled_marketing_without_a_handoff_is_self_reported_not_marketing_sourced(owner):
    from_handoff = handoff_accept(
        handoff=_handed_over(make_lead(), owner, jst(11, 16, 9)), by=owner, now=jst(11, 16, 10)
    ).deal
    by_hand = make_deal(owner=owner, source="marketing", created_at=jst(11, 17, 9))
    make_deal(owner=owner, source="sales", created_at=jst(11, 17, 10))
    deals.deal_close_won(deal=from_handoff, amount=2_000_000, by=owner, at=jst(11, 19, 9), notify=False)
    deals.deal_close_won(deal=by_hand, amount=5_000_000, by=owner, at=jst(11, 19, 10), notify=False)
    CampaignCost.objects.create(campaign=CampaignFactory(), date=dt.date(2026, 11, 18), amount=1_000_000)

    values = _values(
        "opportunities_marketing_sourced",
        "opportunities_marketing_influenced",
        "marketing_sourced_revenue",
        "deals_won_marketing",
        "roi",
    )

    assert values == {
        "opportunities_marketing_sourced": 1,  # before: 2 (the hand-labelled deal too)
        "opportunities_marketing_influenced": 1,  # shown beside it
        "marketing_sourced_revenue": 2_000_000,  # before: 7,000,000
        "deals_won_marketing": 1,
        "roi": pytest.approx(1.0),  # (2,000,000 − 1,000,000) / 1,000,000; before: 6.0
    }


def test_an_api_key_labelling_a_deal_marketing_makes_it_self_reported(client, owner):
    response = client.post(
        "/api/v1/deals",
        {"name": "API deal", "source": "marketing", "amount": 100, "company_name": "株式会社API"},
        content_type="application/json",
        **_key_of(owner),
    )
    assert response.status_code == 201, response.content
    (values,) = compute(
        [Period.current("week", dt.datetime.now(tz=NOW.tzinfo))],
        kpis=[
            KPI_BY_KEY["opportunities_marketing_sourced"],
            KPI_BY_KEY["opportunities_marketing_influenced"],
        ],
    )
    assert values == {"opportunities_marketing_sourced": 0, "opportunities_marketing_influenced": 1}


def test_a_deal_from_a_handoff_keeps_its_source(owner, owner_client):
    deal = handoff_accept(handoff=_handed_over(make_lead(), owner, jst(11, 16, 9)), by=owner).deal
    assert deal.source == Deal.Source.MARKETING

    # the service refuses, with a message on the field
    with pytest.raises(ValidationError) as error:
        deals.deal_update(deal=deal, by=owner, source="sales")
    assert "source" in error.value.message_dict

    # the form shows that message next to the field and changes nothing
    response = owner_client.post(
        reverse("pipeline:deal_edit", args=[deal.pk]),
        {
            "name": deal.name,
            "amount": "1000",
            "probability": "10",
            "expected_close_date": "2026-12-24",
            "source": "sales",
            "version": deal.version,
        },
    )
    assert response.status_code == 200
    assert (
        "source cannot be changed" in response.content.decode()
        or "変更できません" in response.content.decode()
    )

    # the API answers 422 naming the field
    response = owner_client.patch(
        f"/api/v1/deals/{deal.pk}", {"source": "referral"}, content_type="application/json", **_key_of(owner)
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "source"]

    # and the database holds it, whatever path a write takes
    with pytest.raises(IntegrityError), transaction.atomic():
        Deal.objects.filter(pk=deal.pk).update(source="sales")
    deal.refresh_from_db()
    assert deal.source == Deal.Source.MARKETING

    # a deal without a handoff may still be relabelled (it is only self-reported either way)
    own = make_deal(owner=owner, source="sales")
    assert deals.deal_update(deal=own, by=owner, source="marketing").source == "marketing"


def test_a_deal_made_from_a_handoff_cannot_be_given_another_source(owner):
    handoff = _handed_over(make_lead(), owner, jst(11, 16, 9))
    with pytest.raises(ValidationError):
        deals.deal_create(name="x", owner=owner, by=owner, source="sales", handoff=handoff)
    # without a source it is marketing-sourced (the only source it may have); without a handoff, sales-sourced
    assert deals.deal_create(name="x", owner=owner, by=owner, handoff=handoff).source == "marketing"
    assert deals.deal_create(name="y", owner=owner, by=owner).source == "sales"


def test_the_weekly_review_and_the_deal_list_tell_self_reported_from_handed_over(owner):
    handed = handoff_accept(handoff=_handed_over(make_lead(), owner, jst(11, 16, 9)), by=owner).deal
    by_hand = make_deal(owner=owner, source="marketing")
    assert handed.source_label != by_hand.source_label
    assert str(by_hand.source_label) in ("Marketing (self-reported)", "マーケ (自己申告)")


# --- 2. 商談化率 counts distinct leads -------------------------------------------------------------------------


def test_a_lead_handed_over_twice_in_the_period_counts_once(owner):
    """Ten leads handed over; one of them twice (rejected as too early, came back, accepted); six became deals."""
    leads = [make_lead(company=make_company()) for _ in range(10)]
    twice = leads[0]
    first = _handed_over(twice, owner, jst(11, 16, 10))
    handoff_reject(handoff=first, by=owner, reason="too_early", now=jst(11, 16, 11))
    handoff_accept(handoff=_handed_over(twice, owner, jst(11, 18, 10)), by=owner, now=jst(11, 18, 11))
    for i, lead in enumerate(leads[1:], start=1):
        handoff = _handed_over(lead, owner, jst(11, 17, 10))
        if i <= 5:
            handoff_accept(handoff=handoff, by=owner, now=jst(11, 17, 11))

    values = _values("lead_to_opportunity_rate", "mqls", "handed_over")

    assert values["mqls"] == 10
    assert values["handed_over"] == 10  # leads, as the MQL count; before: 11 handoffs
    assert values["lead_to_opportunity_rate"] == pytest.approx(0.6)  # 6/10; before: 6/11


# --- 3. a visitor is a person --------------------------------------------------------------------------------


def _page_views(*events):
    result = events_ingest(
        events=[{"type": "page_view", **event} for event in events], source="api:site", lead_source="api"
    )
    assert result.accepted == len(events), result.rejected


def _visitor_counts(period):
    """(the registry's number, the page views counted directly over the same days): on PostgreSQL the first
    comes from the trigger-kept roll-up, on SQLite both are direct counts."""
    custom = Period.between(period.start, period.end - dt.timedelta(days=1))
    rolled, counted = compute([period, custom], kpis=[KPI_BY_KEY["visitors"]], now=NOW)
    return rolled["visitors"], counted["visitors"]


def test_a_known_lead_with_a_cookie_and_an_email_only_page_view_is_one_visitor(db):
    _page_views(
        {
            "id": "1",
            "visitor_id": "cookie-a",
            "email": "taro@example.jp",
            "occurred_at": jst(11, 17, 9).isoformat(),
        },
        {"id": "2", "email": "taro@example.jp", "occurred_at": jst(11, 17, 10).isoformat()},  # by email only
        {
            "id": "3",
            "visitor_id": "cookie-b",
            "email": "taro@example.jp",
            "occurred_at": jst(11, 18, 9).isoformat(),
        },
        {"id": "4", "visitor_id": "stranger", "occurred_at": jst(11, 18, 10).isoformat()},
    )
    assert _visitor_counts(W47) == (
        2,
        2,
    )  # taro and the stranger; before: 4 (cookie-a, cookie-b, lead:taro, …)
    Lead.objects.filter(email="taro@example.jp").update(created_at=jst(11, 17, 9))  # captured that morning
    assert _values("cvr")["cvr"] == pytest.approx(0.5)  # 1 lead / 2 visitors; before: 1/4


def test_a_visitor_who_identifies_later_is_one_person_in_every_period_where_both_appear(db):
    # Anonymous on Sunday 23:59:59 (W47, November), identified on Monday 00:00 (W48, still November), and an
    # email-only page view the same Monday.
    _page_views({"id": "a1", "visitor_id": "cookie-z", "occurred_at": jst(11, 22, 23, 59, 59).isoformat()})
    assert _visitor_counts(W47) == (1, 1)
    _page_views(
        {
            "id": "a2",
            "visitor_id": "cookie-z",
            "email": "hanako@example.jp",
            "occurred_at": jst(11, 23).isoformat(),
        },
        {"id": "a3", "email": "hanako@example.jp", "occurred_at": jst(11, 23, 0, 5).isoformat()},
    )
    lead = Lead.objects.get(email="hanako@example.jp")
    for period in (W47, W47.next(), Period.parse("2026-11"), Period.parse("2026-Q4")):
        assert _visitor_counts(period) == (1, 1), period
    if connection.vendor == "postgresql":  # the roll-up holds the person, not the cookie
        assert set(VisitorPeriod.objects.values_list("visitor", flat=True)) == {f"lead:{lead.pk}"}

    # an erased lead's page views are gone, and so are they from the counts
    lead_erase(lead=lead, by=None)
    assert _visitor_counts(Period.parse("2026-11")) == (0, 0)
