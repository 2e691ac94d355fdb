"""Sequence tasks: thin, safe to run twice (nurture.sequences.sending claims every step).

- `sequence_run()` (beat, every minute, `email` queue): exits, queue the due steps, send the pending rows.
- `sequence_segment_enrol()` (beat, `bulk` queue): enrol the trigger segments' new members, one INSERT … SELECT
  per sequence.
"""

from __future__ import annotations

from celery import shared_task

from nurture.sequences import sending, services


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=240, time_limit=300)
def sequence_run() -> dict:
    result = sending.sequence_run()
    return {"queued": result.queued, "sent": result.sent, "failed": result.failed, "stopped": result.stopped}


@shared_task(acks_late=True, ignore_result=True)
def sequence_segment_enrol() -> dict:
    return {str(k): v for k, v in services.enrol_segment_entries().items()}
