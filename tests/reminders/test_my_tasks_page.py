"""The "my tasks" page: the user's items by state, handoffs waiting, stale deals; a fixed number of queries; only
the viewer's own."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from pipeline.models import Deal
from pipeline.services import activity_log
from tests.pipeline.factories import make_deal
from tests.reminders.conftest import make_items, make_waiting_handoff

pytestmark = pytest.mark.django_db

# Layout: session, and the user with their team and unread count (2). Page: to-dos and action items (each with
# its snooze), the open deals for next steps and staleness (one windowed query), handoffs waiting, the stages'
# usual times (one aggregate, cached) and meetings coming up (6).
PAGE_QUERIES = 8


def _page(client, django_assert_num_queries) -> str:
    cache.clear()  # count the usual-time aggregate too (the board's, cached for a few minutes)
    with django_assert_num_queries(PAGE_QUERIES):
        response = client.get("/tasks/")
    assert response.status_code == 200
    return response.content.decode()


def _setup(user, stages, n: int) -> None:
    today = timezone.localdate()
    make_items(user, due=today - dt.timedelta(days=2), stage=stages["Discovery"], n=n)
    make_items(user, due=today + dt.timedelta(days=3), stage=stages["Proposal"], n=n)
    for _ in range(n):
        handoff = make_waiting_handoff(user)
        activity_log(
            by=None,
            type="meeting",
            subject="オンライン商談",
            lead=handoff.lead,
            occurred_at=timezone.now() + dt.timedelta(days=2),
        )


def test_the_page_runs_the_same_queries_for_few_and_many_items(
    owner_client, owner, stages, django_assert_num_queries
):
    _setup(owner, stages, 1)
    page = _page(owner_client, django_assert_num_queries)
    assert (
        page.count('class="task-item is-overdue"') == 3 and page.count('class="task-item is-upcoming"') == 3
    )
    _setup(owner, stages, 4)
    page = _page(owner_client, django_assert_num_queries)
    assert page.count('class="task-item is-overdue"') == 15
    assert page.count('id="meeting-') == 5


def test_a_user_sees_only_their_own_tasks(owner_client, owner, outsider, stages, time_machine):
    # Within the business day: an item due today is overdue from TASKS_DUE_HOUR (18:00) on.
    time_machine.move_to(dt.datetime(2026, 12, 7, 10, tzinfo=ZoneInfo("Asia/Tokyo")))
    make_items(owner, due=timezone.localdate())
    make_items(outsider, due=timezone.localdate())
    handoff = make_waiting_handoff(outsider)
    activity_log(
        by=outsider,
        type="demo",
        subject="他課のデモ",
        lead=handoff.lead,
        occurred_at=timezone.now() + dt.timedelta(hours=3),
    )
    owner_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = owner_client.get("/tasks/").content.decode()
    assert f"商談 {owner.username} 0" in page
    assert f"商談 {outsider.username} 0" not in page
    assert page.count('class="task-item is-today"') == 3
    assert "No handoffs waiting." in page and "他課のデモ" not in page


def test_overdue_today_upcoming_handoffs_and_stale_deals(owner_client, owner, stages):
    today = timezone.localdate()
    make_items(owner, due=today - dt.timedelta(days=1))
    handoff = make_waiting_handoff(owner)
    stale = make_items(owner, due=today + dt.timedelta(days=30), stage=stages["Initial contact"])[1]
    Deal.objects.filter(pk=stale.pk).update(
        stage_changed_at=timezone.now() - dt.timedelta(days=20)
    )  # limit: 14
    owner_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ja"
    page = owner_client.get("/tasks/").content.decode()
    assert "マイタスク" in page
    assert page.count('class="task-item is-overdue"') == 3
    assert f'id="handoff-{handoff.pk}"' in page and str(handoff.lead) in page
    assert f'id="stale-{stale.pk}"' in page and "20 日" in page


def test_the_nav_links_to_my_tasks(owner_client):
    assert 'href="/tasks/"' in owner_client.get("/").content.decode()


def test_the_page_needs_login(client):
    response = client.get("/tasks/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_each_kind_snoozed_shows_as_snoozed_and_a_stale_deal_without_a_next_step_still_shows(
    owner_client, owner, stages
):
    today = timezone.localdate()
    task, deal, action = make_items(owner, due=today - dt.timedelta(days=1))
    for kind, pk in (("task", task.pk), ("next_step", deal.pk), ("action", action.pk)):
        assert owner_client.post(f"/tasks/{kind}/{pk}/snooze", {"until": "tomorrow"}).status_code == 302
    stale = make_deal(owner=owner, stage=stages["Initial contact"], name="次の一手なし")
    Deal.objects.filter(pk=stale.pk).update(stage_changed_at=timezone.now() - dt.timedelta(days=20))
    page = owner_client.get("/tasks/").content.decode()
    assert 'class="task-item is-overdue"' not in page
    assert page.count('class="task-item is-snoozed"') == 3
    assert f'id="stale-{stale.pk}"' in page
