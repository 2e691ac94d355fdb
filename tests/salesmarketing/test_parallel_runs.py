"""pytest-xdist workers never share a broker: each gets its own Redis database (tests/conftest.py)."""

from __future__ import annotations

import os

import pytest
from django.conf import settings
from django.db import connection

from salesmarketing.celery import app as celery_app
from tests.conftest import _redis_url_for_worker


def test_each_worker_gets_the_next_redis_database():
    assert _redis_url_for_worker("redis://127.0.0.1:6379/8", 0) == "redis://127.0.0.1:6379/8"
    assert _redis_url_for_worker("redis://127.0.0.1:6379/8", 3) == "redis://127.0.0.1:6379/11"
    assert _redis_url_for_worker("redis://:pw@redis:6379", 1) == "redis://:pw@redis:6379/1"
    assert (
        _redis_url_for_worker("redis://redis:6379/0?socket_timeout=5", 2)
        == "redis://redis:6379/2?socket_timeout=5"
    )


def test_it_refuses_a_worker_past_redis_database_15():
    with pytest.raises(pytest.UsageError, match="database 16"):
        _redis_url_for_worker("redis://127.0.0.1:6379/8", 8)
    with pytest.raises(pytest.UsageError):
        _redis_url_for_worker("unix:///run/redis.sock", 1)


@pytest.mark.django_db
def test_this_worker_uses_its_own_database_and_broker():
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        pytest.skip("not running under pytest-xdist (-n)")
    if connection.vendor == "postgresql":
        assert connection.settings_dict["NAME"].endswith(f"_{worker}")
    if settings.REDIS_URL:
        assert settings.REDIS_URL == os.environ["REDIS_URL"] == celery_app.conf.broker_url
        expected = _redis_url_for_worker(os.environ["SM_TEST_BASE_REDIS_URL"], int(worker.removeprefix("gw")))
        assert expected == settings.REDIS_URL
