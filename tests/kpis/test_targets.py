"""Targets hold from a period on; pacing says where a count should be by now."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from kpis.models import Target
from kpis.periods import Period
from kpis.registry import KPI_BY_KEY
from kpis.selectors import Figure
from kpis.services import target_set, targets_in_force

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
    assert lower_is_better.progress == pytest.approx(1.25)
    empty = Figure(kpi=KPI_BY_KEY["win_rate"], value=None, target=0.4, previous=0.2)
    assert empty.on_track is None and empty.change is None and empty.progress is None
