"""The demo fills the weekly review on first start: twelve frozen weeks, targets, survey values, action items."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from kpis.models import ActionItem, ManualKpiValue, Target, WeeklySnapshot
from kpis.periods import Period
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
