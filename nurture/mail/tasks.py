"""Email tasks on the `email` queue: thin, taking ids, safe to run twice (nurture.mail.sending claims every step).

- `broadcast_start(id)`: freeze the recipients (once: a conditional UPDATE scheduled → sending) and send a batch.
- `broadcast_send_batch(id)`: opens one minute's worth of messages, queues its other parts (`broadcast_send_part`,
  BROADCAST_BATCH_PARTS in all, so every `email` worker sends one broadcast) and sends one part itself; queues the
  next batch a minute after this one began. A temporary mail-server failure retries the task with backoff (rows
  not sent stay pending); a part that meets one just stops (its rows stay pending for the next batch).
- `mail_sweep()` (beat, every minute): starts due broadcasts, restarts stalled ones (a worker killed mid-batch, a
  lost message), gives up dead claims as `unknown` (never sent twice).
"""

from __future__ import annotations

import time

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from nurture.mail import sending
from salesmarketing.celery import app as celery_app

RETRY_BACKOFF_MAX = 30 * 60


@shared_task(acks_late=True, ignore_result=True)
def broadcast_start(broadcast_id: int) -> bool:
    started = sending.broadcast_start(broadcast_id=broadcast_id)
    if started:
        broadcast_send_batch.delay(broadcast_id)
    return started


@shared_task(
    bind=True, acks_late=True, ignore_result=True, max_retries=10, soft_time_limit=240, time_limit=300
)
def broadcast_send_batch(self, broadcast_id: int) -> int:
    began = time.monotonic()
    try:
        result, parts = sending.batch_open(broadcast_id=broadcast_id)
        for _other in range(parts - 1):
            broadcast_send_part.delay(broadcast_id)
        if parts:
            result = sending.broadcast_send_part(broadcast_id=broadcast_id, result=result)
    except sending.TemporaryFailure as exc:
        sending.batch_slot_release(broadcast_id=broadcast_id)
        raise self.retry(exc=exc, countdown=min(30 * 2**self.request.retries, RETRY_BACKOFF_MAX)) from exc
    except SoftTimeLimitExceeded:
        result = sending.BatchResult(more=True)
    if result.more and not result.stopped and not celery_app.conf.task_always_eager:
        # In process (no broker) the next batch waits for the sweep: a chain there would run at once.
        wait = max(0.0, sending.batch_seconds() - (time.monotonic() - began)) + 0.5
        broadcast_send_batch.apply_async((broadcast_id,), countdown=wait)
    return result.sent


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=240, time_limit=300)
def broadcast_send_part(broadcast_id: int) -> int:
    try:
        return sending.broadcast_send_part(broadcast_id=broadcast_id).sent
    except (sending.TemporaryFailure, SoftTimeLimitExceeded):
        return 0  # the rows not sent are pending again: the next batch takes them


@shared_task(acks_late=True, ignore_result=True)
def mail_sweep() -> dict:
    found = sending.mail_sweep()
    for broadcast_id in found.due:
        broadcast_start.delay(broadcast_id)
    for broadcast_id in found.stalled:
        broadcast_send_batch.delay(broadcast_id)
    return {"due": len(found.due), "stalled": len(found.stalled), "unknown": found.unknown}
