"""A real Celery worker on Redis runs our tasks against the real database."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from salesmarketing.models import Notification
from salesmarketing.tasks import ping, purge_old_notifications
from tests.salesmarketing.factories import NotificationFactory


def test_a_real_worker_runs_tasks_from_redis_against_the_database(celery_worker):
    consumed = {queue.name for queue in celery_worker.consumer.task_consumer.queues}
    assert consumed == set(settings.TASK_QUEUE_NAMES)
    assert ping.delay().get(timeout=20) == "pong"

    old = NotificationFactory(read_at=timezone.now() - timedelta(days=120))
    fresh = NotificationFactory(read_at=timezone.now() - timedelta(days=1))
    unread = NotificationFactory()

    assert purge_old_notifications.delay(90).get(timeout=20) == 1
    assert set(Notification.objects.values_list("pk", flat=True)) == {fresh.pk, unread.pk}
    assert not Notification.objects.filter(pk=old.pk).exists()
    # Idempotent: a second run finds nothing more to do.
    assert purge_old_notifications.delay(90).get(timeout=20) == 0
