"""The bulk queue's task for lead bulk jobs: take the job's id, run batches for a while, queue the rest."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from leads.bulk_actions.services import bulk_job_run as run


# Only the database's errors are retried (a restart, a deadlock): a batch rolls back whole, so the retry redoes
# exactly it. Any other error marks the job failed in the service.
@shared_task(
    acks_late=True,
    ignore_result=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=8,
    soft_time_limit=240,
    time_limit=300,
)
def bulk_job_run(job_id: int) -> bool:
    finished = run(job_id=job_id)
    if not finished:
        bulk_job_run.delay(job_id)  # the rest, behind the other bulk work queued meanwhile
    return finished
