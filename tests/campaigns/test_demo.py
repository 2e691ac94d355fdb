"""The demo: `seed_after` (run at the end of seed_demo) tells user journeys 2 and 4 and is idempotent."""

from __future__ import annotations

from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import OutputWrapper

from campaigns import demo
from campaigns.periods import period_resolve
from campaigns.selectors import campaign_detail
from leads.models import Campaign, Handoff, Persona
from salesmarketing.demo import seed_users

pytestmark = pytest.mark.django_db


def _campaign_counts() -> dict[str, int]:
    """Rows per model of the campaigns app, and of the campaigns and personas it works on (records in leads)."""
    models = [m for m in apps.get_models() if m._meta.app_label == "campaigns"] + [Campaign, Persona]
    return {m._meta.label: m.objects.count() for m in models}


def test_seed_after_tells_the_stories_and_changes_nothing_the_second_time(settings):
    settings.DEBUG = True
    call_command("seed_demo", stdout=StringIO())
    users = seed_users()
    demo.seed_after(users=users, stdout=OutputWrapper(StringIO()))
    first = _campaign_counts()
    assert first["campaigns.PersonaRule"] >= 4 and first["campaigns.AttributionCredit"] > 0

    call_command("seed_demo", stdout=StringIO())
    demo.seed_after(users=users, stdout=OutputWrapper(StringIO()))
    assert _campaign_counts() == first

    # Journey 2: the whitepaper's leads are mostly rejected as "too early".
    whitepaper = Campaign.objects.get(utm_campaign="wp-sfa-guide")
    d = campaign_detail(campaign=whitepaper, period=period_resolve("90d"), model="w")
    assert d.numbers.acceptance < 0.5
    assert d.reasons[0]["label"] == Handoff.RejectReason.TOO_EARLY.label
