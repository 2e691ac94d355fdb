"""Bulk jobs queued from the lead list's form run on a real Celery worker (the bulk queue, on Redis) to the end,
each action writing what it should; "all matching" re-runs the filter in the worker as the author sees the list."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.urls import reverse
from django.utils import timezone

from leads.bulk_actions import services
from leads.models import BulkJob, ErasureRecord, Lead, LifecycleChange, OwnerChange
from leads.tasks import sweep
from nurture.models import Enrolment, SegmentMember
from salesmarketing.models import Notification, User
from tests.leads.factories import make_lead
from tests.nurture.factories import SegmentStaticFactory, sequence_make
from tests.salesmarketing.factories import UserFactory


def _wait_for_job(job: BulkJob, timeout: float = 30.0) -> BulkJob:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.is_over:
            return job
        time.sleep(0.1)
    raise AssertionError(f"the worker did not finish the job: {job.status} {job.done}/{job.total}")


def _lead_at(stage: str, **fields) -> Lead:
    lead = make_lead(**fields)
    Lead.objects.filter(pk=lead.pk).update(lifecycle_stage=stage)
    return lead


def test_the_form_queues_an_all_matching_assign_that_the_worker_finishes(
    celery_worker, client, manager, owner, teammate
):
    matching = [_lead_at("mql", owner=owner) for _ in range(7)]
    other = _lead_at("lead", owner=owner)
    client.force_login(manager)
    response = client.post(
        reverse("leads:bulk_new"),
        {"run": "1", "all_matching": "1", "query": "lifecycle=mql", "action": "assign", "owner": teammate.pk,
         "reason": "担当替え"},
    )  # fmt: skip
    assert response.status_code == 302
    job = _wait_for_job(BulkJob.objects.get())
    assert (job.status, job.total, job.done, job.changed, job.failed) == ("finished", 7, 7, 7, 0)
    assert set(Lead.objects.filter(owner=teammate).values_list("pk", flat=True)) == {
        lead.pk for lead in matching
    }
    assert Lead.objects.get(pk=other.pk).owner == owner
    assert OwnerChange.objects.filter(by=manager, to_owner=teammate).count() == 7


@pytest.mark.parametrize("action", ["lifecycle", "consent", "erase", "segment", "sequence"])
def test_each_action_runs_on_a_real_worker(celery_worker, action, manager, marketer):
    admin = UserFactory(username="bulk-admin", role=User.Role.ADMIN)
    by = {"erase": admin, "segment": marketer, "sequence": marketer}.get(action, manager)
    consenting = {"consent_email": True, "consent_method": "web_form", "consent_wording": "同意"}
    leads = [make_lead(**(consenting if action == "sequence" else {})) for _ in range(5)]
    ids = [lead.pk for lead in leads]
    params = {
        "lifecycle": {"stage": "disqualified", "reason": "競合の社員"},
        "consent": {"grant": True, "method": "in_person", "wording": "案内メールの送付に同意します"},
        "erase": {"reason": "本人の削除依頼"},
        "segment": {"target": SegmentStaticFactory().pk} if action == "segment" else {},
        "sequence": {"target": sequence_make().pk} if action == "sequence" else {},
    }[action]
    job = services.bulk_job_create(by=by, action=action, params=params, all_matching=False, lead_ids=ids)
    job = _wait_for_job(job)
    assert (job.status, job.total, job.done, job.changed, job.failed) == ("finished", 5, 5, 5, 0), job.error
    if action == "lifecycle":
        assert LifecycleChange.objects.filter(lead_id__in=ids, to_stage="disqualified", by=by).count() == 5
    elif action == "consent":
        assert Lead.objects.filter(pk__in=ids, consent_email=True, consent_method="in_person").count() == 5
    elif action == "erase":
        assert not Lead.objects.filter(pk__in=ids).exists()
        assert ErasureRecord.objects.filter(lead_id__in=ids, via="bulk").count() == 5
    elif action == "segment":
        assert SegmentMember.objects.filter(segment_id=params["target"], lead_id__in=ids).count() == 5
    else:
        assert Enrolment.objects.filter(sequence_id=params["target"], lead_id__in=ids).count() == 5


def test_a_job_longer_than_its_time_budget_is_finished_by_the_tasks_it_queues(
    celery_worker, manager, monkeypatch
):
    """A task runs batches for its budget, then queues the rest behind the other bulk work (here: every batch)."""
    monkeypatch.setattr(services, "BATCH_SIZE", 2)
    monkeypatch.setattr(services, "TIME_BUDGET_SECONDS", 0.0)
    leads = [make_lead() for _ in range(5)]
    job = services.bulk_job_create(
        by=manager, action="lifecycle", params={"stage": "sql", "reason": "x"}, all_matching=True
    )
    job = _wait_for_job(job)
    assert (job.status, job.done, job.changed) == ("finished", 5, 5)
    assert LifecycleChange.objects.filter(lead__in=leads, to_stage="sql").count() == 5


def test_a_job_whose_worker_died_is_resumed_by_the_sweeper_and_finished_by_a_worker(
    celery_worker, manager, owner, teammate, monkeypatch
):
    """A job left running after two of its leads (its worker SIGKILLed, its message gone), its heartbeat older
    than SWEEP_STALE_SECONDS: beat's sweeper queues it again and the worker goes on from the cursor."""
    leads = [make_lead(owner=owner) for _ in range(5)]
    with monkeypatch.context() as lost:
        lost.setattr(services, "queue_task", lambda *args: None)
        job = services.bulk_job_create(
            by=manager, action="assign", params={"owner": teammate.pk, "reason": "担当替え"},
            all_matching=False, lead_ids=[lead.pk for lead in leads],
        )  # fmt: skip
    services.bulk_job_start(job_id=job.pk)
    services.bulk_job_run_batch(job_id=job.pk, batch_size=2)
    BulkJob.objects.filter(pk=job.pk).update(progressed_at=timezone.now() - dt.timedelta(hours=1))

    assert sweep()["bulk_jobs"] == 1  # sent to the worker
    job = _wait_for_job(job)
    assert (job.status, job.total, job.done, job.changed) == ("finished", 5, 5, 5)
    assert OwnerChange.objects.filter(lead__in=leads, to_owner=teammate).count() == 5
    assert Notification.objects.filter(recipient=teammate, kind="lead_bulk_assigned").count() == 1
