"""The Celery app. Workers: `celery -A salesmarketing worker`; schedule: `celery -A salesmarketing beat`."""

import os
from typing import Any

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "salesmarketing.settings")

app = Celery("salesmarketing")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def queue_task(name: str, *args: Any) -> None:
    """Queue one of our tasks by its registered name, as `task.delay(*args)` would (routes and eager mode apply).

    A service queues its own app's tasks this way because the task module imports the service: importing the task
    back would be an import cycle. The apps import their task modules in `AppConfig.ready()`, so every name is
    registered in the web process too (a KeyError here is a typo, not a race)."""
    app.tasks[name].delay(*args)
