"""Read-only pages read from a streaming replica (DATABASE_REPLICA_URL); writes, the reads of a request that
writes, a browser that just wrote and a lagging or unreachable replica all read from the primary.

The integration tests use a real PostgreSQL streaming replica (CI: .ci/run starts one on port 5433) and are
skipped with a reason elsewhere. They run alone (`serial`): pausing the replica's replay affects every database
on it.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, OperationalError, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from kpis.periods import Period
from leads.filters import LeadFilterForm
from leads.selectors import lead_filtered
from salesmarketing import replica
from tests.conftest import require_or_skip
from tests.leads.factories import LeadFactory

HAS_REPLICA = replica.REPLICA in settings.DATABASES
DATABASES = [DEFAULT_DB_ALIAS, replica.REPLICA] if HAS_REPLICA else [DEFAULT_DB_ALIAS]


def _sql_on(captured: CaptureQueriesContext, table: str) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if f'"{table}"' in q["sql"]]


def _wait_for_replica(timeout: float = 30) -> None:
    """Until the replica has replayed everything the primary has written so far (the test database included)."""
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()")
        (lsn,) = cursor.fetchone()
    deadline = time.monotonic() + timeout
    while True:
        try:
            with connections[replica.REPLICA].cursor() as cursor:
                cursor.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [lsn])
                if cursor.fetchone()[0]:
                    return
        except OperationalError:  # the test database's creation is not replayed yet
            connections[replica.REPLICA].close()
        if time.monotonic() > deadline:
            pytest.fail(f"the replica did not replay up to {lsn} within {timeout} s")
        time.sleep(0.05)


@contextmanager
def _replay_paused() -> Iterator[None]:
    """The replica keeps receiving WAL but applies none of it: what it serves stays as it is now."""
    with connections[replica.REPLICA].cursor() as cursor:
        cursor.execute("SELECT pg_wal_replay_pause()")
        for _ in range(200):
            cursor.execute("SELECT pg_get_wal_replay_pause_state()")
            if cursor.fetchone()[0] == "paused":
                break
            time.sleep(0.05)
    replica.forget_replica_health()
    try:
        yield
    finally:
        with connections[replica.REPLICA].cursor() as cursor:
            cursor.execute("SELECT pg_wal_replay_resume()")
        replica.forget_replica_health()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


@pytest.fixture
def replica_server(settings):
    require_or_skip(
        HAS_REPLICA, "DATABASE_REPLICA_URL is not set: no streaming replica to read from (.ci/run starts one)"
    )
    settings.DATABASE_REPLICA_MAX_LAG_SECONDS = (
        3600  # a paused replay counts as fresh unless a test says else
    )
    _wait_for_replica()
    replica.forget_replica_health()
    yield
    replica.forget_replica_health()


@pytest.mark.replica
@pytest.mark.serial
@pytest.mark.django_db(transaction=True, databases=DATABASES)
@pytest.mark.usefixtures("replica_server")
class TestOnAStreamingReplica:
    def test_a_dashboard_read_goes_to_the_replica(self, manager_client):
        with (
            CaptureQueriesContext(connections[replica.REPLICA]) as on_replica,
            CaptureQueriesContext(connections[DEFAULT_DB_ALIAS]) as on_primary,
        ):
            response = manager_client.get(reverse("dashboard"))

        assert response.status_code == 200
        assert _sql_on(on_replica, "leads_lead")  # the KPI aggregates
        assert not _sql_on(on_primary, "leads_lead")

    def test_kpis_read_from_the_replica_are_cached_under_the_replicas_generations(self, manager_client):
        # The generations and the values are read from the replica alike (kpis.registry.engine): a value stored
        # under them holds at least the writes they say, and a write replayed later changes them.
        def kpi_sql() -> str:
            with CaptureQueriesContext(connections[replica.REPLICA]) as on_replica:
                assert manager_client.get(reverse("dashboard")).status_code == 200
            return "".join(_sql_on(on_replica, "leads_lead"))

        first = kpi_sql()
        cached = kpi_sql()
        assert first and len(cached) < len(first)  # the trend's closed weeks came from the cache
        three_weeks_ago = Period.current("week").trailing(4)[0]
        lead = LeadFactory()
        type(lead).objects.filter(pk=lead.pk).update(created_at=three_weeks_ago.start_at)
        _wait_for_replica()
        replica.forget_replica_health()
        assert len(kpi_sql()) > len(cached)  # that week's generation changed on the replica: computed again

    def test_the_lead_list_shows_what_the_replica_has_replayed(self, manager_client):
        with _replay_paused():
            LeadFactory(name="遅延 太郎")
            stale = manager_client.get(reverse("leads:list"))
        _wait_for_replica()
        replica.forget_replica_health()
        fresh = manager_client.get(reverse("leads:list"))

        assert "遅延 太郎" not in stale.text  # written on the primary, not yet applied on the replica
        assert "遅延 太郎" in fresh.text

    @pytest.mark.parametrize(
        ("name", "query", "table"),
        [
            ("leads:company_list", {}, "leads_company"),
            ("campaigns:list", {}, "campaigns_campaign"),
            ("pipeline:forecast", {}, "pipeline_deal"),
            ("search:page", {"q": "山田"}, "leads_lead"),
        ],
    )
    def test_the_other_read_only_pages_read_from_the_replica(self, manager_client, name, query, table):
        with (
            CaptureQueriesContext(connections[replica.REPLICA]) as on_replica,
            CaptureQueriesContext(connections[DEFAULT_DB_ALIAS]) as on_primary,
        ):
            response = manager_client.get(reverse(name), query)

        assert response.status_code == 200
        assert _sql_on(on_replica, table)
        assert not _sql_on(on_primary, table)

    def test_a_request_that_writes_reads_from_the_primary_after_the_write(self, manager):
        filters = LeadFilterForm({"q": "同一 要求"}).filters()
        with _replay_paused(), replica.request_scope(method="GET"):
            before = list(lead_filtered(viewer=manager, filters=filters))
            LeadFactory(name="同一 要求")  # a write in this request…
            after = list(
                lead_filtered(viewer=manager, filters=filters)
            )  # …pins its later reads to the primary

        assert before == []
        assert [lead.name for lead in after] == ["同一 要求"]

    def test_a_post_reads_only_from_the_primary(self, manager_client, manager):
        week = Period.last_complete_week()
        with CaptureQueriesContext(connections[replica.REPLICA]) as on_replica:
            response = manager_client.post(
                reverse("kpis:action_item_create"),
                {"week": week.label, "title": "x", "owner": manager.pk, "due_date": "2030-01-31"},
                headers={"HX-Request": "true"},
            )

        assert response.status_code == 200
        assert not [q for q in on_replica.captured_queries if "pg_last_wal" not in q["sql"]]

    def test_a_browser_reads_its_own_writes_from_the_primary_for_a_few_seconds(
        self, manager_client, manager, settings
    ):
        settings.DATABASE_REPLICA_STICKY_SECONDS = 2
        week = Period.last_complete_week()
        review = f"{reverse('kpis:weekly_review')}?week={week.label}"
        with _replay_paused():
            response = manager_client.post(
                reverse("kpis:action_item_create"),
                {"week": week.label, "title": "資料を直す", "owner": manager.pk, "due_date": "2030-01-31"},
            )
            assert response.status_code == 302
            own = manager_client.get(review)
            another = Client()
            another.force_login(manager)  # the same user in a browser that wrote nothing
            others = another.get(review)
            time.sleep(settings.DATABASE_REPLICA_STICKY_SECONDS + 1.1)
            later = manager_client.get(review)

        assert "資料を直す" in own.text
        assert "資料を直す" not in others.text  # the replica has not replayed it
        assert "資料を直す" not in later.text  # the window is over: back to the replica

    def test_a_replica_lagging_past_the_limit_is_skipped_and_logged(self, manager_client, settings, caplog):
        settings.DATABASE_REPLICA_MAX_LAG_SECONDS = 1
        with _replay_paused():
            LeadFactory(name="遅延 花子")
            deadline = time.monotonic() + 15
            while replica.replica_lag_seconds() <= 1 and time.monotonic() < deadline:
                time.sleep(0.1)
            replica.forget_replica_health()
            with (
                caplog.at_level(logging.WARNING, logger="salesmarketing.replica"),
                CaptureQueriesContext(connections[replica.REPLICA]) as on_replica,
            ):
                response = manager_client.get(reverse("leads:list"))

        assert response.status_code == 200
        assert "遅延 花子" in response.text
        assert not _sql_on(on_replica, "leads_lead")
        assert any("behind" in record.getMessage() for record in caplog.records)

    def test_a_replica_that_is_down_is_skipped_and_logged(self, manager_client, caplog):
        LeadFactory(name="停止 次郎")
        alias = connections[replica.REPLICA]
        port = alias.settings_dict["PORT"]
        alias.close()
        alias.settings_dict["PORT"] = _closed_port()
        try:
            with caplog.at_level(logging.WARNING, logger="salesmarketing.replica"):
                dashboard = manager_client.get(reverse("dashboard"))
                leads = manager_client.get(reverse("leads:list"))
        finally:
            alias.close()
            alias.settings_dict["PORT"] = port

        assert dashboard.status_code == 200
        assert leads.status_code == 200
        assert "停止 次郎" in leads.text
        assert any("unavailable" in record.getMessage() for record in caplog.records)


# --- without a replica: one database, as before -----------------------------------------------------------


@pytest.mark.django_db
def test_without_a_replica_every_read_goes_to_the_primary(manager, settings):
    settings.DATABASE_REPLICA_READS = False  # what a configuration without DATABASE_REPLICA_URL amounts to
    with replica.request_scope(method="GET"), replica.reads_from_replica():
        assert replica.read_alias() == DEFAULT_DB_ALIAS
    lead = LeadFactory(name="一台 三郎")
    filters = LeadFilterForm({"q": "一台 三郎"}).filters()
    assert list(lead_filtered(viewer=manager, filters=filters)) == [lead]


@pytest.mark.replica
def test_outside_a_request_nothing_reads_from_the_replica():
    with replica.reads_from_replica():
        assert replica.read_alias() == DEFAULT_DB_ALIAS


@pytest.mark.replica
@pytest.mark.django_db
def test_a_page_selector_never_reads_from_the_replica_inside_a_transaction(manager):
    # Every non-transactional test runs inside one: the rows it wrote exist only on the primary.
    with replica.request_scope(method="GET"), replica.reads_from_replica():
        assert replica.read_alias() == DEFAULT_DB_ALIAS
