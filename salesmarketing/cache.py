"""The shared cache when CACHE_URL names a Redis: Django's RedisCache that keeps answering while Redis is down.

The cache holds rate limits, login throttling and values that can be computed again (KPI measures, the board's
usual stage times); nothing in it is the only copy of anything. So while Redis does not answer, a request must
not fail for it: every call falls back to this process's own memory, with a warning in the log, and Redis is
tried again after REDIS_RETRY_SECONDS. Counts kept meanwhile are per process (each gunicorn worker counts on its
own, so a limit of N lets through at most N per worker) and are not carried back into Redis.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)
REDIS_RETRY_SECONDS = 5.0

# Per process and cache location: until when Redis is skipped (monotonic seconds). Module-level because Django
# makes one backend instance per thread.
_down_until: dict[str, float] = {}


class RedisCacheWithFallback(RedisCache):
    """RedisCache whose every call, while Redis does not answer, is served by a per-process LocMemCache."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._location = server if isinstance(server, str) else ",".join(server)
        # LocMemCache instances of one name share their storage within the process.
        self._fallback = LocMemCache(
            f"redis-fallback:{self._location}",
            {
                "TIMEOUT": params.get("TIMEOUT", DEFAULT_TIMEOUT),
                "KEY_PREFIX": params.get("KEY_PREFIX", ""),
                "VERSION": params.get("VERSION", 1),
                "OPTIONS": {"MAX_ENTRIES": 50_000},
            },
        )

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if time.monotonic() < _down_until.get(self._location, 0.0):
            return getattr(self._fallback, name)(*args, **kwargs)
        try:
            result = getattr(super(), name)(*args, **kwargs)
        except REDIS_DOWN as exc:
            if self._location not in _down_until:
                logger.warning(
                    "Cache unavailable (%s: %s); rate limits, login throttling and cached values use this "
                    "process's memory until it answers again.",
                    type(exc).__name__,
                    exc,
                )
            _down_until[self._location] = time.monotonic() + REDIS_RETRY_SECONDS
            return getattr(self._fallback, name)(*args, **kwargs)
        if _down_until.pop(self._location, None) is not None:
            logger.warning("Cache available again; rate limits and login throttling are shared again.")
        return result

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("add", key, value, timeout, version)

    def get(self, key, default=None, version=None):
        return self._call("get", key, default, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("set", key, value, timeout, version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("touch", key, timeout, version)

    def delete(self, key, version=None):
        return self._call("delete", key, version)

    def get_many(self, keys, version=None):
        return self._call("get_many", keys, version)

    def has_key(self, key, version=None):
        return self._call("has_key", key, version)

    def incr(self, key, delta=1, version=None):
        return self._call("incr", key, delta, version)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("set_many", data, timeout, version)

    def delete_many(self, keys, version=None):
        return self._call("delete_many", keys, version)

    def clear(self):
        return self._call("clear")
