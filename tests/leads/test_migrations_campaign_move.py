"""Campaign and Persona moved from the campaigns app into leads in migration state only (leads 0015, pipeline 0005,
campaigns 0003). From the state before the move, with data, migrating forward keeps every row and relation, and
the two content types move (same rows, same ids) so permissions and admin log entries keep pointing at them.

Migrates back and forth with the executor itself: only the three state-only migrations (and whatever depends on
them) are unapplied and applied again, not the whole schema, and the database is left at the latest migrations
whatever happens (a `finally`). Transactional, as migrations cannot run inside a test's transaction."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone

from campaigns.models import CampaignCost, PersonaRule
from leads.models import Campaign, Handoff, Lead, Persona, Touch
from pipeline.models import Deal

BEFORE_THE_MOVE = [
    ("leads", "0014_touch_type_list_import"),
    ("campaigns", "0002_personarule_attribution"),
    ("pipeline", "0004_deal_from_handoff_is_marketing"),
    ("kpis", "0005_visitor_is_a_person"),
    ("salesmarketing", "0005_periodicrun"),
    ("nurture", "0001_segments"),
]
STATE_ONLY = [
    ("leads", "0015_campaign_persona_move_in"),
    ("pipeline", "0005_deal_campaign_in_leads"),
    ("campaigns", "0003_campaign_persona_moved_to_leads"),
]


def _migrate(targets):
    """Migrate to `targets` and return the models of that state."""
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state(targets).apps


def _migrate_to_latest() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def _seed_before_the_move(apps) -> dict[str, int]:
    """A campaign and a persona under the campaigns app, and a lead, touch, handoff, deal, cost and rule pointing
    at them, made with the models of the old state."""
    persona = apps.get_model("campaigns", "Persona").objects.create(name="情シス部長")
    campaign = apps.get_model("campaigns", "Campaign").objects.create(
        name="勤怠ウェビナー", channel="webinar", utm_campaign="kintai-webinar", budget=500_000
    )
    campaign.personas.add(persona)
    lead = apps.get_model("leads", "Lead").objects.create(
        email="move@example.jp", first_touch_campaign=campaign, persona=persona
    )
    now = timezone.now()
    touch = apps.get_model("leads", "Touch").objects.create(
        lead=lead,
        type="page_view",
        occurred_at=now,
        campaign=campaign,
        utm_campaign="kintai-webinar",
        source="test",
        idempotency_key="move-1",
    )
    handoff = apps.get_model("leads", "Handoff").objects.create(
        lead=lead, campaign=campaign, state="accepted", mql_at=now
    )
    user = apps.get_model("salesmarketing", "User").objects.create(username="mover")
    pipeline = apps.get_model("pipeline", "Pipeline").objects.create(name="移行確認")
    stage = apps.get_model("pipeline", "Stage").objects.create(
        pipeline=pipeline, name_ja="初回", name_en="First", order=1, probability=10
    )
    deal = apps.get_model("pipeline", "Deal").objects.create(
        name="勤怠 導入",
        owner=user,
        stage=stage,
        amount=1_000_000,
        probability=10,
        expected_close_date=dt.date(2030, 3, 31),
        source="marketing",
        handoff=handoff,
        contact=lead,
        first_touch_campaign=campaign,
    )
    cost = apps.get_model("campaigns", "CampaignCost").objects.create(
        campaign=campaign, date=dt.date(2026, 4, 1), amount=120_000
    )
    rule = apps.get_model("campaigns", "PersonaRule").objects.create(persona=persona, title_contains="部長")
    return {
        "persona": persona.pk,
        "campaign": campaign.pk,
        "lead": lead.pk,
        "touch": touch.pk,
        "handoff": handoff.pk,
        "deal": deal.pk,
        "cost": cost.pk,
        "rule": rule.pk,
    }


def _content_types_before_the_move(apps) -> dict[str, int]:
    """The content types as the old code left them (under `campaigns`), with a permission and an admin log entry
    pointing at the campaign's."""
    content_type = apps.get_model("contenttypes", "ContentType")
    ids = {
        model: content_type.objects.get(app_label="campaigns", model=model).pk
        for model in ("campaign", "persona")
    }
    assert not content_type.objects.filter(app_label="leads", model__in=["campaign", "persona"]).exists()
    return ids


@pytest.mark.django_db(transaction=True)
def test_the_move_keeps_rows_relations_and_content_types():
    try:
        old_apps = _migrate(BEFORE_THE_MOVE)
        ids = _seed_before_the_move(old_apps)
        content_types = _content_types_before_the_move(old_apps)
        permission = Permission.objects.get(
            content_type_id=content_types["campaign"], codename="change_campaign"
        )
        entry = LogEntry.objects.create(
            user_id=old_apps.get_model("salesmarketing", "User").objects.get(username="mover").pk,
            content_type_id=content_types["campaign"],
            object_id=str(ids["campaign"]),
            object_repr="勤怠ウェビナー",
            action_flag=ADDITION,
        )
    finally:
        _migrate_to_latest()
    ContentType.objects.clear_cache()

    campaign = Campaign.objects.get(pk=ids["campaign"])
    persona = Persona.objects.get(pk=ids["persona"])
    assert (campaign.name, campaign.utm_campaign, campaign.budget) == (
        "勤怠ウェビナー",
        "kintai-webinar",
        500_000,
    )
    assert list(campaign.personas.all()) == [persona]
    lead = Lead.objects.get(pk=ids["lead"])
    assert (lead.first_touch_campaign, lead.persona) == (campaign, persona)
    assert Touch.objects.get(pk=ids["touch"]).campaign == campaign
    assert Handoff.objects.get(pk=ids["handoff"]).campaign == campaign
    deal = Deal.objects.get(pk=ids["deal"])
    assert (deal.first_touch_campaign, deal.contact, deal.handoff_id) == (campaign, lead, ids["handoff"])
    assert CampaignCost.objects.get(pk=ids["cost"]).campaign == campaign
    assert PersonaRule.objects.get(pk=ids["rule"]).persona == persona
    # the reverse relations the pages use
    assert list(campaign.first_touch_leads.all()) == [lead] and list(persona.leads.all()) == [lead]
    assert list(campaign.deals.all()) == [deal] and list(persona.rules.values_list("pk", flat=True)) == [
        ids["rule"]
    ]

    # The same content type rows, now under leads: permissions and log entries follow them.
    assert ContentType.objects.get_for_model(Campaign).pk == content_types["campaign"]
    assert ContentType.objects.get_for_model(Persona).pk == content_types["persona"]
    assert not ContentType.objects.filter(app_label="campaigns", model__in=["campaign", "persona"]).exists()
    permission.refresh_from_db()
    assert f"{permission.content_type.app_label}.{permission.codename}" == "leads.change_campaign"
    entry.refresh_from_db()
    assert entry.get_edited_object() == campaign


@pytest.mark.django_db(transaction=True)  # SQLite's schema editor refuses to open inside a transaction
def test_the_move_runs_no_sql():
    """The three migrations change state only: their SQL, forwards and backwards, is empty (sqlmigrate's view;
    the content types move in Python, which it cannot show)."""
    loader = MigrationLoader(connection)
    for app_label, name in STATE_ONLY:
        migration = loader.get_migration(app_label, name)
        for backwards in (False, True):
            statements = loader.collect_sql([(migration, backwards)])
            sql = [s for s in statements if not s.startswith("--") and s not in ("BEGIN;", "COMMIT;")]
            assert sql == [], (app_label, name, backwards)
