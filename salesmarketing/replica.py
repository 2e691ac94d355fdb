"""Read-only pages read from a streaming replica (DATABASE_REPLICA_URL); everything else reads the primary.

Only the selectors of read-only pages ask for the replica, with `reads_from_replica()` (a context manager and a
decorator). The router sends their reads there only when all of these hold, and to the primary otherwise:
- the request is a page read (GET, HEAD, OPTIONS) made through `ReplicaMiddleware`: never a task, a command or a
  request that writes;
- nothing in this request has written yet (a write pins the rest of the request to the primary);
- this browser did not write in the last DATABASE_REPLICA_STICKY_SECONDS (read-your-writes: a signed cookie set
  by every request that writes);
- no transaction is open on the primary (its rows are not on the replica);
- the replica answers and replays no more than DATABASE_REPLICA_MAX_LAG_SECONDS behind the primary (measured at
  most once per CHECK_SECONDS per process; a lagging or unreachable replica is logged and skipped).

Without DATABASE_REPLICA_URL the router is not installed: one database, no behaviour change.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.core.paginator import Page
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])

REPLICA = "replica"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
COOKIE = "sm_wrote"
COOKIE_SALT = "salesmarketing.replica.wrote"
CHECK_SECONDS = 1.0  # how long one lag measurement is trusted, per process

# Receive and replay positions equal: nothing is waiting to be applied, however long ago the last commit was.
# No WAL receiver: the replica is cut off from the primary and cannot say how far behind it is.
LAG_SQL = """
SELECT CASE
    WHEN NOT pg_is_in_recovery() THEN 0
    WHEN NOT EXISTS (SELECT 1 FROM pg_stat_wal_receiver) THEN NULL
    WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
    ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::double precision
END
"""


@dataclass
class _RequestState:
    primary_only: bool  # a request that writes, or a browser that wrote a moment ago
    wrote: bool = False  # a write connection was asked for during this request


_request: contextvars.ContextVar[_RequestState | None] = contextvars.ContextVar(
    "replica_request", default=None
)
_wanted: contextvars.ContextVar[bool] = contextvars.ContextVar("replica_wanted", default=False)
_pinned: contextvars.ContextVar[str | None] = contextvars.ContextVar("replica_pinned", default=None)


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES and bool(getattr(settings, "DATABASE_REPLICA_READS", True))


# --- the replica's health -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Health:
    checked_at: float
    usable: bool


_health: _Health | None = None
_health_lock = threading.Lock()


def replica_lag_seconds() -> float:
    """How far the replica's replay is behind the primary, in seconds (inf when it cannot tell)."""
    with connections[REPLICA].cursor() as cursor:
        cursor.execute(LAG_SQL)
        (lag,) = cursor.fetchone()
    return math.inf if lag is None else max(float(lag), 0.0)


def replica_usable() -> bool:
    """Whether the replica is up and close enough behind; measured at most once per CHECK_SECONDS."""
    global _health
    now = time.monotonic()
    health = _health
    if health is not None and now - health.checked_at < CHECK_SECONDS:
        return health.usable
    with _health_lock:
        health = _health
        if health is not None and now - health.checked_at < CHECK_SECONDS:
            return health.usable
        max_lag = settings.DATABASE_REPLICA_MAX_LAG_SECONDS
        try:
            lag = replica_lag_seconds()
        except DatabaseError as exc:
            # Down, restarting or refusing: drop the broken connection so the next check connects afresh.
            connections[REPLICA].close()
            logger.warning("read replica unavailable, reading from the primary: %s", exc)
            usable = False
        else:
            usable = lag <= max_lag
            if not usable:
                logger.warning(
                    "read replica is %s s behind (more than %s s), reading from the primary",
                    "an unknown number of" if math.isinf(lag) else f"{lag:.1f}",
                    max_lag,
                )
        _health = _Health(checked_at=time.monotonic(), usable=usable)
        return usable


def forget_replica_health() -> None:
    """Measure again at the next read (tests; after a failover)."""
    global _health
    _health = None


# --- which database a read goes to ----------------------------------------------------------------------------


def read_alias() -> str:
    """The database a read made now goes to."""
    if (pinned := _pinned.get()) is not None:
        return pinned
    state = _request.get()
    if (
        not _wanted.get()
        or state is None
        or state.primary_only
        or state.wrote
        or not replica_configured()
        or connections[DEFAULT_DB_ALIAS].in_atomic_block
    ):
        return DEFAULT_DB_ALIAS
    return REPLICA if replica_usable() else DEFAULT_DB_ALIAS


def reading_from_replica() -> bool:
    return read_alias() == REPLICA


@contextmanager
def one_database_for_reads() -> Iterator[None]:
    """Every read inside goes to the database a read made on entering would go to, even if the replica's health
    is measured again meanwhile: statements that belong together (a cache key's generations, then the values
    stored under it) read one database."""
    token = _pinned.set(read_alias())
    try:
        yield
    finally:
        _pinned.reset(token)


def _pin(result: Any, alias: str) -> Any:
    """Bind the lazy querysets a selector returns to the database chosen for it, so rows read later (in the
    template, by a streamed export) come from the same database as the counts read inside the selector."""
    if isinstance(result, QuerySet):
        return result.using(alias)
    if isinstance(result, Page) and isinstance(result.object_list, QuerySet):
        result.object_list = result.object_list.using(alias)
    return result


class _ReadsFromReplica:
    """`with reads_from_replica():` or `@reads_from_replica()` on a read-only page's selector."""

    def __enter__(self) -> None:
        self._token = _wanted.set(True)

    def __exit__(self, *exc_info: object) -> None:
        _wanted.reset(self._token)

    def __call__(self, func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            token = _wanted.set(True)
            try:
                result = func(*args, **kwargs)
                return _pin(result, read_alias())
            finally:
                _wanted.reset(token)

        return wrapper  # type: ignore[return-value]


def reads_from_replica() -> _ReadsFromReplica:
    return _ReadsFromReplica()


class ReplicaRouter:
    """Reads asked for by `reads_from_replica()` go to the replica when it is safe (see the module docstring);
    every other read and every write goes to the primary."""

    def db_for_read(self, model: type, **hints: Any) -> str:
        return read_alias()

    def db_for_write(self, model: type, **hints: Any) -> str:
        state = _request.get()
        if state is not None:
            state.wrote = True
        # Explicitly the primary: left to Django, saving a row read from the replica would write to the replica.
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        # The replica holds the primary's rows: a row read from either may point at a row read from the other.
        if {obj1._state.db, obj2._state.db} <= {DEFAULT_DB_ALIAS, REPLICA}:
            return True
        return None

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        return False if db == REPLICA else None


# --- the request: page reads, writes and read-your-writes ------------------------------------------------------


def _wrote_recently(request: HttpRequest) -> bool:
    return (
        request.get_signed_cookie(
            COOKIE, default=None, salt=COOKIE_SALT, max_age=settings.DATABASE_REPLICA_STICKY_SECONDS
        )
        is not None
    )


class ReplicaMiddleware:
    """Marks what a request may read from the replica, and the browser that wrote, for a few seconds after."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        if REPLICA not in settings.DATABASES:
            raise MiddlewareNotUsed  # one database: nothing to choose, no cookie to set
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        writes = request.method not in SAFE_METHODS
        state = _RequestState(primary_only=writes or _wrote_recently(request))
        token = _request.set(state)
        try:
            response = self.get_response(request)
        finally:
            _request.reset(token)
        if writes or state.wrote:
            response.set_signed_cookie(
                COOKIE,
                "1",
                salt=COOKIE_SALT,
                max_age=settings.DATABASE_REPLICA_STICKY_SECONDS,
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        return response


@contextmanager
def request_scope(*, method: str = "GET") -> Iterator[None]:
    """What ReplicaMiddleware sets up for a request, for code that runs outside one (tests, benchmarks)."""
    token = _request.set(_RequestState(primary_only=method not in SAFE_METHODS))
    try:
        yield
    finally:
        _request.reset(token)
