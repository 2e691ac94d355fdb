"""Reminders before due, at overdue and at a snooze's end go out once per item and due moment, in the app and by
e-mail as the user chose; snooze and done from the reminder (HTMX posts), for the item's user only."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from kpis.models import ActionItem
from pipeline.models import Deal, Task
from reminders.models import ReminderSent, Snooze
from reminders.services import reminders_send
from salesmarketing.models import Notification
from salesmarketing.services import notification_preferences_set
from tests.reminders.conftest import at_tokyo, make_items

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 12, 10)  # a Thursday


def _kinds(user) -> list[str]:
    return sorted(Notification.objects.filter(recipient=user).values_list("kind", flat=True))


def test_each_item_is_reminded_once_before_due_and_once_when_overdue(
    owner, teammate, stages, mailoutbox, django_capture_on_commit_callbacks
):
    make_items(owner, due=DAY)
    make_items(teammate, due=DAY + dt.timedelta(days=7))  # not due yet
    assert reminders_send(now=at_tokyo(DAY, 8, 59)) == 0  # before 9:00 (18:00 − 9 h): too early
    with django_capture_on_commit_callbacks(execute=True):
        assert reminders_send(now=at_tokyo(DAY, 9, 30)) == 3
        assert reminders_send(now=at_tokyo(DAY, 9, 31)) == 0  # the task runs again: nothing more
    assert _kinds(owner) == ["task_due_soon"] * 3
    assert len(mailoutbox) == 3 and {m.to[0] for m in mailoutbox} == {owner.email}
    assert reminders_send(now=at_tokyo(DAY, 17, 59)) == 0
    assert reminders_send(now=at_tokyo(DAY, 18, 0)) == 3
    assert reminders_send(now=at_tokyo(DAY, 18, 1)) == 0
    assert _kinds(owner) == ["task_due_soon"] * 3 + ["task_overdue"] * 3
    assert _kinds(teammate) == []
    assert ReminderSent.objects.count() == 6


def test_missed_moments_are_caught_up_with_one_reminder(owner, stages):
    make_items(owner, due=DAY)
    assert reminders_send(now=at_tokyo(DAY + dt.timedelta(days=1), 10)) == 3  # beat was down all day
    assert _kinds(owner) == ["task_overdue"] * 3
    assert ReminderSent.objects.count() == 6  # both moments claimed: neither comes later
    assert reminders_send(now=at_tokyo(DAY + dt.timedelta(days=1), 11)) == 0


def test_a_run_after_the_reminders_went_out_costs_the_same_queries_for_few_and_many_items(
    owner, stages, django_assert_num_queries
):
    """Beat runs it every minute on the realtime queue: once an item's moments are claimed, later runs read the
    claims in one query instead of trying each again (a failed INSERT per item and minute at a big company)."""
    for n in (1, 5):
        make_items(owner, due=DAY, n=n)
        assert reminders_send(now=at_tokyo(DAY, 9, 30)) == 3 * n  # the new items only
        with django_assert_num_queries(5):  # the snoozes and the three kinds of items, the claims
            assert reminders_send(now=at_tokyo(DAY, 9, 31)) == 0


def test_done_items_are_not_reminded(owner_client, owner, stages):
    task, deal, action = make_items(owner, due=DAY)
    for kind, pk in (("task", task.pk), ("next_step", deal.pk), ("action", action.pk)):
        assert owner_client.post(f"/tasks/{kind}/{pk}/done", HTTP_HX_REQUEST="true").status_code == 200
    assert reminders_send(now=at_tokyo(DAY, 18, 30)) == 0


def test_preferences_apply_to_reminders(owner, stages, mailoutbox, django_capture_on_commit_callbacks):
    notification_preferences_set(user=owner, choices={"task_due_soon": (False, False)})
    make_items(owner, due=DAY)
    with django_capture_on_commit_callbacks(execute=True):
        assert reminders_send(now=at_tokyo(DAY, 10)) == 3  # claimed and "sent": to no channel
    assert _kinds(owner) == [] and mailoutbox == []


def test_snoozing_puts_the_reminder_off_and_resets_it(owner_client, owner, stages):
    task, _deal, _action = make_items(owner, due=timezone.localdate() - dt.timedelta(days=1))
    reminders_send()  # overdue, all three
    response = owner_client.post(
        f"/tasks/task/{task.pk}/snooze", {"until": "tomorrow"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert f'id="item-task-{task.pk}"' in html and "<html" not in html and "is-snoozed" in html
    until = Snooze.objects.get(kind="task", object_id=task.pk).until
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    assert timezone.localtime(until).timetuple()[:5] == (tomorrow.year, tomorrow.month, tomorrow.day, 9, 0)
    assert reminders_send(now=until - dt.timedelta(minutes=1)) == 0
    assert reminders_send(now=until) == 1
    assert reminders_send(now=until + dt.timedelta(minutes=1)) == 0
    assert _kinds(owner).count("task_snooze_over") == 1
    # Snoozed again (an hour): a new moment, reminded once more.
    owner_client.post(f"/tasks/task/{task.pk}/snooze", {"until": "hour"})
    until = Snooze.objects.get(kind="task", object_id=task.pk).until
    assert reminders_send(now=until) == 1
    assert reminders_send(now=until) == 0
    assert _kinds(owner).count("task_snooze_over") == 2


def test_snooze_choices(owner_client, owner, stages):
    task, deal, action = make_items(owner, due=DAY)
    owner_client.post(f"/tasks/next_step/{deal.pk}/snooze", {"until": "business_day"})
    owner_client.post(f"/tasks/action/{action.pk}/snooze", {"until": "hour"})
    until = {s.kind: s.until for s in Snooze.objects.all()}
    assert until["next_step"].astimezone(at_tokyo(DAY, 0).tzinfo).hour == 9
    assert until["next_step"].weekday() < 5
    assert owner_client.post(f"/tasks/task/{task.pk}/snooze", {"until": "never"}).status_code == 400


def test_done_from_the_reminder_for_each_kind(owner_client, owner, stages):
    task, deal, action = make_items(owner, due=DAY)
    response = owner_client.post(f"/tasks/task/{task.pk}/done", HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "is-done" in response.content.decode()
    assert Task.objects.get(pk=task.pk).done_at is not None
    owner_client.post(f"/tasks/next_step/{deal.pk}/done", HTTP_HX_REQUEST="true")
    assert Deal.objects.get(pk=deal.pk).next_step_date is None
    response = owner_client.post(f"/tasks/action/{action.pk}/done")  # without JS: back to the page
    assert response.status_code == 302 and response["Location"] == "/tasks/"
    assert ActionItem.objects.get(pk=action.pk).done_at is not None
    assert owner_client.post(f"/tasks/task/{task.pk}/done").status_code == 404  # done already: not open


def test_a_user_sees_and_acts_on_their_own_items_only(client, owner, outsider, stages):
    task, deal, action = make_items(owner, due=DAY)
    client.force_login(outsider)
    for kind, pk in (("task", task.pk), ("next_step", deal.pk), ("action", action.pk)):
        assert client.get(f"/tasks/{kind}/{pk}/").status_code == 404
        assert client.post(f"/tasks/{kind}/{pk}/done", HTTP_HX_REQUEST="true").status_code == 404
        assert client.post(f"/tasks/{kind}/{pk}/snooze", {"until": "hour"}).status_code == 404
    assert client.get(f"/tasks/nope/{task.pk}/").status_code == 404
    assert Task.objects.get(pk=task.pk).done_at is None and not Snooze.objects.exists()


def test_the_reminders_link_opens_the_item_with_its_controls(owner_client, owner, stages):
    task, _deal, _action = make_items(owner, due=DAY)
    reminders_send(now=at_tokyo(DAY, 10))
    url = Notification.objects.filter(recipient=owner, params__title=task.title).get().url
    assert url == f"/tasks/task/{task.pk}/"
    page = owner_client.get(url).content.decode()
    assert task.title in page and f"/tasks/task/{task.pk}/done" in page and 'value="business_day"' in page


def test_snooze_and_done_need_csrf(owner, stages):
    task, _deal, _action = make_items(owner, due=DAY)
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.post(f"/tasks/task/{task.pk}/done", HTTP_HX_REQUEST="true").status_code == 403
    assert client.post(f"/tasks/task/{task.pk}/snooze", {"until": "hour"}).status_code == 403
    assert Task.objects.get(pk=task.pk).done_at is None
