"""The monthly and weekly roll-ups the campaign list and the dashboard read for a period's whole months and weeks:
each always equals what it adds up (CampaignCostMonth the cost lines, AttributionMonth and AttributionWeek the
attribution days) after every write that changes them, and a page read after a write includes it."""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.db import connection

from campaigns.attribution import LeadSelection, attribution_refresh, rollups_refresh
from campaigns.costs_import import costs_import
from campaigns.models import (
    NUMBER_COLUMNS,
    REASON_COLUMNS,
    AttributionDay,
    AttributionMonth,
    AttributionWeek,
    CampaignCost,
    CampaignCostMonth,
    CampaignVerdictMonth,
)
from campaigns.rebuild import attribution_rebuild_now
from campaigns.services import cost_add, cost_delete
from leads.models import Handoff
from tests.campaigns.factories import TZ, CostFactory, at, journey
from tests.leads.factories import CampaignFactory, HandoffFactory, LeadFactory

pytestmark = pytest.mark.django_db

APRIL = "period=custom&start=2026-04-01&end=2026-04-30"  # a whole month: read from the monthly roll-ups


def cost_months() -> dict[tuple[int, dt.date], Decimal]:
    return {(m.campaign_id, m.month): m.amount for m in CampaignCostMonth.objects.all()}


def costs_by_month() -> dict[tuple[int, dt.date], Decimal]:
    sums: dict[tuple[int, dt.date], Decimal] = defaultdict(Decimal)
    for cost in CampaignCost.objects.all():
        sums[cost.campaign_id, cost.date.replace(day=1)] += cost.amount
    return dict(sums)


def attribution_months() -> dict[tuple[int | None, dt.date], tuple[float, ...]]:
    return {
        (m.campaign_id, m.month): tuple(round(getattr(m, c), 6) for c in NUMBER_COLUMNS)
        for m in AttributionMonth.objects.all()
    }


def attribution_weeks() -> dict[tuple[int | None, dt.date], tuple[float, ...]]:
    return {
        (w.campaign_id, w.week): tuple(round(getattr(w, c), 6) for c in NUMBER_COLUMNS)
        for w in AttributionWeek.objects.all()
    }


def days_by(start: Callable[[dt.date], dt.date]) -> dict[tuple[int | None, dt.date], tuple[float, ...]]:
    sums: dict[tuple[int | None, dt.date], list[float]] = {}
    for day in AttributionDay.objects.all():
        row = sums.setdefault((day.campaign_id, start(day.date)), [0.0] * len(NUMBER_COLUMNS))
        for i, column in enumerate(NUMBER_COLUMNS):
            row[i] += getattr(day, column)
    return {key: tuple(round(v, 6) for v in row) for key, row in sums.items()}


def days_by_month() -> dict[tuple[int | None, dt.date], tuple[float, ...]]:
    return days_by(lambda day: day.replace(day=1))


def days_by_week() -> dict[tuple[int | None, dt.date], tuple[float, ...]]:
    return days_by(lambda day: day - dt.timedelta(days=day.weekday()))


VERDICT_COUNTS = ["accepted", "rejected", *REASON_COLUMNS.values()]


def verdict_months() -> dict[tuple[int, dt.date], tuple[int, ...]]:
    return {
        (m.campaign_id, m.month): tuple(getattr(m, c) for c in VERDICT_COUNTS)
        for m in CampaignVerdictMonth.objects.all()
    }


def verdicts_by_month() -> dict[tuple[int, dt.date], tuple[int, ...]]:
    """The handoffs' verdicts added up by campaign and Tokyo month, in Python."""
    sums: dict[tuple[int, dt.date], list[int]] = {}
    decided = Handoff.objects.filter(
        campaign__isnull=False,
        decided_at__isnull=False,
        state__in=[Handoff.State.ACCEPTED, Handoff.State.REJECTED],
    )
    for handoff in decided:
        row = sums.setdefault(
            (handoff.campaign_id, handoff.decided_at.astimezone(TZ).date().replace(day=1)),
            [0] * len(VERDICT_COUNTS),
        )
        if handoff.state == Handoff.State.ACCEPTED:
            row[0] += 1
        else:
            row[1] += 1
            row[VERDICT_COUNTS.index(REASON_COLUMNS[handoff.reject_reason])] += 1
    return {key: tuple(row) for key, row in sums.items()}


def spend_cell(client, campaign) -> str:
    html = client.get(f"/campaigns/?{APRIL}").content.decode()
    row = re.search(rf'<tr data-campaign="{campaign.pk}">(.*?)</tr>', html, re.S)
    assert row
    cell = re.search(r'data-col="spend">(.*?)</td>', row.group(1), re.S)
    assert cell
    return " ".join(re.sub(r"<[^>]+>", " ", cell.group(1)).split())


def test_cost_months_follow_every_write_to_the_cost_lines():
    a, b = CampaignFactory(utm_campaign="search-ads"), CampaignFactory()
    # A service, a factory (save()), a bulk insert, the import's bulk_create
    kept = cost_add(campaign=a, date=dt.date(2026, 4, 1), amount=Decimal(100_000))
    CostFactory(campaign=a, date=dt.date(2026, 4, 30), amount=Decimal(50_000))
    CostFactory(campaign=b, date=dt.date(2026, 3, 31), amount=Decimal(7))
    CampaignCost.objects.bulk_create(
        [CampaignCost(campaign=b, date=dt.date(2026, 4, d), amount=Decimal(d)) for d in range(1, 11)]
    )
    costs_import(
        content="日付,キャンペーン,金額\n2026-04-03,search-ads,1000\n2026-05-01,search-ads,9\n".encode()
    )
    assert cost_months() == costs_by_month()
    assert cost_months()[a.pk, dt.date(2026, 4, 1)] == Decimal(151_000)

    # Updates: an amount, a date into another month, a line moved to another campaign, several rows at once
    CampaignCost.objects.filter(pk=kept.pk).update(amount=Decimal(120_000))
    assert cost_months() == costs_by_month()
    CampaignCost.objects.filter(campaign=a, date=dt.date(2026, 4, 30)).update(date=dt.date(2026, 6, 2))
    assert cost_months() == costs_by_month()
    CampaignCost.objects.filter(campaign=b, date=dt.date(2026, 3, 31)).update(campaign=a)
    assert cost_months() == costs_by_month()
    CampaignCost.objects.filter(campaign=b).update(amount=Decimal(1))
    assert cost_months() == costs_by_month()

    # Deletes: one line (its month stays with the others), a month's last line (the month goes), raw SQL
    cost_delete(cost=kept)
    assert cost_months() == costs_by_month()
    CampaignCost.objects.filter(campaign=a, date=dt.date(2026, 6, 2)).delete()
    assert (a.pk, dt.date(2026, 6, 1)) not in cost_months()
    assert cost_months() == costs_by_month()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM campaigns_campaigncost WHERE campaign_id = %s AND amount = 1", [b.pk])
    assert cost_months() == costs_by_month()

    # A campaign deleted with its cost lines leaves no month behind
    b.delete()
    a.delete()
    assert cost_months() == costs_by_month() == {}


def test_verdict_months_follow_every_write_to_the_handoffs():
    """Accepting, rejecting, a new reason, a decision moved across a month's edge in Tokyo time, a campaign
    changed or deleted, a lead deleted, bulk and raw writes: the roll-up always equals the handoffs it adds up."""
    a, b = CampaignFactory(), CampaignFactory()
    open_one = HandoffFactory(campaign=a)  # open: no verdict yet
    accepted = HandoffFactory(campaign=a, state=Handoff.State.ACCEPTED, decided_at=at(3))
    HandoffFactory(campaign=a, state=Handoff.State.REJECTED, reject_reason="no_budget", decided_at=at(30, 23))
    HandoffFactory(campaign=None, state=Handoff.State.ACCEPTED, decided_at=at(3))  # no campaign: not counted
    Handoff.objects.bulk_create(
        [
            Handoff(lead=LeadFactory(), campaign=b, state=Handoff.State.REJECTED, reject_reason=reason,
                    mql_at=at(1), decided_at=at(2))
            for reason in ("competitor", "competitor", "too_early")
        ]
    )  # fmt: skip
    assert verdict_months() == verdicts_by_month()
    assert verdict_months()[a.pk, dt.date(2026, 4, 1)] == (
        1,
        1,
        *(int(c == "rejected_no_budget") for c in VERDICT_COUNTS[2:]),
    )

    # A verdict given, a reason changed, a decision moved to 1 May 00:30 JST (still 30 April in UTC)
    open_one.state, open_one.decided_at = Handoff.State.REJECTED, at(5)
    open_one.reject_reason = "not_a_fit"
    open_one.save()
    assert verdict_months() == verdicts_by_month()
    Handoff.objects.filter(campaign=b, reject_reason="too_early").update(reject_reason="duplicate")
    assert verdict_months() == verdicts_by_month()
    Handoff.objects.filter(pk=accepted.pk).update(decided_at=dt.datetime(2026, 5, 1, 0, 30, tzinfo=TZ))
    assert (a.pk, dt.date(2026, 5, 1)) in verdict_months()
    assert verdict_months() == verdicts_by_month()

    # A handoff moved to another campaign; reopened (no verdict); deleted with its lead; raw SQL
    Handoff.objects.filter(pk=accepted.pk).update(campaign=b)
    assert (a.pk, dt.date(2026, 5, 1)) not in verdict_months()  # the month's last verdict left
    assert verdict_months() == verdicts_by_month()
    Handoff.objects.filter(pk=open_one.pk).update(
        state=Handoff.State.WORKING, reject_reason="", decided_at=None
    )
    assert verdict_months() == verdicts_by_month()
    Handoff.objects.filter(campaign=a).first().lead.delete()  # the handoff goes with it (cascade)
    assert verdict_months() == verdicts_by_month()
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM leads_handoff WHERE campaign_id = %s AND reject_reason = 'competitor'", [b.pk]
        )
    assert verdict_months() == verdicts_by_month()

    # A campaign's deletion moves its handoffs to "no campaign": its months go
    b.delete()
    a.delete()
    assert verdict_months() == verdicts_by_month() == {}


def test_a_cost_entered_shows_on_the_list_of_its_month_at_once(marketer_client):
    campaign = CampaignFactory()
    CostFactory(campaign=campaign, date=dt.date(2026, 4, 1), amount=Decimal(100_000))
    assert spend_cell(marketer_client, campaign) == "100,000円"

    response = marketer_client.post(
        f"/campaigns/{campaign.pk}/costs/", {"date": "2026-04-15", "amount": "50000", "description": "追加"}
    )
    assert response.status_code == 302
    assert spend_cell(marketer_client, campaign) == "150,000円"

    cost = CampaignCost.objects.get(campaign=campaign, date=dt.date(2026, 4, 1))
    marketer_client.post(f"/campaigns/{campaign.pk}/costs/{cost.pk}/delete/")
    assert spend_cell(marketer_client, campaign) == "50,000円"


def test_attribution_months_equal_their_days_after_every_roll_up():
    a, b = CampaignFactory(), CampaignFactory()
    first = LeadFactory(created=at(2))
    journey(first, (a, at(2, 11)))
    second = LeadFactory(created=at(30, 23))
    journey(second, (b, at(30, 22)))
    attribution_rebuild_now()
    assert attribution_months() == days_by_month()
    assert attribution_weeks() == days_by_week()
    assert attribution_months()[a.pk, dt.date(2026, 4, 1)][NUMBER_COLUMNS.index("leads_first")] == 1

    # An incremental refresh: a lead created in May, touched by `a`, and the April lead's credit moved to `b`
    third = LeadFactory(created=at(3, month=5))
    journey(third, (a, at(3, 10, month=5)))
    attribution_refresh(selection=LeadSelection(ids=(third.pk,)))
    rollups_refresh()
    assert attribution_months() == days_by_month()
    assert attribution_weeks() == days_by_week()
    assert (a.pk, dt.date(2026, 5, 1)) in attribution_months()

    # A campaign's deletion takes its days and months; a rebuild that finds no credits leaves no month
    b.delete()
    assert attribution_months() == days_by_month()
    assert attribution_weeks() == days_by_week()
    first.delete()
    second.delete()
    third.delete()
    attribution_rebuild_now()
    assert attribution_months() == days_by_month() == {}
    assert attribution_weeks() == days_by_week() == {}


def test_the_list_over_whole_months_equals_the_same_days_read_day_by_day(marketer_client):
    """A period of whole months plus edge days reads both roll-ups; its numbers are the same as the sum of days."""
    a = CampaignFactory()
    for day, hour in ((1, 10), (15, 11), (30, 23)):
        journey(LeadFactory(created=at(day, hour)), (a, at(day, hour)))
    journey(LeadFactory(created=at(31, 10, month=3)), (a, at(31, 9, month=3)))
    journey(LeadFactory(created=at(1, 10, month=5)), (a, at(1, 9, month=5)))
    CostFactory(campaign=a, date=dt.date(2026, 3, 31), amount=Decimal(1_000))
    CostFactory(campaign=a, date=dt.date(2026, 4, 10), amount=Decimal(30_000))
    CostFactory(campaign=a, date=dt.date(2026, 5, 1), amount=Decimal(500))
    CostFactory(campaign=a, date=dt.date(2026, 5, 2), amount=Decimal(99_999))  # outside
    attribution_rebuild_now()

    def leads_and_spend(query: str) -> tuple[str, str]:
        html = marketer_client.get(f"/campaigns/?{query}").content.decode()
        row = re.search(rf'<tr data-campaign="{a.pk}">(.*?)</tr>', html, re.S)
        assert row
        cells = dict(re.findall(r'data-col="(leads|spend)">(.*?)</td>', row.group(1), re.S))
        return (
            " ".join(re.sub(r"<[^>]+>", " ", cells["leads"]).split()),
            " ".join(re.sub(r"<[^>]+>", " ", cells["spend"]).split()),
        )

    # 3/31 – 5/1: March's last day, the whole of April, May's first day
    assert leads_and_spend("period=custom&start=2026-03-31&end=2026-05-01&model=first") == ("5", "31,500円")
    # 4/2 – 4/30 has no whole month: all days
    assert leads_and_spend("period=custom&start=2026-04-02&end=2026-04-30&model=first") == ("2", "30,000円")
