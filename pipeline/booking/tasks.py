"""Booking tasks: thin, taking ids, safe to run twice (the BookingInvitation ledger).

- `send_booking_invitation(id)` (queue `email`): one invitation e-mail with its `.ics`, claimed before sending.
"""

from __future__ import annotations

from celery import shared_task

from pipeline.booking.services import booking_invitation_deliver


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=60, time_limit=90)
def send_booking_invitation(invitation_id: int) -> bool:
    return booking_invitation_deliver(invitation_id=invitation_id)
