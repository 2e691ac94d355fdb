"""A real Celery worker on Redis (the named queues) runs the reminders' beat tasks twice over: one reminder per
item and moment, one digest per user and day."""

from __future__ import annotations

import datetime as dt
import time

from django.utils import timezone

from pipeline.services import pipeline_ensure_default
from reminders.models import DigestSent, ReminderSent
from reminders.services import digest_setting_set
from reminders.tasks import queue_digests, send_reminders
from salesmarketing.models import Notification
from tests.nurture.mail_fixtures import smtp_sink  # noqa: F401  (a fixture)
from tests.reminders.conftest import make_items


def _wait_for(condition, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the worker did not finish in time"
        time.sleep(0.2)


def test_a_worker_running_the_beat_tasks_twice_reminds_and_digests_once(celery_worker, owner, smtp_sink):  # noqa: F811
    pipeline_ensure_default()
    make_items(owner, due=timezone.localdate() - dt.timedelta(days=1))  # overdue since yesterday 18:00
    digest_setting_set(user=owner, enabled=True, send_at=dt.time(0, 0))

    send_reminders.delay()
    send_reminders.delay()
    _wait_for(lambda: ReminderSent.objects.count() == 6 and Notification.objects.count() == 3)

    queue_digests.delay()
    queue_digests.delay()
    _wait_for(lambda: DigestSent.objects.filter(sent_at__isnull=False).exists())
    time.sleep(2)  # room for a second send, were there one
    subjects = [str(m["Subject"]) for m in smtp_sink.parsed()]
    assert sum("今日のまとめ" in s for s in subjects) == 1  # the digest, once
    assert (
        sum(s.startswith("期限超過") for s in subjects) == 3
    )  # the reminders, e-mailed by default, once each
    assert len(subjects) == 4 and {r[0] for r in smtp_sink.recipients} == {owner.email}
    assert Notification.objects.filter(recipient=owner, kind="task_overdue").count() == 3
