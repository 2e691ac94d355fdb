"""Attribution on hand-made journeys: the expected credit is worked out here, touch by touch.

Notation in the comments: A, B, C … are campaigns; "·" is a touch without a campaign; | marks the lead's
creation; ▲ the deal's creation.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection

from campaigns.attribution import (
    LeadSelection,
    attribution_refresh,
    attribution_sweep,
    rollups_refresh,
)
from campaigns.models import AttributionCredit, AttributionDay, AttributionDirtyDay, SegmentDay
from campaigns.rebuild import attribution_rebuild_now
from leads.models import Handoff, Lead
from pipeline.services import deal_close_won, deal_create
from tests.campaigns.factories import at, journey
from tests.conftest import require_or_skip
from tests.leads.factories import CampaignFactory, HandoffFactory, LeadFactory, TouchFactory

pytestmark = pytest.mark.django_db


def credits(lead, kind, model="w"):
    """{campaign name or None: credit} for one conversion kind of a lead."""
    rows = AttributionCredit.objects.filter(lead=lead, kind=kind).select_related("campaign")
    result: dict = {}
    for row in rows:
        key = row.campaign.name if row.campaign else None
        result[key] = round(result.get(key, 0) + getattr(row, model), 6)
    return {key: value for key, value in result.items() if value}


def refresh(*leads):
    return attribution_refresh(selection=LeadSelection(ids=tuple(lead.pk for lead in leads)))


@pytest.fixture
def abcde():
    return [CampaignFactory(name=name) for name in "ABCDE"]


@pytest.fixture
def owner_user(owner):
    return owner


def test_one_touch_gets_everything_under_every_model(abcde):
    a = abcde[0]
    lead = LeadFactory(created=at(3))
    journey(lead, (a, at(3, 11)))  # A |

    refresh(lead)

    for model in ("first", "last", "w"):
        assert credits(lead, "lead", model) == {"A": 1.0}


def test_lead_credit_two_touches_first_third_last_two_thirds(abcde):
    a, b, *_ = abcde
    lead = LeadFactory(created=at(3))
    journey(lead, (a, at(1)), (None, at(2)), (b, at(3, 11)))  # A · B |

    refresh(lead)

    assert credits(lead, "lead", "first") == {"A": 1.0}
    assert credits(lead, "lead", "last") == {"B": 1.0}
    # The touch without a campaign is left out: A (first, 30) and B (lead creation = conversion, 30 + 30);
    # nothing in between, so the 90 scale to 100 %: A ⅓, B ⅔.
    assert credits(lead, "lead") == {"A": round(1 / 3, 6), "B": round(2 / 3, 6)}


def test_deal_credit_is_w_shaped_30_30_10_30_and_ignores_touches_after_the_deal(abcde, owner):
    a, b, c, d, e = abcde
    lead = LeadFactory(created=at(3))
    # A · B | C D ▲ E
    journey(lead, (a, at(1)), (None, at(2)), (b, at(3, 11)), (c, at(5)), (d, at(6)), (e, at(8)))
    deal = deal_create(name="商談", owner=owner, by=owner, contact=lead, amount=1_000_000, created_at=at(7))
    deal_close_won(deal=deal, amount=Decimal(1_000_000), by=owner, at=at(20))

    refresh(lead)

    assert credits(lead, "deal", "first") == {"A": 1.0}
    assert credits(lead, "deal", "last") == {"D": 1.0}  # the last touch before the deal, not E
    assert credits(lead, "deal") == {"A": 0.3, "B": 0.3, "C": 0.1, "D": 0.3}
    won = {
        row.campaign.name: (row.w * row.amount, row.date)
        for row in AttributionCredit.objects.filter(kind="won")
    }
    assert won == {
        "A": (pytest.approx(300_000), dt.date(2026, 4, 20)),
        "B": (pytest.approx(300_000), dt.date(2026, 4, 20)),
        "C": (pytest.approx(100_000), dt.date(2026, 4, 20)),
        "D": (pytest.approx(300_000), dt.date(2026, 4, 20)),
    }
    assert AttributionCredit.objects.get(kind="deal", campaign__name="A").date == dt.date(2026, 4, 7)


def test_mql_journey_ends_at_the_mql(abcde):
    a, b, c, d, _e = abcde
    lead = LeadFactory(created=at(3), mql_at=at(5, 18))
    journey(lead, (a, at(1)), (b, at(3, 11)), (c, at(5)), (d, at(6)))  # A B | C (MQL) D

    refresh(lead)

    assert credits(lead, "mql", "first") == {"A": 1.0}
    assert credits(lead, "mql", "last") == {"C": 1.0}
    # First, lead creation and MQL touch are three different touches with none in between: ⅓ each.
    third = round(1 / 3, 6)
    assert credits(lead, "mql") == {"A": third, "B": third, "C": third}


def test_a_lead_entered_by_hand_before_any_campaign(abcde, owner):
    a, b, c, *_ = abcde
    lead = LeadFactory(created=at(1))
    journey(lead, (a, at(2)), (b, at(3)), (c, at(4)))  # | A B C ▲
    deal_create(name="商談", owner=owner, by=owner, contact=lead, created_at=at(5))

    refresh(lead)

    # No campaign brought the lead in: its creation is credited to "no campaign".
    assert credits(lead, "lead") == {None: 1.0}
    assert credits(lead, "lead", "first") == {None: 1.0}
    # The deal has no lead-creation touch: first 30, last 30, between 10 → 3/7, 1/7, 3/7.
    assert credits(lead, "deal") == {"A": round(3 / 7, 6), "B": round(1 / 7, 6), "C": round(3 / 7, 6)}


def test_repeated_touches_of_one_campaign_add_up(abcde):
    a, b, *_ = abcde
    lead = LeadFactory(created=at(10))
    journey(lead, (a, at(1)), (a, at(2)), (b, at(3)), (a, at(10, 11)))  # A A B A|

    refresh(lead)

    # A: first 30 + between 5 + last 60; B: between 5.
    assert credits(lead, "lead") == {"A": 0.95, "B": 0.05}
    assert credits(lead, "lead", "first") == {"A": 1.0}


def test_without_campaign_touches_everything_goes_to_no_campaign(abcde):
    lead = LeadFactory(created=at(3))
    journey(lead, (None, at(1)), (None, at(2)))

    refresh(lead)

    assert credits(lead, "lead") == {None: 1.0}
    assert AttributionCredit.objects.filter(lead=lead, kind="lead").count() == 1


def test_the_event_that_creates_the_lead_counts_even_when_stamped_a_moment_later(abcde):
    a, *_ = abcde
    lead = LeadFactory(created=at(3))
    journey(lead, (a, at(3) + dt.timedelta(seconds=2)))

    refresh(lead)

    assert credits(lead, "lead") == {"A": 1.0}


def test_accepted_handoffs_are_credited_up_to_the_mql(abcde):
    a, b, c, *_ = abcde
    lead = LeadFactory(created=at(2), mql_at=at(4))
    journey(lead, (a, at(1)), (b, at(3)), (c, at(6)))
    HandoffFactory(lead=lead, state=Handoff.State.ACCEPTED, mql_at=at(4), decided_at=at(5))
    HandoffFactory(
        lead=lead, state=Handoff.State.REJECTED, reject_reason="too_early", mql_at=at(1), decided_at=at(1)
    )

    refresh(lead)

    # A (first + lead creation: 60) and B (the last touch before the MQL: 30), nothing between → ⅔, ⅓.
    assert credits(lead, "sql") == {"A": round(2 / 3, 6), "B": round(1 / 3, 6)}
    assert set(AttributionCredit.objects.filter(kind="sql").values_list("date", flat=True)) == {
        dt.date(2026, 4, 5)
    }


def test_days_are_tokyo_days(abcde):
    a, *_ = abcde
    lead = LeadFactory(created=at(3, hour=1))  # 01:00 JST is still the 2nd in UTC
    journey(lead, (a, at(3, hour=0)))

    refresh(lead)

    assert AttributionCredit.objects.get(lead=lead, kind="lead").date == dt.date(2026, 4, 3)


def test_refreshing_twice_changes_nothing_and_rollups_sum_the_ledger(abcde, owner):
    a, b, *_ = abcde
    leads = [LeadFactory(created=at(3)) for _ in range(3)]
    for lead in leads:
        journey(lead, (a, at(1)), (b, at(3, 11)))
    deal = deal_create(name="商談", owner=owner, by=owner, contact=leads[0], created_at=at(4))
    deal_close_won(deal=deal, amount=Decimal(900_000), by=owner, at=at(9))

    refresh(*leads)
    first = sorted(AttributionCredit.objects.values_list("kind", "lead_id", "campaign_id", "w", "date"))
    refresh(*leads)
    assert (
        sorted(AttributionCredit.objects.values_list("kind", "lead_id", "campaign_id", "w", "date")) == first
    )

    assert rollups_refresh() >= 3
    day = AttributionDay.objects.get(campaign=a, date=dt.date(2026, 4, 3))
    assert (day.leads_first, day.leads_last) == (3, 0)
    assert day.leads_w == pytest.approx(1.0)  # ⅓ of each of three leads
    won = AttributionDay.objects.get(campaign=b, date=dt.date(2026, 4, 9))
    # The deal's journey: A (first), B (lead creation and last) → ⅓, ⅔ of 900,000.
    assert won.revenue_w == pytest.approx(600_000)
    assert won.revenue_last == pytest.approx(900_000) and won.revenue_first == 0
    assert rollups_refresh() == 0  # nothing dirty any more
    assert (
        SegmentDay.objects.get(date=dt.date(2026, 4, 3), step="lead", dimension="seniority", value="").people
        == 3
    )


def test_a_rebuild_batch_marks_every_day_it_removed_or_added_credits_on(abcde):
    a, *_ = abcde
    lead = LeadFactory(created=at(3))
    journey(lead, (a, at(1)))
    refresh(lead)
    rollups_refresh()
    assert AttributionDay.objects.filter(date=dt.date(2026, 4, 3), leads_first=1).exists()
    # The lead's creation moves to the 5th: its credit leaves the 3rd.
    Lead.objects.filter(pk=lead.pk).update(created_at=at(5))

    days = attribution_refresh(selection=LeadSelection(first_id=lead.pk, last_id=lead.pk), rebuild=True)

    assert {dt.date(2026, 4, 3), dt.date(2026, 4, 5)} <= days
    assert {dt.date(2026, 4, 3), dt.date(2026, 4, 5)} <= set(
        AttributionDirtyDay.objects.values_list("date", flat=True)
    )
    rollups_refresh()
    assert not AttributionDay.objects.filter(date=dt.date(2026, 4, 3)).exists()
    assert AttributionDay.objects.get(date=dt.date(2026, 4, 5), campaign=a).leads_first == 1


@pytest.mark.django_db(transaction=True)
def test_a_rebuild_on_two_threads_gives_the_ledger_of_lead_by_lead_refreshes(abcde, owner):
    require_or_skip(
        connection.vendor == "postgresql",
        "threads write at once only on PostgreSQL (its shared advisory lock); SQLite serialises every write",
    )
    a, b, c, *_ = abcde
    leads = [LeadFactory(created=at(3 + i % 4)) for i in range(8)]
    for i, lead in enumerate(leads):
        journey(lead, (a, at(1)), (b if i % 2 else c, at(3 + i % 4, 11)))
    deal = deal_create(name="商談", owner=owner, by=owner, contact=leads[0], created_at=at(8))
    deal_close_won(deal=deal, amount=Decimal(900_000), by=owner, at=at(9))

    def ledger():
        return sorted(
            AttributionCredit.objects.values_list(
                "kind", "lead_id", "deal_id", "campaign_id", "date", "first", "last", "w"
            )
        )

    refresh(*leads)
    expected = ledger()
    rollups_refresh()
    days = sorted(AttributionDay.objects.values_list("date", "campaign_id", "leads_w", "revenue_w"))
    AttributionCredit.objects.all().delete()

    assert attribution_rebuild_now(workers=2) > 0

    assert ledger() == expected
    assert sorted(AttributionDay.objects.values_list("date", "campaign_id", "leads_w", "revenue_w")) == days
    assert not AttributionDirtyDay.objects.exists()


def test_the_sweep_finds_leads_with_new_touches(abcde):
    a, *_ = abcde
    lead = LeadFactory(created=at(3))
    first = attribution_sweep()
    assert first.rebuild  # the first sweep asks for a full rebuild

    TouchFactory(lead=lead, campaign=a, occurred_at=at(4))
    other = LeadFactory(created=at(3))
    result = attribution_sweep()

    assert not result.rebuild
    assert lead.pk in result.lead_ids and other.pk in result.lead_ids
