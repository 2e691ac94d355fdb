"""The scoring rule form shows only the fields of the rule's axis (fit or engagement)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from leads.models import ScoringRule

pytestmark = pytest.mark.django_db

FIT_ONLY = ('name="field"', 'name="operator"', 'name="number"')
ENGAGEMENT_ONLY = ('name="touch_type"', 'name="url_contains"', 'name="half_life_days"')


def test_a_new_engagement_rule_shows_no_fit_fields(client, marketer):
    client.force_login(marketer)
    html = client.get(reverse("leads:scoring_rule_new") + "?kind=engagement").content.decode()
    assert all(f in html for f in ENGAGEMENT_ONLY)
    assert not any(f in html for f in FIT_ONLY)
    assert 'type="hidden" name="kind" value="engagement"' in html


def test_a_new_fit_rule_shows_no_engagement_fields(client, marketer):
    client.force_login(marketer)
    html = client.get(reverse("leads:scoring_rule_new") + "?kind=fit").content.decode()
    assert all(f in html for f in FIT_ONLY)
    assert not any(f in html for f in ENGAGEMENT_ONLY)


def test_an_engagement_rule_still_saves_with_its_own_fields(client, marketer):
    rule = ScoringRule.objects.create(kind="engagement", name="料金ページ", points=5, url_contains="/pricing")
    client.force_login(marketer)
    url = reverse("leads:scoring_rule", args=[rule.pk])
    assert not any(f in client.get(url).content.decode() for f in FIT_ONLY)
    response = client.post(
        url,
        {"kind": "engagement", "name": "料金ページ", "points": "7", "is_active": "on", "url_contains": "/pricing",
         "half_life_days": "14"},
    )  # fmt: skip
    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.points, rule.half_life_days, rule.field) == (7, 14, "")
