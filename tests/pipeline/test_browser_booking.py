"""A prospect books a meeting on a rep's public page in a real Chromium; the rep then finds it in My tasks and on
the lead's timeline."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from leads.models import Lead
from pipeline.booking.models import Booking, BookingPage

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_prospect_books_and_the_rep_finds_the_meeting_in_my_tasks_and_on_the_timeline(
    login, live_server, page, owner
):
    # Any day and hour, so a slot is free whenever this runs (My tasks lists the next two weeks' meetings).
    BookingPage.objects.create(
        user=owner, slug="tanto", day_start=dt.time(0), day_end=dt.time(23, 30), weekdays="1234567",
        notice_hours=1, days_ahead=12,
    )  # fmt: skip

    page.goto(f"{live_server.url}/book/tanto/")
    expect(page.locator("h1")).to_have_text("担当 太郎 との商談を予約")
    first = page.locator("a[data-slot]").first
    slot = first.get_attribute("data-slot")
    first.click()
    form = page.locator("#booking-form")
    expect(form).to_be_visible()
    form.get_by_label("名前").fill("見込 海斗")
    form.locator("input[name=email]").fill("kaito@prospect.example.jp")
    form.get_by_label("ご相談になりたい内容").fill("勤怠管理の導入について")
    form.get_by_label(
        "製品・イベント・キャンペーンに関するメールの受け取りに同意します。", exact=False
    ).check()
    form.get_by_role("button", name="この時間で予約する").click()

    expect(page.locator("h1")).to_have_text("商談を予約しました")
    expect(page.locator("#booking-done")).to_contain_text("担当 太郎 との商談を")
    booking = Booking.objects.get()
    assert booking.starts_at == dt.datetime.fromisoformat(slot)
    lead = Lead.objects.get(email="kaito@prospect.example.jp")

    login(owner)
    page.goto(f"{live_server.url}/tasks/")
    meeting = page.locator(f"#meeting-{booking.activity_id}")
    expect(meeting).to_contain_text("オンライン予約の商談: 見込 海斗")
    meeting.get_by_role("link").first.click()

    page.wait_for_url(f"{live_server.url}/leads/{lead.pk}/")
    timeline = page.locator("ol.timeline")
    expect(timeline.locator("li.tl-demo_request")).to_contain_text("担当 太郎 との商談を予約")
