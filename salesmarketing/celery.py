"""The Celery app. Workers: `celery -A salesmarketing worker`; schedule: `celery -A salesmarketing beat`."""

import os
from typing import Any

from celery import Celery, signals
from django.conf import settings
from django.db import close_old_connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "salesmarketing.settings")

app = Celery("salesmarketing")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.task_prerun.connect
@signals.task_postrun.connect
def _close_old_connections(task: Any = None, **kwargs: Any) -> None:
    """Around each task, as Django does around each request: a connection past DB_CONN_MAX_AGE or broken is closed,
    the next query opens a new one (Celery's own closing is off: CELERY_DB_REUSE_MAX). Not for a task run in
    place (eager), which may be inside its caller's transaction."""
    if task is not None and not getattr(task.request, "is_eager", False):
        close_old_connections()


@signals.worker_init.connect
def _worker_init(**kwargs: Any) -> None:
    """A worker started under `nice` runs its database queries at that niceness too (salesmarketing.priority)."""
    from salesmarketing.priority import pass_niceness_to_database

    pass_niceness_to_database()


def queue_task(name: str, *args: Any, **options: Any) -> None:
    """Queue one of our tasks by its registered name, as `task.delay(*args)` would (routes and eager mode apply);
    `options` as `apply_async` takes them: a `queue` other than the task's route, a `priority` as the broker takes
    it (Redis: 0, the default, is the highest; see CELERY_BROKER_TRANSPORT_OPTIONS).

    A service queues its own app's tasks this way because the task module imports the service: importing the task
    back would be an import cycle. The apps import their task modules in `AppConfig.ready()`, so every name is
    registered in the web process too (a KeyError here is a typo, not a race)."""
    app.tasks[name].apply_async(args, **options)


def broker_queue_keys(queue: str) -> list[str]:
    """The Redis lists holding a named queue's waiting messages, one per priority step (kombu names them so): its
    backlog is the sum of their lengths."""
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    return [f"{queue}{options['sep']}{step}" if step else queue for step in options["priority_steps"]]
