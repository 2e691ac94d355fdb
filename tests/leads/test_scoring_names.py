"""Seeded rule, group and awareness-rule names in the viewer's language, never "日本語 / English" side by side."""

from __future__ import annotations

import importlib
import re

import pytest
from django.apps import apps
from django.utils import timezone, translation

from leads.awareness import ensure_default_rules
from leads.choices import TouchType
from leads.models import AwarenessRule, Handoff, ScoringGroup, ScoringRule, Touch
from leads.scoring.defaults import ensure_default_scoring
from leads.scoring.services import leads_score_and_qualify
from leads.services import company_resolve, lead_upsert

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded():
    ensure_default_scoring()
    ensure_default_rules()


def test_the_scoring_page_is_all_japanese_in_japanese(client, marketer, seeded):
    client.force_login(marketer)
    html = client.get("/leads/scoring/", HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    for japanese in ("比較ページ閲覧", "ウェビナー参加", "企業規模", "問い合わせ"):
        assert japanese in html
    for english in ("Comparison page viewed", "Webinar attended", "Company size", "Requests"):
        assert english not in html


def test_the_scoring_page_is_all_english_in_english(client, marketer, seeded):
    client.force_login(marketer)
    html = client.get("/leads/scoring/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    html = re.sub(
        r'<input type="hidden" name="name" value="[^"]*">', "", html
    )  # the cap form posts the stored name
    for english in ("Comparison page viewed", "Webinar attended", "Company size", "Requests", "Pricing page"):
        assert english in html
    for japanese in ("比較ページ閲覧", "企業規模", "問い合わせ", "料金ページ"):
        assert japanese not in html


def test_a_name_without_english_shows_in_every_language(db):
    rule = ScoringRule(kind="engagement", name="自社イベント", points=5)
    with translation.override("en"):
        assert rule.label == "自社イベント"


def test_the_migration_names_existing_seeded_rows_in_both_languages_and_leaves_others(db):
    ScoringGroup.objects.create(kind="fit", name="企業規模 / Company size", cap=15)
    ScoringGroup.objects.create(kind="fit", name="自社の区分", cap=5)
    ScoringRule.objects.create(kind="engagement", name="ウェビナー参加", points=20)
    AwarenessRule.objects.create(
        name="Comparison page viewed", stage="manifest", field="url", value="/compare"
    )
    AwarenessRule.objects.create(name="料金ページ閲覧", stage="manifest", field="url", value="/price")
    migration = importlib.import_module("leads.migrations.0013_names_in_english")
    migration.name_seeded_rows_in_both_languages(apps, None)
    assert set(ScoringGroup.objects.values_list("name", "name_en")) == {
        ("企業規模", "Company size"),
        ("自社の区分", ""),
    }
    assert ScoringRule.objects.get().name_en == "Webinar attended"
    assert set(AwarenessRule.objects.values_list("name", "name_en")) == {
        ("比較ページ閲覧", "Comparison page viewed"),
        ("料金ページ閲覧 (/price)", "Pricing page viewed (/price)"),
    }


def test_a_handoffs_stored_reason_names_rules_in_the_sites_language_whoever_triggered_it(seeded):
    company = company_resolve(name="山田製作所", domain="yamada.example.jp", employee_count=400)
    lead, _ = lead_upsert(email="hot@yamada.example.jp", source="api", company=company, title="部長")
    Touch.objects.create(
        lead=lead,
        type=TouchType.DEMO_REQUEST,
        occurred_at=timezone.now(),
        source="test",
        idempotency_key="d1",
    )
    with translation.override("en"):  # a request in English (or an in-process task) crossed the threshold
        new = leads_score_and_qualify([lead.pk])
    assert Handoff.objects.get(pk=new[0]).reason.startswith("デモ依頼 +40")
