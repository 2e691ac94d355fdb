"""Celery finds tasks in `<app>.tasks` (autodiscovery): each pipeline feature's tasks module is imported here."""

from pipeline.booking.tasks import send_booking_invitation  # noqa: F401
