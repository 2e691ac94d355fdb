"""The app's settings plus the floor view: gunicorn serves the benchmarked pages with DJANGO_SETTINGS_MODULE set
to `bench.settings`, so the floor runs behind exactly the same middleware (login required) as every page.

The cache is a shared Redis, as in production (docker-compose's CACHE_URL): with per-process memory, each of
gunicorn's workers computed every cached KPI once for itself, and those cold reads were the pages' p95. Each run
keys its values with its own prefix (bench/run.py), so no figure reads what another run, on other data, cached."""

import os

from salesmarketing.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
if CACHE_URL:  # noqa: F405
    CACHES["default"]["KEY_PREFIX"] = os.environ.get("BENCH_CACHE_PREFIX", "bench")  # noqa: F405
