from datetime import timedelta

from celery import shared_task
from django.utils import timezone

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
