"""The pipeline demo: a year of history through the services, and a second run adds nothing."""

from __future__ import annotations

import datetime as dt
import io
from itertools import groupby

import pytest
from django.utils import timezone

from pipeline import demo
from pipeline.models import Activity, BookingPage, Deal, Pipeline, StageChange, Task, TeamBookingPage
from salesmarketing.demo import seed_users

pytestmark = pytest.mark.django_db


def _counts():
    return [m.objects.count() for m in (Pipeline, Deal, StageChange, Activity, Task)]


def test_the_demo_has_a_year_of_consistent_history_and_runs_once():
    users = seed_users()
    demo.seed(users=users, stdout=io.StringIO())
    first = _counts()
    out = io.StringIO()
    demo.seed(users=users, stdout=out)
    assert _counts() == first
    assert "already" in out.getvalue()

    assert Deal.objects.filter(status="open").count() >= 40
    assert Deal.objects.filter(status="won").exists()
    lost = Deal.objects.filter(status="lost")
    assert lost.exists() and not lost.filter(loss_cause="").exists()
    assert {"marketing", "sales"} <= set(lost.values_list("loss_side", flat=True))
    assert Activity.objects.filter(is_voice=True).exclude(voice_text="").exists()
    oldest = StageChange.objects.order_by("changed_at").first().changed_at
    assert oldest < timezone.now() - dt.timedelta(days=250)
    assert Deal.objects.filter(owner__username="rep1", status="open").count() >= 8
    # every demo rep takes meetings on a booking page of their own, and their team on a round-robin page
    assert set(BookingPage.objects.values_list("slug", flat=True)) == set(demo.REPS)
    assert TeamBookingPage.objects.filter(slug="sales").exists()

    rows = StageChange.objects.order_by("deal_id", "changed_at", "id").values_list(
        "deal_id", "from_stage", "to_stage"
    )
    for _deal_id, changes in groupby(rows, key=lambda r: r[0]):
        changes = list(changes)
        assert changes[0][1] is None
        assert all(b[1] == a[2] for a, b in zip(changes, changes[1:], strict=False))
