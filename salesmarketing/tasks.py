from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from salesmarketing import inbound
from salesmarketing.celery import queue_task
from salesmarketing.models import Notification, NotificationEmail
from salesmarketing.services import SEND_TASK, notification_email_deliver, notification_emails_stalled


@shared_task
def purge_old_notifications(days: int = 90) -> int:
    """Delete notifications read more than `days` ago, and notification e-mails sent or failed as long ago;
    running it twice changes nothing more."""
    cutoff = timezone.now() - timedelta(days=days)
    deleted, _ = Notification.objects.filter(read_at__lt=cutoff).delete()
    done = (NotificationEmail.State.SENT, NotificationEmail.State.FAILED)
    emails, _ = NotificationEmail.objects.filter(state__in=done, created_at__lt=cutoff).delete()
    return deleted + emails


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=60, time_limit=90)
def send_notification_email(email_id: int) -> bool:
    return notification_email_deliver(email_id=email_id)


@shared_task
def notification_email_sweep() -> int:
    """Queue again the notification e-mails whose task went missing (safe: each is claimed before it is sent)."""
    ids = notification_emails_stalled()
    for pk in ids:
        queue_task(SEND_TASK, pk)
    return len(ids)


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
