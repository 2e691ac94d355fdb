"""A marketer builds a two-rule segment in a real Chromium and watches the live count change as the rules do."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.nurture.factories import segment_lead, segment_scores

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_marketer_builds_a_segment_and_sees_the_live_count_change(live_server, login, marketer):
    segment_scores(segment_lead(awareness_stage="semi", name="熱い 見込"), engagement=30)
    segment_scores(segment_lead(awareness_stage="semi", name="ぬるい 見込"), engagement=5)
    segment_lead(awareness_stage="latent", name="潜在 見込")
    page = login(marketer)
    page.goto(f"{live_server.url}/nurture/segments/new")
    page.locator("input[name=name]").fill("準顕在層で反応あり")
    count = page.locator("#live-count")

    page.locator("select[name='r-0-0-value']").select_option("semi")
    expect(count).to_contain_text(re.compile(r"\b2\b"))

    page.get_by_role("button", name="ルールを追加").click()
    page.locator("select[name='r-0-1-field']").select_option("engagement_score")
    expect(page.locator("select[name='r-0-1-op']")).to_have_value(
        "gte"
    )  # the row now offers number conditions
    page.locator("input[name='r-0-1-value']").fill("20")
    expect(count).to_contain_text(re.compile(r"\b1\b"))

    page.locator("input[name='r-0-1-value']").fill("")  # a number field left empty: the row says so
    expect(page.locator("#rule-error-0-1")).not_to_be_empty()

    page.locator("input[name='r-0-1-value']").fill("20")
    expect(page.locator("#rule-error-0-1")).to_be_empty()
    page.get_by_role("button", name="保存").click()
    expect(page.locator("h1")).to_contain_text("準顕在層で反応あり")
    expect(page.locator("table.data")).to_contain_text("熱い 見込")
    expect(page.locator("table.data")).not_to_contain_text("ぬるい 見込")
