from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from salesmarketing import inbound
from salesmarketing.celery import queue_task
from salesmarketing.models import Notification


@shared_task
def purge_old_notifications(days: int = 90) -> int:
    """Delete notifications read more than `days` ago; running it twice changes nothing more."""
    cutoff = timezone.now() - timedelta(days=days)
    deleted, _ = Notification.objects.filter(read_at__lt=cutoff).delete()
    return deleted


@shared_task
def ping() -> str:
    """Round trip used by the health check and the worker integration test."""
    return "pong"


@shared_task(acks_late=True, ignore_result=True)
def inbound_email_process(inbound_id: int) -> str | None:
    return inbound.inbound_email_process(inbound_id=inbound_id)


@shared_task
def inbound_email_sweep() -> int:
    """Queue again the received messages nobody has read (the broker was down, or a reader crashed)."""
    ids = inbound.inbound_email_sweep()
    for pk in ids:
        queue_task("salesmarketing.tasks.inbound_email_process", pk)
    return len(ids)
