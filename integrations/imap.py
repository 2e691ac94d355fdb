"""A user's own IMAP mailbox: connect it (checked first), read its new messages, disconnect it.

Polling (beat → `tasks.imap_poll` → `tasks.imap_poll_mailbox`, on the integrations queue) selects INBOX read-only
and fetches with BODY.PEEK, so nothing changes in the user's mailbox (no message is marked read). Messages are
asked for by UID: after `last_uid` of the folder's UIDVALIDITY, or, for a newly connected mailbox (or one whose
UIDVALIDITY changed), those of the last IMAP_BACKFILL_DAYS days. Each message is stored through
`salesmarketing.inbound.inbound_email_store` — the SMTP receiver's path, unique by Message-ID, so a message that
also came by BCC, or is read twice, is kept once — and `last_uid` moves on in the same transaction, so a poll
cut short resumes where it stopped. The readers (pipeline.mailbox) then log it as the SMTP receiver's mail.

The host is checked like a webhook URL (integrations.http.host_check: public addresses only unless
INTEGRATIONS_ALLOW_PRIVATE_TARGETS) and the connection goes to the checked address. The password is decrypted
only to log in; it is never logged, and errors name what failed, not the credentials."""

from __future__ import annotations

import contextlib
import datetime as dt
import imaplib
import logging
import re
import socket
import ssl
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from integrations import http as outbound
from integrations.crypto import SecretUnreadable, secret_decrypt, secret_encrypt
from integrations.models import ImapMailbox
from salesmarketing.inbound import inbound_email_store
from salesmarketing.models import User

logger = logging.getLogger(__name__)

FOLDER = "INBOX"
SOURCE = "imap"
_UIDVALIDITY = re.compile(rb"UIDVALIDITY (\d+)")
POLL_TIME_LIMIT = 960  # seconds: the poll task's hard time limit
_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()  # IMAP's dates, whatever the locale
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


class ImapError(Exception):
    """What went wrong, in words the user can act on (never the password)."""


@dataclass(frozen=True)
class Account:
    host: str
    port: int
    security: str
    username: str
    password: str


class _Imap(imaplib.IMAP4):
    """IMAP4 connected to the address that was checked (not to whatever the name resolves to a moment later)."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        self._address = address
        super().__init__(host, port, timeout=timeout)

    def _create_socket(self, timeout):
        return socket.create_connection((self._address, self.port), timeout)


class _ImapTls(imaplib.IMAP4_SSL):
    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        self._address = address
        super().__init__(host, port, ssl_context=ssl.create_default_context(), timeout=timeout)

    def _create_socket(self, timeout):
        sock = socket.create_connection((self._address, self.port), timeout)
        return self.ssl_context.wrap_socket(sock, server_hostname=self.host)


def imap_login(account: Account) -> imaplib.IMAP4:
    """A logged-in connection, or ImapError saying which step failed."""
    try:
        address = outbound.host_check(account.host, account.port)[0]
    except outbound.PrivateAddress as exc:
        raise ImapError(
            _("The server is inside a private network; only public addresses are allowed.")
        ) from exc
    except outbound.UnsafeUrl as exc:
        raise ImapError(_("The server's host name could not be resolved.")) from exc
    timeout = settings.IMAP_TIMEOUT_SECONDS
    try:
        if account.security == ImapMailbox.Security.TLS:
            client: imaplib.IMAP4 = _ImapTls(account.host, account.port, address=address, timeout=timeout)
        else:
            client = _Imap(account.host, account.port, address=address, timeout=timeout)
            if account.security == ImapMailbox.Security.STARTTLS:
                client.starttls(ssl.create_default_context())
    except ssl.SSLError as exc:
        raise ImapError(
            _("The secure connection failed (%(reason)s).") % {"reason": exc.reason or exc}
        ) from exc
    except TimeoutError as exc:
        raise ImapError(_("The server did not answer in time.")) from exc
    except (OSError, imaplib.IMAP4.error) as exc:
        raise ImapError(_("The server could not be reached on this port.")) from exc
    try:
        client.login(account.username, account.password)
    except imaplib.IMAP4.error as exc:
        _logout(client)
        raise ImapError(_("The server refused the user name or password.")) from exc
    except OSError as exc:
        raise ImapError(_("The connection broke while logging in.")) from exc
    return client


def imap_check(account: Account) -> int:
    """Log in and open INBOX: the number of messages in it, or ImapError."""
    client = imap_login(account)
    try:
        return _select_inbox(client)
    except (OSError, imaplib.IMAP4.error) as exc:
        raise ImapError(_("The connection broke while opening INBOX.")) from exc
    finally:
        _logout(client)


def _select_inbox(client: imaplib.IMAP4) -> int:
    """INBOX opened read-only (nothing in it changes): how many messages it holds, or ImapError."""
    status, data = client.select(FOLDER, readonly=True)
    if status != "OK":
        raise ImapError(_("The server has no INBOX folder for this user."))
    return int(data[0] or 0)


def _logout(client: imaplib.IMAP4) -> None:
    with contextlib.suppress(OSError, imaplib.IMAP4.error):
        client.logout()


def mailbox_connect(*, user: User, account: Account) -> ImapMailbox:
    """Check the account (ImapError when it does not work) and keep it as the user's mailbox, replacing one
    connected before; reading starts afresh (the last IMAP_BACKFILL_DAYS days)."""
    imap_check(account)
    mailbox, _created = ImapMailbox.objects.update_or_create(
        user=user,
        defaults={
            "host": account.host,
            "port": account.port,
            "security": account.security,
            "username": account.username,
            "password_encrypted": secret_encrypt(account.password),
            "uid_validity": None,
            "last_uid": 0,
            "last_error": "",
        },
    )
    return mailbox


def mailbox_disconnect(*, user: User) -> bool:
    """Forget the user's mailbox and its password (what was read stays on the timelines)."""
    deleted, _rows = ImapMailbox.objects.filter(user=user).delete()
    return bool(deleted)


def mailbox_account(mailbox: ImapMailbox) -> Account:
    try:
        password = secret_decrypt(mailbox.password_encrypted)
    except SecretUnreadable as exc:
        raise ImapError(_("The saved password can no longer be read; connect the mailbox again.")) from exc
    return Account(mailbox.host, mailbox.port, mailbox.security, mailbox.username, password)


def mailboxes_due() -> list[int]:
    """The mailboxes to poll now: every active user's one not being polled (a claim older than a poll can take
    is stale)."""
    return list(
        ImapMailbox.objects.filter(_not_polled())
        .filter(user__is_active=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _not_polled() -> Q:
    """No worker is polling it: never claimed, or claimed longer ago than a poll may run (its task's hard time
    limit), so a live worker's claim is never taken over."""
    stale = timezone.now() - dt.timedelta(seconds=POLL_TIME_LIMIT + 60)
    return Q(polling_since__isnull=True) | Q(polling_since__lt=stale)


def mailbox_poll(*, mailbox_id: int) -> int | None:
    """Read one mailbox's new messages (at most IMAP_POLL_BATCH): how many were new to the app, or None when
    another worker is polling it (or it was disconnected)."""
    claimed = ImapMailbox.objects.filter(_not_polled(), pk=mailbox_id).update(polling_since=timezone.now())
    mailbox = ImapMailbox.objects.select_related("user").filter(pk=mailbox_id).first() if claimed else None
    if mailbox is None:
        return None
    stored, error = 0, ""
    with translation.override(
        mailbox.user.language or settings.LANGUAGE_CODE
    ):  # the error, for the user's page
        try:
            stored = _read_new(mailbox)
        except ImapError as exc:
            error = str(exc)
        except (OSError, imaplib.IMAP4.error) as exc:
            error = _("The connection broke while reading messages.")
            logger.warning(
                "imap mailbox %s: %s", mailbox_id, type(exc).__name__
            )  # no address, no credentials
        finally:
            ImapMailbox.objects.filter(pk=mailbox_id).update(
                polling_since=None, last_polled_at=timezone.now(), last_error=error[:300]
            )
    return stored


def _read_new(mailbox: ImapMailbox) -> int:
    client = imap_login(mailbox_account(mailbox))
    try:
        _select_inbox(client)
        validity = _uid_validity(client)
        if validity != mailbox.uid_validity:  # new, or the server renumbered the folder: start afresh
            since = timezone.localdate() - dt.timedelta(days=settings.IMAP_BACKFILL_DAYS)
            uids = _search(client, "SINCE", f"{since.day}-{_MONTHS[since.month - 1]}-{since.year}")
            ImapMailbox.objects.filter(pk=mailbox.pk).update(uid_validity=validity, last_uid=0)
        else:
            last_uid = mailbox.last_uid
            uids = [uid for uid in _search(client, "UID", f"{last_uid + 1}:*") if uid > last_uid]
        stored = 0
        for uid in uids[: settings.IMAP_POLL_BATCH]:
            raw = _fetch(client, uid)
            with transaction.atomic():
                created = bool(raw) and inbound_email_store(raw=raw, source=SOURCE)[1]
                ImapMailbox.objects.filter(pk=mailbox.pk).update(
                    last_uid=uid, messages_stored=F("messages_stored") + int(created)
                )
            stored += created
        return stored
    finally:
        _logout(client)


def _uid_validity(client: imaplib.IMAP4) -> int | None:
    _name, values = client.response("UIDVALIDITY")  # SELECT's "OK [UIDVALIDITY n]"
    if values and values[0]:
        return int(values[0])
    status, data = client.status(FOLDER, "(UIDVALIDITY)")
    found = _UIDVALIDITY.search(data[0] or b"") if status == "OK" else None
    return int(found.group(1)) if found else None


def _search(client: imaplib.IMAP4, *criteria: str) -> list[int]:
    status, data = client.uid("SEARCH", *criteria)
    if status != "OK":
        raise ImapError(_("The server refused to list the new messages."))
    return sorted(int(uid) for uid in (data[0] or b"").split())


def _fetch(client: imaplib.IMAP4, uid: int) -> bytes:
    """The raw message, or b"" when it is gone or larger than INBOUND_EMAIL_MAX_BYTES (skipped, as the SMTP
    receiver refuses it)."""
    status, data = client.uid("FETCH", str(uid), "(RFC822.SIZE)")
    size = _SIZE.search(data[0] if status == "OK" and data and isinstance(data[0], bytes) else b"")
    if size is None or int(size.group(1)) > settings.INBOUND_EMAIL_MAX_BYTES:
        return b""
    status, data = client.uid("FETCH", str(uid), "(BODY.PEEK[])")
    if status != "OK":
        return b""
    return next((part[1] for part in data if isinstance(part, tuple) and len(part) == 2), b"")
