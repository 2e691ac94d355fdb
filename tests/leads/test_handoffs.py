"""Handoff assignment (territory, round-robin, capacity, absences), SLA in business hours, accept and reject."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import translation

from leads.choices import LifecycleStage
from leads.handoffs import (
    HandoffConflict,
    handoff_accept,
    handoff_assign,
    handoff_first_touch,
    handoff_reject,
    lead_first_touched,
)
from leads.handoffs.sla import add_business_hours, business_hours_between
from leads.models import AssignmentLog, Campaign, Handoff, Lead, TerritoryRule
from leads.services import company_resolve, lead_upsert
from leads.tasks import assign_handoffs, sla_check
from salesmarketing.models import Notification, User
from tests.salesmarketing.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db
TOKYO = ZoneInfo("Asia/Tokyo")


def tokyo(*args):
    return dt.datetime(*args, tzinfo=TOKYO)


@pytest.fixture
def east():
    team = TeamFactory(name="東日本")
    team.manager = UserFactory(username="east_mgr", role=User.Role.MANAGER, team=team)
    team.save()
    return team


@pytest.fixture
def west():
    return TeamFactory(name="西日本")


def _handoff(email="lead@example.jp", region="kanto", campaign=None, at=None):
    company = company_resolve(name=f"{email} 社", domain=email.split("@")[1], region=region)
    lead, _ = lead_upsert(email=email, source="api", company=company)
    return Handoff.objects.create(lead=lead, mql_at=at or tokyo(2026, 11, 18, 10), campaign=campaign)


def test_business_hours_skip_nights_weekends_and_japanese_holidays():
    # Friday 16:00 + 4h: 2 hours on Friday, Monday 23 Nov is 勤労感謝の日, so Tuesday 11:00.
    assert add_business_hours(tokyo(2026, 11, 20, 16), 4) == tokyo(2026, 11, 24, 11)
    assert add_business_hours(tokyo(2026, 11, 18, 7, 30), 4) == tokyo(2026, 11, 18, 13)  # before opening
    assert add_business_hours(tokyo(2026, 12, 31, 10), 1, day_start=9, day_end=18) == tokyo(2026, 12, 31, 11)
    assert business_hours_between(tokyo(2026, 11, 20, 16), tokyo(2026, 11, 24, 11)) == 4.0


def test_territory_then_round_robin_skipping_absent_and_full_reps(east, west):
    TerritoryRule.objects.create(team=west, region="kinki", priority=1)
    TerritoryRule.objects.create(team=east, region="", priority=50)
    a = UserFactory(username="a", team=east)
    away = UserFactory(username="away", team=east, away_until=dt.date(2026, 11, 30))
    full = UserFactory(username="full", team=east, handoff_capacity=0)
    b = UserFactory(username="b", team=east)
    osaka_rep = UserFactory(username="osaka", team=west)
    now = tokyo(2026, 11, 18, 10)

    with translation.override("en"):  # the log is written in the language active at assignment time
        owners = [
            handoff_assign(handoff_id=_handoff(f"l{i}@e{i}.example.jp").pk, now=now).owner for i in range(3)
        ]
    assert owners == [a, b, a]
    osaka = handoff_assign(handoff_id=_handoff("o@osaka.example.jp", region="kinki").pk, now=now)
    assert osaka.owner == osaka_rep and osaka.team == west
    log = AssignmentLog.objects.filter(handoff__lead__email="l0@e0.example.jp").get().reason
    assert f"{away} (away until 2026-11-30)" in log and f"{full} (at capacity 0)" in log and "東日本" in log
    assert away.handoffs.count() == full.handoffs.count() == 0
    handoff = Handoff.objects.get(lead__email="l0@e0.example.jp")
    assert handoff.state == Handoff.State.ASSIGNED
    assert handoff.sla_due_at == tokyo(2026, 11, 18, 14)  # 4 business hours
    assert handoff.lead.owner == a
    assert any("l0@e0.example.jp" in note.text[0] for note in Notification.objects.filter(recipient=a))


def test_assigning_twice_changes_nothing_and_nobody_available_leaves_it_waiting(east):
    handoff = _handoff()
    waiting = handoff_assign(handoff_id=handoff.pk)
    assert waiting.state == Handoff.State.UNASSIGNED and waiting.owner is None
    assert Notification.objects.filter(recipient=east.manager).count() == 1
    rep = UserFactory(username="rep", team=east)
    first = handoff_assign(handoff_id=handoff.pk)
    again = handoff_assign(handoff_id=handoff.pk)
    assert first.owner == again.owner == rep
    assert first.assigned_at == again.assigned_at


def test_a_handoff_gone_since_its_assignment_was_queued_is_skipped(east):
    """Its lead was erased meanwhile: the task assigns the others and does not retry (nor log an error) over it."""
    rep = UserFactory(username="rep", team=east)
    gone, kept = _handoff("gone@example.jp"), _handoff("kept@example.jp")
    gone.lead.delete()
    assert assign_handoffs.apply(args=([gone.pk, kept.pk],)).successful()
    kept.refresh_from_db()
    assert kept.owner == rep


def test_sla_reminds_then_escalates_then_reassigns_in_business_hours(
    east, mailoutbox, django_capture_on_commit_callbacks
):
    first_rep = UserFactory(username="first", team=east)
    second_rep = UserFactory(username="second", team=east)
    with time_machine.travel(tokyo(2026, 11, 20, 15), tick=False):  # Friday 15:00
        handoff = handoff_assign(handoff_id=_handoff().pk)
    assert handoff.owner == first_rep
    assert handoff.sla_due_at == tokyo(2026, 11, 24, 10)  # 3h Friday, Monday is a holiday, 1h Tuesday

    with time_machine.travel(tokyo(2026, 11, 24, 8, 30), tick=False):
        assert sla_check.delay().get() == {"reminded": 0, "escalated": 0, "reassigned": 0}
    with time_machine.travel(tokyo(2026, 11, 24, 9, 5), tick=False):  # within the hour before due
        assert sla_check.delay().get()["reminded"] == 1
        assert sla_check.delay().get()["reminded"] == 0  # once
    with (
        time_machine.travel(tokyo(2026, 11, 24, 10, 1), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert sla_check.delay().get()["escalated"] == 1
    assert Notification.objects.filter(recipient=east.manager, kind="handoff_sla_breached").exists()
    assert any(east.manager.email in m.to for m in mailoutbox)
    with time_machine.travel(tokyo(2026, 11, 24, 13, 59), tick=False):  # second window: 4 business hours
        assert sla_check.delay().get()["reassigned"] == 0
    with time_machine.travel(tokyo(2026, 11, 24, 14, 0), tick=False):
        assert sla_check.delay().get()["reassigned"] == 1
    handoff.refresh_from_db()
    assert handoff.owner == second_rep
    assert handoff.sla_due_at == tokyo(2026, 11, 24, 18)
    assert "SLA" in handoff.assignments.last().reason


def test_an_sla_run_reads_only_the_handoffs_it_acts_on(east, django_assert_num_queries):
    """Beat runs it every minute on the realtime queue: handoffs not yet near due, and breached ones that nobody
    else could take (a team of one rep; offered again an hour later), cost nothing, however many there are."""
    rep = UserFactory(username="only", team=east)
    for n in (1, 4):
        with time_machine.travel(tokyo(2026, 11, 24, 9), tick=False):  # Tuesday: due at 13:00
            for i in range(n):
                handoff_assign(handoff_id=_handoff(f"old{n}-{i}@example.jp").pk)
        with time_machine.travel(tokyo(2026, 11, 24, 17, 30), tick=False):  # due tomorrow at 12:30
            for i in range(n):
                handoff_assign(handoff_id=_handoff(f"new{n}-{i}@example.jp").pk)
            # the first ones: breached at 13:00, past the second window at 17:00; nobody else to take them
            assert sla_check.delay().get() == {"reminded": 0, "escalated": n, "reassigned": 0}
        with (
            time_machine.travel(tokyo(2026, 11, 24, 17, 31), tick=False),
            django_assert_num_queries(4),  # the teams, and one read per step
        ):
            assert sla_check.delay().get() == {"reminded": 0, "escalated": 0, "reassigned": 0}
    assert Handoff.objects.filter(owner=rep, escalated_at__isnull=False).count() == 1 + 4
    with time_machine.travel(tokyo(2026, 11, 24, 18, 31), tick=False):  # an hour later: offered again
        UserFactory(username="back", team=east)
        assert sla_check.delay().get()["reassigned"] == 1 + 4


def test_a_mass_breach_is_worked_off_over_the_next_runs_most_overdue_first(east, monkeypatch):
    """A run holds a realtime worker: it acts on at most SLA_RUN_MAX handoffs per step, and the next minute's run
    takes the rest."""
    monkeypatch.setattr("leads.handoffs.services.SLA_RUN_MAX", 2)
    UserFactory(username="away", team=east)
    handoffs = []
    for minute in range(5):  # Tuesday: due at 13:00 to 13:04, past the second window from 17:00
        with time_machine.travel(tokyo(2026, 11, 24, 9, minute), tick=False):
            handoffs.append(handoff_assign(handoff_id=_handoff(f"mass{minute}@example.jp").pk))
    back = UserFactory(username="back", team=east)
    with time_machine.travel(tokyo(2026, 11, 24, 17, 30), tick=False):
        assert sla_check.delay().get() == {"reminded": 0, "escalated": 2, "reassigned": 2}
        assert {h.pk for h in Handoff.objects.filter(owner=back)} == {handoffs[0].pk, handoffs[1].pk}
    runs = []
    for minute in (31, 32, 33):
        with time_machine.travel(tokyo(2026, 11, 24, 17, minute), tick=False):
            runs.append(sla_check.delay().get())
    assert runs == [
        {"reminded": 0, "escalated": 2, "reassigned": 2},
        {"reminded": 0, "escalated": 1, "reassigned": 1},
        {"reminded": 0, "escalated": 0, "reassigned": 0},
    ]
    assert Handoff.objects.filter(owner=back).count() == 5


def test_first_touch_stops_the_clock(east):
    rep = UserFactory(username="rep", team=east)
    handoff = handoff_assign(handoff_id=_handoff().pk, now=tokyo(2026, 11, 18, 10))
    handoff_first_touch(handoff=handoff, by=rep, now=tokyo(2026, 11, 18, 10, 25))
    assert handoff.state == Handoff.State.WORKING
    assert handoff.first_touch_at - handoff.assigned_at == dt.timedelta(minutes=25)
    with time_machine.travel(tokyo(2026, 11, 19, 12), tick=False):
        assert sla_check.delay().get() == {"reminded": 0, "escalated": 0, "reassigned": 0}


def test_a_sales_activity_dated_before_the_handoff_is_not_its_first_touch(east):
    UserFactory(username="rep", team=east)
    handoff = handoff_assign(handoff_id=_handoff().pk, now=tokyo(2026, 11, 18, 10))
    assert lead_first_touched(lead_id=handoff.lead_id, at=tokyo(2026, 6, 1, 10)) == 0  # an old call log
    assert lead_first_touched(lead_id=handoff.lead_id, at=tokyo(2026, 11, 18, 11)) == 1
    handoff.refresh_from_db()
    assert handoff.first_touch_at - handoff.assigned_at == dt.timedelta(hours=1)


def test_accept_makes_an_sql_and_accepting_twice_changes_nothing(east):
    rep = UserFactory(username="rep", team=east)
    handoff = handoff_assign(handoff_id=_handoff().pk)
    accepted = handoff_accept(handoff=handoff, by=rep)
    again = handoff_accept(handoff=handoff, by=rep)
    assert accepted.state == again.state == Handoff.State.ACCEPTED
    assert accepted.decided_at == again.decided_at
    assert Lead.objects.get(pk=handoff.lead_id).lifecycle_stage in (
        LifecycleStage.SQL,
        LifecycleStage.OPPORTUNITY,
    )
    with pytest.raises(HandoffConflict):
        handoff_reject(handoff=handoff, by=rep, reason="not_a_fit")


def test_reject_recycles_or_disqualifies_and_tells_the_campaign_owner(east, marketer):
    rep = UserFactory(username="rep", team=east)
    campaign = Campaign.objects.create(name="ホワイトペーパー", channel="whitepaper", owner=marketer)
    early = handoff_assign(handoff_id=_handoff("early@a.example.jp", campaign=campaign).pk)
    wrong = handoff_assign(handoff_id=_handoff("wrong@b.example.jp").pk)
    handoff_reject(handoff=early, by=rep, reason="too_early", note="資料を見ただけ、検討は来期")
    handoff_reject(handoff=wrong, by=rep, reason="not_a_fit")
    early_lead = Lead.objects.get(email="early@a.example.jp")
    assert (
        early_lead.lifecycle_stage == LifecycleStage.RECYCLED
        and early_lead.recycled_at
        and early_lead.owner is None
    )
    assert Lead.objects.get(email="wrong@b.example.jp").lifecycle_stage == LifecycleStage.DISQUALIFIED
    note = Notification.objects.get(recipient=marketer)
    assert "ホワイトペーパー" in note.text[0] and "資料を見ただけ" in note.text[1]
    with pytest.raises(HandoffConflict):
        handoff_accept(handoff=early, by=rep)
