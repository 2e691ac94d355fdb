"""The demo fills the weekly review on first start: twelve frozen weeks, targets, survey values, action items."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db.models import F

from kpis.models import ActionItem, ManualKpiValue, Target, WeeklySnapshot
from kpis.periods import KINDS, Period
from kpis.registry import KPIS, Unit, compute
from leads.models import Company, Handoff
from pipeline.models import Deal
from salesmarketing.models import Team, User


@pytest.mark.django_db
def test_the_demo_freezes_twelve_weeks_and_the_review_is_full(client, settings):
    settings.DEBUG = True
    call_command("seed_demo")
    last = Period.last_complete_week()
    everyone = WeeklySnapshot.objects.filter(team__isnull=True)
    assert everyone.count() == 12 and everyone.first().week_start == last.start
    assert WeeklySnapshot.objects.count() == 12 * (1 + Team.objects.count())
    assert Target.objects.filter(kpi="opportunities_marketing_sourced", team__isnull=True).count() == 3
    assert ManualKpiValue.objects.filter(kpi="brand_awareness").count() == 6
    assert ActionItem.objects.filter(done_at__isnull=False).exists()
    assert ActionItem.objects.filter(done_at__isnull=True, week_start__lt=last.start).exists()  # carried over

    client.force_login(User.objects.get(username="sales_mgr"))
    html = client.get("/kpis/weekly/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Frozen at" in html and html.count('class="action-item') >= 3
    assert client.get("/").status_code == 200


@pytest.mark.django_db
def test_the_demo_obeys_the_rules_of_real_data_so_no_duration_is_negative(settings):
    """A first touch never comes before its handoff, nor a close before its deal: speed to lead, the sales cycle
    and every other duration KPI of the demo are ≥ 0, this week included."""
    settings.DEBUG = True
    call_command("seed_demo")
    assert not Handoff.objects.filter(first_touch_at__lt=F("assigned_at")).exists()
    assert not Handoff.objects.filter(assigned_at__lt=F("mql_at")).exists()
    assert not Deal.objects.filter(closed_at__lt=F("created_at")).exists()
    # an account belongs to the owner of most of its leads (leads.demo)
    owned = Company.objects.filter(owner__isnull=False)
    assert owned.exists() and not owned.exclude(leads__owner=F("owner")).exists()
    durations = [kpi for kpi in KPIS if kpi.unit in (Unit.MINUTES, Unit.DAYS)]
    assert {kpi.key for kpi in durations} >= {"speed_to_lead_minutes", "sales_cycle_days"}
    for kind in KINDS:
        for values in compute(Period.current(kind).trailing(13), kpis=durations, fresh=True):
            assert all(values[kpi.key] is None or values[kpi.key] >= 0 for kpi in durations), values
