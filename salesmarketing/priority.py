"""Bulk work yields the CPU to realtime work on a shared machine.

A worker started under `nice` (docker-compose starts the bulk and email workers with `nice -n 10`) runs its tasks
at that lower priority, and so do the database backends it opens: PostgreSQL runs each connection's queries in a
process of its own, which `nice` on the worker does not reach. Where the database has the `prioritize` extension
(Debian and Ubuntu: the package postgresql-<version>-prioritize, then `CREATE EXTENSION prioritize` by a
superuser), each new connection of such a worker lowers its own backend to the worker's niceness; without it only
the worker process is lowered, and this is logged once. The web pool for batch API clients (web-ingest) is started
under `nice` too and does the same (salesmarketing/wsgi.py). Realtime workers and the web processes serving
pages and single captures are started without `nice`, so on a machine busy with a rescore, an ingest and a
broadcast, the kernel runs an event's scoring and handoff first (docs/capacity.md).
"""

from __future__ import annotations

import logging
import os

from django.db.backends.signals import connection_created

logger = logging.getLogger(__name__)
SET_PRIORITY = "set_backend_priority(integer,integer)"
_warned = False  # the missing extension is logged once per process


def pass_niceness_to_database() -> int:
    """In a worker's main process, before it takes a task: when it runs under `nice`, the database connections it
    (and its pool's processes) opens from now on get the same niceness. Returns the niceness."""
    niceness = os.getpriority(os.PRIO_PROCESS, 0)
    if niceness > 0:
        connection_created.connect(_lower_backend, dispatch_uid="salesmarketing.priority")
    return niceness


def _lower_backend(sender, connection, **kwargs) -> None:
    global _warned
    if connection.vendor != "postgresql":
        return
    niceness = os.getpriority(os.PRIO_PROCESS, 0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regprocedure(%s) IS NOT NULL", [SET_PRIORITY])
        (available,) = cursor.fetchone()
        if available:
            cursor.execute("SELECT set_backend_priority(pg_backend_pid(), %s)", [niceness])
        elif not _warned:
            _warned = True
            logger.warning(
                "worker runs at niceness %s, but the database has no prioritize extension: its queries run at "
                "normal priority (docs/capacity.md)",
                niceness,
            )
