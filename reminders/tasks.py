"""Reminder tasks: thin, taking ids, safe to run twice (the ledgers ReminderSent and DigestSent).

- `send_reminders()` (beat, every minute, queue `realtime`): reminders before due, at overdue, at a snooze's end.
- `queue_digests()` (beat, every few minutes, queue `email`): a `send_digest(user_id, day)` per user whose
  digest time has come and whose digest of the day is not in the ledger.
"""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.utils import timezone

from reminders import selectors, services
from reminders.schedule import local_date


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=50, time_limit=60)
def send_reminders() -> int:
    return services.reminders_send(now=timezone.now())


@shared_task(acks_late=True, ignore_result=True)
def queue_digests() -> int:
    now = timezone.now()
    day = local_date(now)
    user_ids = selectors.digest_due_users(now=now, day=day)
    for user_id in user_ids:
        send_digest.delay(user_id, day.isoformat())
    return len(user_ids)


@shared_task(
    acks_late=True,
    ignore_result=True,
    soft_time_limit=60,
    time_limit=90,
    autoretry_for=(OSError,),
    retry_backoff=60,
    max_retries=5,
)
def send_digest(user_id: int, day: str) -> bool:
    return services.digest_send(user_id=user_id, day=dt.date.fromisoformat(day))
