"""The daily digest: opt-in, at the user's time, in their language, through a real SMTP server, and exactly once
per user and day (the (user, day) ledger) whether the task runs twice, crashes after its claim or fails to send."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from reminders.models import DigestSent
from reminders.services import digest_send, digest_setting_set
from reminders.tasks import queue_digests
from tests.nurture.mail_fixtures import smtp_sink  # noqa: F401  (a fixture)
from tests.reminders.conftest import make_items
from tests.salesmarketing.factories import notify

pytestmark = pytest.mark.django_db


def _opt_in(user, *, language: str = "ja") -> None:
    user.language = language
    user.save(update_fields=["language"])
    digest_setting_set(user=user, enabled=True, send_at=dt.time(0, 0))  # due whenever the test runs


def _something_to_report(user) -> None:
    make_items(user, due=timezone.localdate() - dt.timedelta(days=1))
    notify(recipient=user, title="新しいリード：東邦 課長")


def test_the_digest_goes_out_once_a_day_even_when_the_task_runs_twice(owner, teammate, stages, smtp_sink):  # noqa: F811
    _opt_in(owner)
    _something_to_report(owner)
    _something_to_report(teammate)  # not opted in
    assert queue_digests() == 1
    assert queue_digests() == 0
    assert len(smtp_sink.messages) == 1 and smtp_sink.recipients == [[owner.email]]
    mail = smtp_sink.parsed()[0]
    assert "今日のまとめ" in str(mail["Subject"])
    text = mail.get_content()
    assert "期限切れ (3)" in text and "見積書を送る 0" in text and "デモの日程調整 0" in text
    assert "未読の通知 1 件" in text and "新しいリード：東邦 課長" in text
    assert "/tasks/" in text
    row = DigestSent.objects.get(user=owner)
    assert row.day == timezone.localdate() and row.sent_at is not None
    assert digest_send(user_id=owner.pk, day=row.day) is False  # the task queued again: nothing


def test_the_digest_is_written_in_the_users_language(owner, stages, smtp_sink):  # noqa: F811
    _opt_in(owner, language="en")
    _something_to_report(owner)
    queue_digests()
    mail = smtp_sink.parsed()[0]
    assert str(mail["Subject"]).startswith("Your day in salesmarketing:")
    assert "Overdue (3)" in mail.get_content() and "1 unread notification" in mail.get_content()


def test_a_crash_after_the_claim_never_sends_twice(owner, teammate, stages, smtp_sink):  # noqa: F811
    for user in (owner, teammate):
        _opt_in(user)
        _something_to_report(user)
    DigestSent.objects.create(user=owner, day=timezone.localdate())  # claimed, then the worker died
    assert queue_digests() == 1
    assert smtp_sink.recipients == [[teammate.email]]


def test_a_failed_send_releases_the_claim_and_a_retry_sends_once(owner, stages, smtp_sink):  # noqa: F811
    _opt_in(owner)
    _something_to_report(owner)
    owner.email = "busy@example.jp"  # the SMTP server answers 451: try again later
    owner.save(update_fields=["email"])
    day = timezone.localdate()
    with pytest.raises(OSError):
        digest_send(user_id=owner.pk, day=day)
    assert not DigestSent.objects.exists() and smtp_sink.messages == []
    owner.email = "owner@example.jp"
    owner.save(update_fields=["email"])
    assert digest_send(user_id=owner.pk, day=day) is True
    assert digest_send(user_id=owner.pk, day=day) is False
    assert smtp_sink.recipients == [["owner@example.jp"]]


def test_nothing_to_report_sends_nothing_and_closes_the_day(owner, smtp_sink):  # noqa: F811
    _opt_in(owner)
    assert digest_send(user_id=owner.pk, day=timezone.localdate()) is False
    assert smtp_sink.messages == [] and DigestSent.objects.get(user=owner).sent_at is not None


def test_a_user_who_opted_out_gets_no_digest(owner, stages, smtp_sink):  # noqa: F811
    _opt_in(owner)
    digest_setting_set(user=owner, enabled=False, send_at=dt.time(0, 0))
    _something_to_report(owner)
    assert queue_digests() == 0
    assert digest_send(user_id=owner.pk, day=timezone.localdate()) is False
    assert smtp_sink.messages == []


def test_a_run_that_stopped_half_way_is_finished_by_the_next_without_sending_twice(
    owner,
    teammate,
    stages,
    smtp_sink,  # noqa: F811
):
    for user in (owner, teammate):
        _opt_in(user)
        _something_to_report(user)
    assert digest_send(user_id=owner.pk, day=timezone.localdate()) is True  # the first run got this far
    assert queue_digests() == 1  # the next run: only the one left
    assert queue_digests() == 0
    assert sorted(r[0] for r in smtp_sink.recipients) == sorted([owner.email, teammate.email])
