"""The app's settings plus the floor view: gunicorn serves the benchmarked pages with DJANGO_SETTINGS_MODULE set
to `bench.settings`, so the floor runs behind exactly the same middleware (login required) as every page."""

from salesmarketing.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
