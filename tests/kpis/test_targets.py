"""Targets hold from a period on; pacing says where a count should be by now."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from kpis.models import Target
from kpis.periods import Period
from kpis.registry import KPI_BY_KEY
from kpis.selectors import Figure
from kpis.services import target_set, targets_in_force
from kpis.templatetags.kpis import kpi_progress

pytestmark = pytest.mark.django_db
LAST_QUARTER = dt.date(2026, 9, 15)
THIS_QUARTER = dt.date(2026, 11, 20)


def test_a_new_target_leaves_earlier_periods_as_they_were(manager):
    target_set(
        kpi="revenue",
        period_kind="quarter",
        team=None,
        value=Decimal(30_000_000),
        by=manager,
        today=LAST_QUARTER,
    )
    target_set(
        kpi="revenue",
        period_kind="quarter",
        team=None,
        value=Decimal(40_000_000),
        by=manager,
        today=THIS_QUARTER,
    )
    q3 = targets_in_force(team_id=None, on={"quarter": dt.date(2026, 7, 1)})
    q4 = targets_in_force(team_id=None, on={"quarter": dt.date(2026, 10, 1)})
    assert q3["quarter"]["revenue"] == 30_000_000 and q4["quarter"]["revenue"] == 40_000_000


def test_setting_the_same_target_again_changes_nothing_and_none_removes_it(manager):
    first = target_set(
        kpi="sqls", period_kind="week", team=None, value=Decimal(5), by=manager, today=THIS_QUARTER
    )
    again = target_set(
        kpi="sqls", period_kind="week", team=None, value=Decimal(5), by=manager, today=THIS_QUARTER
    )
    assert first.pk == again.pk and Target.objects.count() == 1
    target_set(kpi="sqls", period_kind="week", team=None, value=None, by=manager, today=dt.date(2026, 11, 25))
    assert targets_in_force(team_id=None, on={"week": dt.date(2026, 11, 23)})["week"] == {}
    assert targets_in_force(team_id=None, on={"week": dt.date(2026, 11, 16)})["week"] == {"sqls": 5.0}


def test_a_team_uses_its_own_targets_and_the_companys_for_company_wide_kpis(manager, sales_team):
    target_set(kpi="sqls", period_kind="week", team=None, value=Decimal(10), by=manager, today=THIS_QUARTER)
    target_set(
        kpi="sqls", period_kind="week", team=sales_team, value=Decimal(4), by=manager, today=THIS_QUARTER
    )
    target_set(
        kpi="visitors", period_kind="week", team=None, value=Decimal(900), by=manager, today=THIS_QUARTER
    )
    on = {"week": Period.week_of(THIS_QUARTER).start}
    assert targets_in_force(team_id=sales_team.pk, on=on)["week"] == {"sqls": 4.0, "visitors": 900.0}
    assert targets_in_force(team_id=None, on=on)["week"] == {"sqls": 10.0, "visitors": 900.0}


def test_targets_are_checked(manager):
    with pytest.raises(ValidationError):
        target_set(kpi="nope", period_kind="week", team=None, value=Decimal(1), by=manager)
    with pytest.raises(ValidationError):
        target_set(kpi="brand_awareness", period_kind="week", team=None, value=Decimal(1), by=manager)
    with pytest.raises(ValidationError):
        target_set(kpi="sqls", period_kind="week", team=None, value=Decimal(-1), by=manager)


def test_pacing_a_count_and_judging_a_ratio():
    count = Figure(kpi=KPI_BY_KEY["sqls"], value=6, target=10, share_elapsed=0.5)
    assert count.expected == 5 and count.on_track is True and count.progress == 0.6
    ratio = Figure(kpi=KPI_BY_KEY["win_rate"], value=0.3, target=0.4, share_elapsed=0.5)
    assert ratio.expected is None and ratio.on_track is False  # ratios are not paced
    lower_is_better = Figure(kpi=KPI_BY_KEY["cost_per_lead"], value=8_000, target=10_000, previous=9_000)
    assert lower_is_better.on_track is True and lower_is_better.change_is_good is True
    assert lower_is_better.progress == 1.0  # a full bar: at or below the ceiling
    empty = Figure(kpi=KPI_BY_KEY["win_rate"], value=None, target=0.4, previous=0.2)
    assert empty.on_track is None and empty.change is None and empty.progress is None


def test_lower_is_better_reads_as_on_or_off_track_never_as_a_percentage():
    """Speed to lead 60 minutes under a 115-minute target read "-192%" (target ÷ value of a negative value), and
    40 minutes "288%": for a ceiling the bar is full within it and the text says on or off track."""
    with translation.override("en"):
        fast = Figure(kpi=KPI_BY_KEY["speed_to_lead_minutes"], value=40, target=115)
        assert (fast.progress, fast.progress_percent, kpi_progress(fast)) == (1.0, 100.0, "On track")
        odd = Figure(kpi=KPI_BY_KEY["speed_to_lead_minutes"], value=-60, target=115)
        assert (odd.progress, kpi_progress(odd)) == (1.0, "On track")
        slow = Figure(kpi=KPI_BY_KEY["speed_to_lead_minutes"], value=230, target=115)
        assert (slow.progress, slow.progress_percent, kpi_progress(slow)) == (0.5, 50.0, "Off track")
        # a count where fewer is better, paced: 3 breaches by mid-month against 4 for the month is off the pace
        # of 2, and the bar of a ceiling has no pacing mark
        breaches = Figure(kpi=KPI_BY_KEY["sla_breaches"], value=3, target=4, share_elapsed=0.5)
        assert breaches.expected == 2 and breaches.on_track is False and kpi_progress(breaches) == "Off track"
        assert breaches.pace_percent is None
        # higher is better keeps its share of the target
        count = Figure(kpi=KPI_BY_KEY["sqls"], value=6, target=10, share_elapsed=0.5)
        assert kpi_progress(count) == "60%" and count.pace_percent == 50.0
