"""leads 0017 (records people keep: company and consent-proof fields, the lifecycle history) on existing data:
from the state before it, with a company and leads in it, migrating forward keeps every row as it was, the new
fields empty, no history invented; and the new constraints hold from then on. Transactional, as migrations
cannot run inside a test's transaction; the database is left at the latest migrations whatever happens."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from leads.models import Company, Lead, LifecycleChange

BEFORE = [("leads", "0016_owner_change_log")]

pytestmark = pytest.mark.django_db(transaction=True)


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state(targets).apps


def _migrate_to_latest() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_existing_companies_and_leads_survive_the_records_migration():
    try:
        apps = _migrate(BEFORE)
        old_company = apps.get_model("leads", "Company").objects.create(
            name="株式会社既存", domain="kizon.example.jp", prefecture="東京都"
        )
        old_lead = apps.get_model("leads", "Lead").objects.create(
            email="kizon@kizon.example.jp", name="既存 太郎", company=old_company, lifecycle_stage="customer",
            consent_email=True,
        )  # fmt: skip
        _migrate_to_latest()

        company = Company.objects.get(pk=old_company.pk)
        lead = Lead.objects.get(pk=old_lead.pk)
        assert (company.name, company.domain, company.corporate_number, company.parent, company.customer_since) == (
            "株式会社既存", "kizon.example.jp", "", None, None,
        )  # fmt: skip
        assert (lead.lifecycle_stage, lead.consent_email, lead.consent_method, lead.consent_wording) == (
            "customer", True, "", "",
        )  # fmt: skip
        assert not LifecycleChange.objects.exists()

        Company.objects.filter(pk=company.pk).update(corporate_number="7000012050002")
        with pytest.raises(IntegrityError), transaction.atomic():  # unique when present
            Company.objects.create(name="別会社", corporate_number="7000012050002")
        with pytest.raises(IntegrityError), transaction.atomic():  # 13 digits
            Company.objects.create(name="桁違い", corporate_number="12345")
        Company.objects.create(name="番号なし1")
        Company.objects.create(name="番号なし2")  # empty numbers never clash
    finally:
        _migrate_to_latest()
        Lead.objects.all().delete()
        Company.objects.all().delete()
