"""The Celery app. Workers: `celery -A salesmarketing worker`; schedule: `celery -A salesmarketing beat`."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "salesmarketing.settings")

app = Celery("salesmarketing")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
