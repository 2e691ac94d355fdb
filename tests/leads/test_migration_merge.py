"""leads 0018 (duplicates and merge) on existing data: rows made before it get their match keys from the data
migration, so the duplicates queue finds pairs among them at once. Transactional, as migrations cannot run inside
a test's transaction; the database is left at the latest migrations whatever happens."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from leads.merge.selectors import duplicates_queue
from leads.models import Company, Lead

BEFORE = [("leads", "0017_records_lifecycle_consent_company_fields")]

pytestmark = pytest.mark.django_db(transaction=True)


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state(targets).apps


def _migrate_to_latest() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_rows_made_before_the_migration_get_their_match_keys():
    try:
        apps = _migrate(BEFORE)
        OldCompany, OldLead = apps.get_model("leads", "Company"), apps.get_model("leads", "Lead")
        first = OldCompany.objects.create(name="株式会社既存")
        second = OldCompany.objects.create(name="（株）既存")
        OldLead.objects.create(email="Kizon.Taro+a@kizon.example.jp", name="既存 太郎", phone="03-1111-2222")
        OldLead.objects.create(email="kizon.taro@kizon.example.jp", name="既存　太郎", company=first)
        _migrate_to_latest()

        assert set(Company.objects.values_list("name_key", flat=True)) == {"既存"}
        assert list(Lead.objects.order_by("pk").values_list("email_key", "phone_key", "work_domain")) == [
            ("kizon.taro@kizon.example.jp", "0311112222", "kizon.example.jp"),
            ("kizon.taro@kizon.example.jp", "", "kizon.example.jp"),
        ]
        assert duplicates_queue(kind="lead").paginator.count == 1
        assert (duplicates_queue(kind="company").object_list[0].low_id, second.pk) == (first.pk, second.pk)
    finally:
        _migrate_to_latest()
