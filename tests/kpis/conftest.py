"""A small, fixed data set around ISO week 2026-W47 (Mon 16 – Sun 22 November 2026, Asia/Tokyo).

Every expected KPI value in the tests is worked out by hand from the rows below; the comments on each row say
which numbers it moves. Leads and deals are made through the services; rows whose timestamps the services do not
take (a lead's creation time, a touch, a handoff's SLA clock) are written at exact times, since the flows that
normally fill them are tested in their own apps.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import time_machine

from campaigns.models import CampaignCost
from kpis import services
from kpis.models import ManualKpiValue
from leads.models import Campaign, Handoff, Lead, Touch
from leads.services import company_resolve, lead_upsert
from pipeline import services as deals
from pipeline.models import Deal
from pipeline.services import pipeline_ensure_default
from quotes import services as quotes
from quotes.models import Issuer, Quote

TOKYO = ZoneInfo("Asia/Tokyo")
# Wednesday after the week: the week is over, every SLA in it has fallen due.
NOW = dt.datetime(2026, 11, 25, 10, 0, tzinfo=TOKYO)


def jst(
    month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, year: int = 2026
) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=TOKYO)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """The standing users are made per test; a slow hasher would dominate these tests' time."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def frozen_now():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def _lead(email: str, created_at: dt.datetime, owner=None) -> Lead:
    lead, _created = lead_upsert(email=email, source="manual", name=email.split("@")[0])
    Lead.objects.filter(pk=lead.pk).update(created_at=created_at, owner=owner)
    lead.refresh_from_db()
    return lead


def _handoff(
    lead, *, owner, mql_at, sla_hours=4, first_touch_after=None, state="assigned", decided_at=None, **kw
):
    return Handoff.objects.create(
        lead=lead,
        owner=owner,
        team=owner.team,
        state=state,
        mql_at=mql_at,
        assigned_at=mql_at,
        sla_due_at=mql_at + dt.timedelta(hours=sla_hours),
        first_touch_at=None if first_touch_after is None else mql_at + first_touch_after,
        decided_at=decided_at,
        decided_by=owner if decided_at else None,
        **kw,
    )


@pytest.fixture
def kpi_data(db, owner, teammate, outsider, manager):
    """The week's data. Team T1 = owner, teammate, manager (営業一課); T2 = outsider (営業二課)."""
    pipeline_ensure_default()
    c1 = company_resolve(name="株式会社一号", domain="one.example.jp")
    c2 = company_resolve(name="株式会社二号", domain="two.example.jp")
    c3 = company_resolve(name="株式会社三号", domain="three.example.jp")

    # --- leads (creation time decides the period) ---------------------------------------------------------
    l1 = _lead("l1@one.example.jp", jst(11, 16, 0, 0), owner=owner)  # W47's first second; T1
    l2 = _lead("l2@one.example.jp", jst(11, 15, 23, 59), owner=owner)  # W46's last minute
    l3 = _lead("l3@two.example.jp", jst(11, 18, 10), owner=outsider)  # W47; T2
    l4 = _lead("l4@two.example.jp", jst(11, 22, 23, 59, 59))  # W47's last second; no owner
    l5 = _lead("l5@three.example.jp", jst(11, 23, 0, 0))  # W48's first second

    # --- page views: distinct visitors ----------------------------------------------------------------------
    def touch(key, when, *, visitor="", lead=None, type="page_view"):
        return Touch(
            visitor_id=visitor, lead=lead, type=type, occurred_at=when, source="test", idempotency_key=key
        )

    Touch.objects.bulk_create(
        [
            touch("v1a", jst(11, 17, 9), visitor="v1"),  # v1 twice: one visitor
            touch("v1b", jst(11, 18, 9), visitor="v1"),
            touch("v1c", jst(11, 18, 9, 5), visitor="v1", type="form_submit"),
            touch("v2", jst(11, 19, 9), visitor="v2"),
            touch("v5", jst(11, 22, 23, 0), visitor="v5"),
            touch("l1", jst(11, 20, 9), lead=l1),  # a known lead without a cookie id: a visitor too
            touch("v3", jst(11, 15, 23), visitor="v3"),  # W46
            touch("v4", jst(11, 19, 10), visitor="v4", type="form_submit"),  # no page view: not a visitor
        ]
    )

    # --- handoffs --------------------------------------------------------------------------------------------
    h1 = _handoff(  # T1: MQL, accepted and touched in time (30 min) in W47 → a deal
        l1,
        owner=owner,
        mql_at=jst(11, 16, 9),
        first_touch_after=dt.timedelta(minutes=30),
        state="accepted",
        decided_at=jst(11, 16, 12),
    )
    _handoff(  # T2: MQL and rejected in W47, touched after 6 h (SLA breached)
        l3,
        owner=outsider,
        mql_at=jst(11, 17, 10),
        first_touch_after=dt.timedelta(hours=6),
        state="rejected",
        decided_at=jst(11, 17, 17),
        reject_reason="too_early",
        reject_note="資料を見ただけ",
    )
    _handoff(  # T1: MQL in W47, still open, touched after 90 min (in time)
        l4,
        owner=teammate,
        mql_at=jst(11, 20, 10),
        first_touch_after=dt.timedelta(minutes=90),
        state="working",
    )
    h4 = _handoff(  # T1: MQL in W46, first touched 3 days later (in W47), accepted in W47 → a deal
        l2,
        owner=owner,
        mql_at=jst(11, 13, 10),
        first_touch_after=dt.timedelta(days=3),
        state="accepted",
        decided_at=jst(11, 18, 10),
    )
    _handoff(  # T2: MQL in W47 (Saturday), SLA due next week, not touched yet
        l5, owner=outsider, mql_at=jst(11, 21, 10), sla_hours=48
    )

    # --- deals ----------------------------------------------------------------------------------------------
    def deal(name, owner_, created_at, *, company, source="sales", handoff=None, amount=1_000_000):
        return deals.deal_create(
            name=name,
            owner=owner_,
            by=owner_,
            company=company,
            contact=handoff.lead if handoff else None,  # won: its lead becomes a customer (新規顧客数)
            source=source,
            handoff=handoff,
            amount=amount,
            created_at=created_at,
        )

    d1 = deal("D1", owner, jst(11, 16, 12), company=c1, source="marketing", handoff=h1)
    deals.deal_close_won(deal=d1, amount=1_200_000, by=owner, at=jst(11, 20, 15), notify=False)  # 4.125 days
    deal("D2", owner, jst(11, 18, 10), company=c1, source="marketing", handoff=h4)  # open
    d3 = deal("D3", outsider, jst(10, 1, 10), company=c2)  # sales-sourced, T2
    deals.deal_close_won(deal=d3, amount=3_000_000, by=outsider, at=jst(11, 19, 10), notify=False)  # 49 days
    d4 = deal("D4", teammate, jst(11, 17, 9), company=c1, source="marketing")  # marketing, no handoff
    deals.deal_close_lost(
        deal=d4, cause="price", side="external", note="3割高い", by=teammate, at=jst(11, 21, 18)
    )
    d5 = deal("D5", outsider, jst(9, 1, 10), company=c3)
    deals.deal_close_lost(deal=d5, cause="timing", side="external", by=outsider, at=jst(11, 15, 20))  # W46
    d6 = deal("D6", owner, jst(6, 1, 10), company=c1, source="referral")
    deals.deal_close_won(deal=d6, amount=500_000, by=owner, at=jst(7, 1, 10), notify=False)  # history (LTV)
    d7 = deal("D7", teammate, jst(11, 1, 10), company=c2)
    deals.deal_close_won(deal=d7, amount=700_000, by=teammate, at=jst(11, 23, 0), notify=False)  # W48
    deal("D8", outsider, jst(11, 19, 10), company=c3)  # sales-sourced, open, T2
    deal("D9", owner, jst(9, 1, 10), company=c2)  # sales-sourced, open, T1: made in Q3, quoted in W47

    # --- quotes (sent and answered at exact times; the services stamp now) -------------------------------------
    d8, d9 = Deal.objects.get(name="D8"), Deal.objects.get(name="D9")
    q1, q2, q3 = _quotes(d9, d8, owner=owner, outsider=outsider)

    # --- campaign costs (dates, Tokyo) ------------------------------------------------------------------------
    campaign = Campaign.objects.create(name="残業削減ウェビナー", channel="webinar", utm_campaign="kpi-test")
    for day, amount in ((dt.date(2026, 11, 15), 7), (dt.date(2026, 11, 16), 100_000), (dt.date(2026, 11, 22), 50_000), (dt.date(2026, 11, 23), 999)):  # fmt: skip
        CampaignCost.objects.create(campaign=campaign, date=day, amount=amount)

    # --- hand-entered values ------------------------------------------------------------------------------------
    for month, share in ((10, "0.20"), (11, "0.25"), (12, "0.30")):
        services.manual_value_set(
            kpi="brand_awareness",
            period_kind=ManualKpiValue.Kind.MONTH,
            period_start=dt.date(2026, month, 1),
            value=Decimal(share),
            by=manager,
        )
    services.manual_value_set(
        kpi="market_size",
        period_kind=ManualKpiValue.Kind.YEAR,
        period_start=dt.date(2026, 6, 1),  # normalised to 2026-01-01
        value=Decimal(1_000_000_000),
        by=manager,
    )
    return SimpleNamespace(
        t1=owner.team,
        t2=outsider.team,
        leads=(l1, l2, l3, l4, l5),
        d1=d1,
        d4=d4,
        campaign=campaign,
        quotes=(q1, q2, q3),
    )


def _sent(deal, by, *, sent_at, accepted_at=None) -> Quote:
    """A quote of the deal's items, issued, sent and maybe accepted through the services, then dated."""
    quote = quotes.quote_issue(quote=quotes.quote_create(deal=deal, by=by), by=by)
    quote = quotes.quote_mark_sent(quote=quote, by=by)
    if accepted_at is not None:
        quote = quotes.quote_accept(quote=quote, by=by)
    Quote.objects.filter(pk=quote.pk).update(sent_at=sent_at, decided_at=accepted_at)
    quote.refresh_from_db()
    return quote


def _quotes(d9, d8, *, owner, outsider) -> tuple[Quote, Quote, Quote]:
    """Q1 (D9, T1): rev. 1 sent Monday, revised, rev. 2 sent Tuesday and accepted Thursday — rev. 1 is superseded
    and counts no more. Q2 (D8, T2): sent Friday, unanswered. Q3 (D8): sent in W46, accepted Tuesday of W47.
    W47: 2 sent (Q1 rev. 2, Q2), 1 of them accepted (50 %); 2 accepted in the week (Q1, Q3)."""
    Issuer.objects.create(is_default=True, name="株式会社サンプル商事", registration_number="T7000012050002")
    for deal in (d9, d8):  # one line at the deal's own amount: the amount stays as it is
        quotes.line_item_add(deal=deal, by=deal.owner, description="導入一式", unit_price=deal.amount)
    first = _sent(d9, owner, sent_at=jst(11, 16, 11))
    revised = quotes.quote_issue(quote=quotes.quote_revise(quote=first, by=owner), by=owner)
    revised = quotes.quote_mark_sent(quote=revised, by=owner)
    revised = quotes.quote_accept(quote=revised, by=owner)
    Quote.objects.filter(pk=revised.pk).update(sent_at=jst(11, 17, 10), decided_at=jst(11, 19, 15))
    q2 = _sent(d8, outsider, sent_at=jst(11, 20, 16))
    q3 = _sent(d8, outsider, sent_at=jst(11, 13, 16), accepted_at=jst(11, 17, 9))
    return revised, q2, q3
