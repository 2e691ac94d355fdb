"""The newsletter journey in a real Chromium: a marketer builds a segment, writes a template, previews it with a
real lead, schedules a broadcast and watches it finish; the messages reach a real SMTP server; a recipient opens
and clicks; the recipient's engagement score rises and the campaign page shows the numbers."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from leads.models import Lead
from leads.scoring.defaults import ensure_default_scoring
from tests.nurture.mail_fixtures import *  # noqa: F403
from tests.nurture.mail_fixtures import mail_lead

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PIXEL = re.compile(r'<img src="https://crm\.example\.jp(/t/o/[^"]+)"')
CLICK = re.compile(r'href="https://crm\.example\.jp(/t/c/[^"]+)"')


def test_a_marketer_sends_a_newsletter_and_sees_what_became_of_it(
    live_server, login, marketer, smtp_sink, mail_profile, mail_campaign
):
    ensure_default_scoring()
    reader = mail_lead("reader@sample.example.jp", name="読者 一郎")
    mail_lead("quiet@sample.example.jp", name="読者 二郎")
    mail_lead("cold@sample.example.jp", name="潜在 三郎")
    Lead.objects.filter(name__startswith="読者").update(awareness_stage="semi")
    Lead.objects.filter(name__startswith="潜在").update(awareness_stage="latent")
    page = login(marketer)

    # The segment: the 準顕在層 readers.
    page.goto(f"{live_server.url}/nurture/segments/new")
    page.locator("input[name=name]").fill("12月号の配信先")
    page.locator("select[name='r-0-0-value']").select_option("semi")
    expect(page.locator("#live-count")).to_contain_text(re.compile(r"\b2\b"))
    page.get_by_role("button", name="保存").click()
    expect(page.locator("h1")).to_contain_text("12月号の配信先")

    # The template, previewed with a real lead.
    page.goto(f"{live_server.url}/nurture/mail/templates/new/")
    page.locator("input[name=name]").fill("12月号")
    page.locator("input[name=subject_ja]").fill("{{ lead.name }}様 12月のお知らせ")
    page.locator("textarea[name=html_ja]").fill(
        '<p>{{ lead.name }}様</p><p><a href="https://example.jp/seminar">セミナーのご案内</a></p>'
    )
    page.locator("textarea[name=text_ja]").fill(
        "{{ lead.name }}様\nセミナーのご案内: https://example.jp/seminar"
    )
    page.get_by_role("button", name="保存").click()
    page.locator("#preview-lead").fill(str(reader.pk))
    page.locator("#mail-preview").get_by_role("button", name="表示").click()
    expect(page.locator("[data-preview=subject]")).to_have_text("読者 一郎様 12月のお知らせ")

    # The broadcast: saved as a draft, scheduled for now, watched until done.
    page.goto(f"{live_server.url}/nurture/mail/broadcasts/new/")
    page.locator("input[name=name]").fill("月刊ニュースレター 12月号")
    page.locator("select[name=template]").select_option(label="12月号")
    page.locator("select[name=segment]").select_option(label="12月号の配信先")
    page.locator("select[name=campaign]").select_option(label=mail_campaign.name)
    page.get_by_role("button", name="保存").click()
    page.get_by_role("button", name="配信を予約").click()
    progress = page.locator("#broadcast-progress")
    expect(progress.locator("[data-status]")).to_have_attribute("data-status", "done", timeout=20_000)
    expect(progress.locator("[data-count=sent]").first).to_have_text("2")

    received = {m["To"]: m for m in smtp_sink.parsed()}
    assert sorted(received) == ["quiet@sample.example.jp", "reader@sample.example.jp"]
    html = received["reader@sample.example.jp"].get_body(("html",)).get_content()

    # The recipient opens the message and clicks its link (their mail client fetches these addresses).
    assert page.request.get(live_server.url + PIXEL.search(html).group(1)).status == 200
    click = page.request.get(
        live_server.url + CLICK.search(html).group(1).replace("&amp;", "&"), max_redirects=0
    )
    assert click.status == 302 and click.headers["location"] == "https://example.jp/seminar"

    page.goto(f"{live_server.url}/leads/{reader.pk}/")
    engagement = page.locator("#score .score-mid").nth(1)
    expect(engagement).not_to_have_text("0")

    page.goto(f"{live_server.url}{mail_campaign.get_absolute_url()}")
    row = page.locator("#email tbody tr").first
    expect(row).to_contain_text("月刊ニュースレター 12月号")
    for name, value in {
        "sent": "2",
        "delivered": "2",
        "opened": "1",
        "clicked": "1",
        "unsubscribed": "0",
    }.items():
        expect(row.locator(f"[data-count={name}]")).to_have_text(value)
