"""A user's IMAP mailbox, read from a real Dovecot started by the test (tests/integrations/imap_server.py): the
poll logs mail to and from leads as the SMTP receiver does, reads each message once, changes nothing in the
mailbox; the settings page tests, connects and disconnects; the password is stored encrypted and never shown or
logged."""

from __future__ import annotations

import datetime as dt
import logging
from email.message import EmailMessage
from email.utils import format_datetime

import pytest
from celery.beat import ScheduleEntry
from celery.schedules import schedule
from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation

from integrations import imap, tasks
from integrations.crypto import SecretUnreadable, secret_decrypt, secret_encrypt
from integrations.models import ImapMailbox
from pipeline.models import Activity
from salesmarketing import inbound
from salesmarketing.beat import ClaimingScheduler
from salesmarketing.celery import app as celery_app
from salesmarketing.models import InboundEmail, PeriodicRun
from tests.conftest import require_or_skip
from tests.integrations.imap_server import PASSWORD, USER, dovecot_binary, start_dovecot, stop_dovecot
from tests.leads.factories import make_lead
from tests.nurture.mail_fixtures import free_port
from tests.pipeline.factories import make_deal

pytestmark = pytest.mark.django_db
LEAD = "yamada@customer.example.jp"


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):  # the errors' wording, checked below
        yield


@pytest.fixture
def imap_server(allow_loopback):
    require_or_skip(
        bool(dovecot_binary()),
        "Dovecot is missing (Debian's dovecot-imapd; scripts/test installs it when run as root): no IMAP server",
    )
    server = start_dovecot()
    yield server
    stop_dovecot(server)


def _account(server, *, password: str = PASSWORD, port: int | None = None) -> imap.Account:
    return imap.Account(server.host, port or server.port, "none", USER, password)


def _mail(*, sender: str, to: str, subject: str, message_id: str, cc: str = "", **headers) -> bytes:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = sender, to, subject
    if cc:
        mail["Cc"] = cc
    mail["Date"] = format_datetime(timezone.now())
    mail["Message-ID"] = f"<{message_id}@mail.example.net>"
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    mail.set_content("お世話になっております。")
    return mail.as_bytes()


def _poll(django_capture_on_commit_callbacks) -> None:
    """Beat's task, as beat sends it: one poll per mailbox, then each stored message is read after commit."""
    with django_capture_on_commit_callbacks(execute=True):
        tasks.imap_poll()


def test_new_mail_is_logged_as_the_smtp_receiver_logs_it_once_and_nothing_is_marked_read(
    imap_server, owner, django_capture_on_commit_callbacks, caplog
):
    caplog.set_level(logging.DEBUG)
    lead = make_lead(LEAD, owner=owner)
    deal = make_deal(owner=owner, contact=lead)
    mailbox = imap.mailbox_connect(user=owner, account=_account(imap_server))
    reply = _mail(sender=f"山田 <{LEAD}>", to=owner.email, subject="Re: ご提案の件", message_id="reply-1")
    sent = _mail(sender=owner.email, to=LEAD, cc=owner.email, subject="お見積りの件", message_id="sent-1")
    for raw in (
        reply,
        sent,
        _mail(sender="news@vendor.example.com", to=owner.email, subject="Newsletter", message_id="news-1"),
        _mail(
            sender=LEAD, to=owner.email, subject="不在", message_id="auto-1", Auto_Submitted="auto-replied"
        ),
    ):
        imap_server.append(raw)
    # The rep's own e-mail also reached the BCC address (the SMTP receiver) before the poll: one row, one activity.
    with django_capture_on_commit_callbacks(execute=True):
        inbound.inbound_email_store(raw=sent, source="smtp")

    _poll(django_capture_on_commit_callbacks)

    logged = {a.subject: a for a in Activity.objects.filter(lead=lead)}
    assert set(logged) == {"Re: ご提案の件", "お見積りの件"}
    assert (logged["Re: ご提案の件"].email_direction, logged["Re: ご提案の件"].created_by) == ("in", owner)
    assert (logged["お見積りの件"].email_direction, logged["お見積りの件"].deal) == ("out", deal)
    assert InboundEmail.objects.filter(source="imap").count() == 3  # reply, newsletter, auto-reply
    mailbox.refresh_from_db()
    assert (mailbox.last_uid, mailbox.messages_stored, mailbox.last_error) == (4, 3, "")
    assert mailbox.last_polled_at is not None and mailbox.polling_since is None

    _poll(django_capture_on_commit_callbacks)  # nothing new: nothing doubled
    assert Activity.objects.count() == 2 and InboundEmail.objects.count() == 4

    imap_server.append(reply)  # the same message delivered again (same Message-ID) …
    imap_server.append(_mail(sender=LEAD, to=owner.email, subject="Re: Re: ご提案の件", message_id="reply-2"))
    _poll(django_capture_on_commit_callbacks)

    assert sorted(Activity.objects.values_list("subject", flat=True)) == [
        "Re: Re: ご提案の件",
        "Re: ご提案の件",
        "お見積りの件",
    ]  # … is not logged twice
    mailbox.refresh_from_db()
    assert (mailbox.last_uid, mailbox.messages_stored) == (6, 4)
    # Read with PEEK, from a read-only INBOX: nothing is marked read.
    assert all(b"\\Seen" not in line for line in imap_server.flags())

    # The server renumbered the folder (a new UIDVALIDITY): the last days are read again, and nothing doubles.
    ImapMailbox.objects.filter(pk=mailbox.pk).update(uid_validity=1)
    _poll(django_capture_on_commit_callbacks)
    mailbox.refresh_from_db()
    assert (mailbox.last_uid, mailbox.messages_stored, Activity.objects.count()) == (6, 4, 3)
    assert PASSWORD not in caplog.text


def test_beat_sends_the_poll_once_per_slot_to_the_integrations_queue(
    imap_server, owner, tmp_path, time_machine, django_capture_on_commit_callbacks
):
    conf = settings.CELERY_BEAT_SCHEDULE["integrations-imap-poll"]
    for task in (conf["task"], "integrations.tasks.imap_poll_mailbox"):
        assert settings.CELERY_TASK_ROUTES[task] == {"queue": "integrations"}
    imap.mailbox_connect(user=owner, account=_account(imap_server))
    imap_server.append(_mail(sender=LEAD, to=owner.email, subject="Re: ご提案の件", message_id="beat-1"))
    entry = ScheduleEntry(
        name="integrations-imap-poll",
        task=conf["task"],
        schedule=schedule(dt.timedelta(seconds=conf["schedule"]), app=celery_app),
        app=celery_app,
    )
    time_machine.move_to(timezone.now(), tick=False)  # both beats in the same slot
    beats = [ClaimingScheduler(app=celery_app, schedule_filename=str(tmp_path / name)) for name in ("a", "b")]
    try:
        with django_capture_on_commit_callbacks(execute=True):
            for beat in beats:  # a second beat, started by mistake, sends nothing
                beat.apply_entry(entry)
    finally:
        for beat in beats:
            beat.close()

    assert PeriodicRun.objects.filter(name="integrations-imap-poll").count() == 1
    assert InboundEmail.objects.filter(source="imap").count() == 1
    assert ImapMailbox.objects.get().last_uid == 1


def test_a_mailbox_being_polled_is_not_polled_twice(owner):
    mailbox = ImapMailbox.objects.create(
        user=owner, host="imap.example.jp", username="rep", password_encrypted=secret_encrypt("x")
    )
    ImapMailbox.objects.filter(pk=mailbox.pk).update(polling_since=timezone.now())

    assert imap.mailboxes_due() == []
    assert imap.mailbox_poll(mailbox_id=mailbox.pk) is None


def test_connection_errors_say_what_failed(imap_server, settings):
    with pytest.raises(imap.ImapError, match="refused the user name or password"):
        imap.imap_check(_account(imap_server, password="wrong"))
    with pytest.raises(imap.ImapError, match="could not be reached"):
        imap.imap_check(_account(imap_server, port=free_port()))  # nothing listens there
    settings.INTEGRATIONS_ALLOW_PRIVATE_TARGETS = False
    with pytest.raises(imap.ImapError, match="inside a private network"):
        imap.imap_check(_account(imap_server))


def test_a_failing_poll_keeps_the_error_for_the_page(imap_server, owner, django_capture_on_commit_callbacks):
    mailbox = imap.mailbox_connect(user=owner, account=_account(imap_server))
    ImapMailbox.objects.filter(pk=mailbox.pk).update(password_encrypted=secret_encrypt("changed-since"))

    _poll(django_capture_on_commit_callbacks)

    mailbox.refresh_from_db()
    assert (
        mailbox.last_error == "サーバーがユーザー名またはパスワードを受け付けませんでした。"
    )  # in the user's language
    assert mailbox.polling_since is None  # the claim is given back


def test_the_page_tests_connects_and_disconnects_without_ever_showing_the_password(
    imap_server, owner, teammate, client, caplog, django_assert_max_num_queries
):
    caplog.set_level(logging.DEBUG)
    client.force_login(owner)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    url = reverse("integrations:mailbox")
    fields = {"host": imap_server.host, "port": imap_server.port, "security": "none", "username": USER}

    wrong = client.post(url, {**fields, "password": "wrong", "action": "test"})
    assert "The server refused the user name or password." in wrong.content.decode()
    checked = client.post(url, {**fields, "password": PASSWORD, "action": "test"})
    assert "The connection works: INBOX holds 0 messages." in checked.content.decode()
    assert not ImapMailbox.objects.exists()  # a test saves nothing

    connected = client.post(url, {**fields, "password": PASSWORD, "action": "connect"})
    assert connected.status_code == 302
    mailbox = ImapMailbox.objects.get(user=owner)
    assert (
        PASSWORD not in mailbox.password_encrypted and secret_decrypt(mailbox.password_encrypted) == PASSWORD
    )
    with django_assert_max_num_queries(8):
        page = client.get(url).content.decode()
    assert f"{USER} @ {imap_server.host}" in page and PASSWORD not in page
    # Saving again without a password keeps the saved one (and checks it).
    assert client.post(url, {**fields, "password": "", "action": "connect"}).status_code == 302

    client.force_login(teammate)
    assert USER not in client.get(url).content.decode()  # each user sees only their own
    client.post(reverse("integrations:mailbox_disconnect"))
    assert ImapMailbox.objects.filter(user=owner).exists()

    client.force_login(owner)
    client.post(reverse("integrations:mailbox_disconnect"))
    assert not ImapMailbox.objects.exists()
    assert PASSWORD not in caplog.text


def test_the_page_needs_a_login_and_its_posts_need_csrf(client, owner):
    url = reverse("integrations:mailbox")
    assert client.get(url).status_code == 302
    client.force_login(owner)
    client.handler.enforce_csrf_checks = True
    assert client.post(reverse("integrations:mailbox_disconnect")).status_code == 403


def test_the_password_is_encrypted_with_the_apps_key(settings):
    token = secret_encrypt(PASSWORD)
    assert PASSWORD not in token and secret_decrypt(token) == PASSWORD
    old_key, settings.SECRET_KEY = settings.SECRET_KEY, "another-key-" + "x" * 50
    with pytest.raises(SecretUnreadable):
        secret_decrypt(token)
    settings.SECRET_KEY_FALLBACKS = [old_key]  # a rotated key still reads what it encrypted
    assert secret_decrypt(token) == PASSWORD
