"""A rep's morning in a real Chromium: log in, open My tasks from the navigation, mark a to-do done in place."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from pipeline.models import Task
from pipeline.services import pipeline_ensure_default
from tests.reminders.conftest import make_items

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_rep_marks_a_task_done_from_my_tasks(login, live_server, owner):
    pipeline_ensure_default()
    task, _deal, _action = make_items(owner, due=timezone.localdate() - dt.timedelta(days=1))
    page = login(owner)
    toggle = page.locator("button.navtoggle")
    if toggle.is_visible():  # a phone: the navigation is folded into a menu
        toggle.click()
    page.locator("#mainnav a", has_text="マイタスク").click()
    expect(page.locator("h1")).to_have_text("マイタスク")

    page.evaluate("window.__sameDocument = true")  # gone if the page reloads
    row = page.locator(f"#item-task-{task.pk}")
    expect(row).to_contain_text("見積書を送る 0")
    row.get_by_role("button", name="完了にする").click()
    expect(page.locator(f"#item-task-{task.pk}.is-done")).to_be_visible()
    assert page.evaluate("window.__sameDocument") is True
    assert Task.objects.get(pk=task.pk).done_at is not None

    page.reload()
    expect(page.locator(f"#item-task-{task.pk}")).to_have_count(0)
