"""Reminders fixtures: the default pipeline, and a rep's items of each kind made through the apps' services."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from kpis.periods import Period
from kpis.services import action_item_create
from leads.models import Handoff
from pipeline.models import Stage
from pipeline.services import deal_update, pipeline_ensure_default, task_create
from tests.leads.factories import make_lead
from tests.pipeline.factories import make_deal

TOKYO = dt.timezone(dt.timedelta(hours=9))


@pytest.fixture
def stages(db) -> dict[str, Stage]:
    return {stage.name_en: stage for stage in pipeline_ensure_default().stages.all()}


def at_tokyo(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=TOKYO)


def make_items(user, *, due: dt.date, stage: Stage | None = None, n: int = 1) -> list:
    """`n` of each kind for `user`, due on `due`: a to-do, a deal's next step, an action item."""
    made = []
    for i in range(n):
        deal = make_deal(owner=user, stage=stage, name=f"商談 {user.username} {i}")
        made.append(task_create(deal=deal, title=f"見積書を送る {i}", due_date=due, by=user))
        made.append(deal_update(deal=deal, by=user, next_step=f"デモの日程調整 {i}", next_step_date=due))
        made.append(
            action_item_create(
                title=f"事例記事を共有 {i}", owner=user, due_date=due, week=Period.week_of(due), by=user
            )
        )
    return made


def make_waiting_handoff(user) -> Handoff:
    now = timezone.now()
    return Handoff.objects.create(
        lead=make_lead(owner=user),
        owner=user,
        team=user.team,
        state=Handoff.State.ASSIGNED,
        mql_at=now - dt.timedelta(hours=1),
        assigned_at=now - dt.timedelta(hours=1),
        sla_due_at=now + dt.timedelta(hours=3),
    )
