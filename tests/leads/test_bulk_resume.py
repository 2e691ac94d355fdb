"""Bulk jobs that lose their worker or their message are found by beat's sweeper and go on from their cursor,
changing nothing twice; a bulk assign tells its new owner once per job; a bulk erase commits lead by lead. The
tasks run in-process here (a real worker resuming a job: tests/leads/test_bulk_worker.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import OperationalError
from django.utils import timezone, translation

from leads import tasks
from leads.bulk_actions import services
from leads.models import BulkJob, ErasureRecord, Lead, LifecycleChange, OwnerChange
from salesmarketing.models import Notification, NotificationPreference, User
from tests.leads.factories import make_lead
from tests.salesmarketing.factories import UserFactory

pytestmark = pytest.mark.django_db

AN_HOUR_AGO = dt.timedelta(hours=1)


def _assign(by: User, to: User, leads: list[Lead]) -> BulkJob:
    return services.bulk_job_create(
        by=by, action="assign", params={"owner": to.pk, "reason": "担当替え"},
        all_matching=False, lead_ids=[lead.pk for lead in leads],
    )  # fmt: skip


def _stalled(job: BulkJob, **fields) -> None:
    """As a worker SIGKILLed mid-job (or a lost message) leaves it: not over, its heartbeat an hour old."""
    BulkJob.objects.filter(pk=job.pk).update(progressed_at=timezone.now() - AN_HOUR_AGO, **fields)


def _lifecycle_job(manager, leads: list[Lead]) -> BulkJob:
    return services.bulk_job_create(
        by=manager, action="lifecycle", params={"stage": "sql", "reason": "x"},
        all_matching=False, lead_ids=[lead.pk for lead in leads],
    )  # fmt: skip


# --- The sweeper -----------------------------------------------------------------------------------------------


def test_the_sweeper_resumes_the_jobs_that_stopped_moving_and_only_them(manager):
    # Queued, but their messages never leave: the test's transaction never commits (on_commit does not run).
    killed, lost, alive = (_lifecycle_job(manager, [make_lead() for _ in range(5)]) for _ in range(3))
    services.bulk_job_start(job_id=killed.pk)
    services.bulk_job_run_batch(job_id=killed.pk, batch_size=2)  # then its worker died
    _stalled(killed)
    _stalled(lost)
    services.bulk_job_start(job_id=alive.pk)
    services.bulk_job_run_batch(job_id=alive.pk, batch_size=2)  # moving: its heartbeat is fresh

    assert tasks.sweep()["bulk_jobs"] == 2  # run in-process here, to the end

    for job in (killed, lost):
        job.refresh_from_db()
        assert (job.status, job.total, job.done, job.changed) == ("finished", 5, 5, 5)
    alive.refresh_from_db()
    assert (alive.status, alive.done) == ("running", 2)
    assert LifecycleChange.objects.filter(to_stage="sql").count() == 12
    assert tasks.sweep()["bulk_jobs"] == 0  # over: nothing left to resume


def test_the_sweeper_moves_the_heartbeat_so_a_job_waiting_in_the_queue_is_sent_once(manager, monkeypatch):
    queued: list[tuple] = []
    monkeypatch.setattr(services, "queue_task", lambda *args: queued.append(args))
    job = _lifecycle_job(manager, [make_lead()])
    _stalled(job)
    assert services.bulk_jobs_resume_stalled() == [job.pk]
    assert services.bulk_jobs_resume_stalled() == []  # still waiting its turn: not sent again
    assert queued == [(services.TASK, job.pk)]
    later = timezone.now() + dt.timedelta(hours=2)
    assert services.bulk_jobs_resume_stalled(now=later) == [job.pk]  # lost again: sent again


def test_a_resumed_job_changes_nothing_twice(manager, owner, teammate):
    leads = [make_lead(owner=owner) for _ in range(5)]
    job = _assign(manager, teammate, leads)
    services.bulk_job_start(job_id=job.pk)
    services.bulk_job_run_batch(job_id=job.pk, batch_size=2)
    _stalled(job)
    tasks.sweep()
    services.bulk_job_run(job_id=job.pk)  # the killed worker's message, redelivered after the sweeper's
    job.refresh_from_db()
    assert (job.status, job.done, job.changed) == ("finished", 5, 5)
    assert OwnerChange.objects.filter(lead__in=leads).count() == 5
    assert Notification.objects.filter(recipient=teammate, kind="lead_bulk_assigned").count() == 1


# --- The new owner is told once per job ------------------------------------------------------------------------


def test_a_bulk_assign_tells_the_new_owner_once_in_their_language(manager, owner, teammate):
    User.objects.filter(pk=teammate.pk).update(language="ja")
    leads = [make_lead(owner=owner) for _ in range(5)]
    job = _assign(manager, teammate, leads)
    services.bulk_job_start(job_id=job.pk)
    while services.bulk_job_run_batch(job_id=job.pk, batch_size=2):
        pass
    (notification,) = Notification.objects.filter(recipient=teammate)
    assert (notification.kind, notification.params["count"], notification.url) == (
        "lead_bulk_assigned", 5, "/leads/?owner=me",
    )  # fmt: skip
    with translation.override("ja"):
        assert notification.text == ("課長 一郎さんがあなたをリードの担当者にしました: 5件", "担当替え")
    with translation.override("en"):  # a fresh row: `text` is rendered once per instance
        assert (
            Notification.objects.get(pk=notification.pk).text[0] == "課長 一郎 made you the owner of leads: 5"
        )
    assert not Notification.objects.filter(recipient=owner).exists()


def test_a_bulk_assign_tells_nobody_who_turned_it_off_or_ran_it_themselves(manager, owner, teammate):
    NotificationPreference.objects.create(user=teammate, kind="lead_bulk_assigned", in_app=False, email=False)
    for to in (teammate, manager):
        services.bulk_job_run(job_id=_assign(manager, to, [make_lead(owner=owner)]).pk)
    assert BulkJob.objects.filter(status="finished", changed=1).count() == 2
    assert not Notification.objects.filter(kind="lead_bulk_assigned").exists()


# --- Erase, lead by lead ---------------------------------------------------------------------------------------


@pytest.fixture
def admin():
    return UserFactory(username="admin", role=User.Role.ADMIN)


def test_a_crash_mid_erase_keeps_the_erased_and_the_rerun_skips_them(admin, monkeypatch):
    leads = [make_lead() for _ in range(5)]
    erase = services.lead_erase
    calls = []

    def dies_on_the_third(**kwargs):
        calls.append(kwargs["lead"].pk)
        if len(calls) == 3:
            raise OperationalError("server closed the connection unexpectedly")
        return erase(**kwargs)

    monkeypatch.setattr(services, "lead_erase", dies_on_the_third)
    job = services.bulk_job_create(
        by=admin, action="erase", params={}, all_matching=False, lead_ids=[lead.pk for lead in leads]
    )
    with pytest.raises(OperationalError):
        services.bulk_job_run(job_id=job.pk)  # as the worker runs it: it dies on the third lead
    job.refresh_from_db()
    assert (job.status, job.done, job.changed, job.cursor) == ("running", 2, 2, leads[1].pk)
    assert set(ErasureRecord.objects.values_list("lead_id", flat=True)) == {leads[0].pk, leads[1].pk}
    assert Lead.objects.filter(pk__in=[lead.pk for lead in leads]).count() == 3

    monkeypatch.setattr(services, "lead_erase", erase)
    _stalled(job)
    tasks.sweep()
    job.refresh_from_db()
    assert (job.status, job.total, job.done, job.changed) == ("finished", 5, 5, 5)
    assert sorted(ErasureRecord.objects.values_list("lead_id", flat=True)) == [lead.pk for lead in leads]
    assert not Lead.objects.filter(pk__in=[lead.pk for lead in leads]).exists()
