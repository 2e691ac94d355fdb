"""The default email backend: Django's SMTP backend, with the envelope's addresses read cheaply.

For every message Django's backend parses its sender and each recipient with `sanitize_address` (the email
package's full address parser, about 0.15 ms for a plain address and twice that for a sender with a Japanese
name). A broadcast sends from one address to thousands of plain ones, so here the sender is parsed once per
process and a plain `local@domain` address (dot-atoms of ASCII letters, digits and `_%+-`, which
`sanitize_address` returns unchanged) is used as it is; anything else still goes through `sanitize_address`.

When the server offers PIPELINING (RFC 2920: Postfix, Exim, the providers' SMTP endpoints), a message's envelope
goes in one write — MAIL, RCPT and DATA together — and its content in a second, so a message costs two round
trips instead of three plus one per recipient (`sendmail_pipelined`). Its answers and errors are smtplib's.
"""

from __future__ import annotations

import contextlib
import functools
import re
import smtplib
from smtplib import SMTP, SMTPDataError, SMTPRecipientsRefused, SMTPSenderRefused, quoteaddr

from django.conf import settings
from django.core.mail.backends import smtp
from django.core.mail.message import sanitize_address

_LINE_START_DOT = re.compile(rb"(?m)^\.")
_PLAIN = re.compile(r"[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+\Z")


def envelope_address(address: str, encoding: str) -> str:
    """`sanitize_address(address, encoding)`, without parsing a plain address."""
    if isinstance(address, str) and _PLAIN.match(address):
        return address
    return _sanitized(address, encoding)


@functools.lru_cache(maxsize=256)
def _sanitized(address, encoding: str) -> str:
    return sanitize_address(address, encoding)


class EmailBackend(smtp.EmailBackend):
    def _send(self, email_message) -> bool:
        # Django's `_send`, with `envelope_address` for `sanitize_address`.
        if not email_message.recipients():
            return False
        encoding = email_message.encoding or settings.DEFAULT_CHARSET
        from_email = envelope_address(email_message.from_email, encoding)
        recipients = [envelope_address(address, encoding) for address in email_message.recipients()]
        message = email_message.message()
        try:
            sendmail_pipelined(self.connection, from_email, recipients, message.as_bytes(linesep="\r\n"))
        except smtplib.SMTPException:
            if not self.fail_silently:
                raise
            return False
        return True


def sendmail_pipelined(connection: SMTP, from_addr: str, to_addrs: list[str], msg: bytes) -> dict:
    """`connection.sendmail(from_addr, to_addrs, msg)` with the envelope pipelined when the server offers it: the
    same commands, answers, return value (the refused recipients) and exceptions, and the connection left as
    smtplib leaves it (reset after a refusal, closed after a 421)."""
    connection.ehlo_or_helo_if_needed()
    options = f" size={len(msg)}" if connection.has_extn("size") else ""
    commands = [f"mail FROM:{_quoted(from_addr)}{options}", *(f"rcpt TO:{_quoted(to)}" for to in to_addrs)]
    if not connection.has_extn("pipelining") or not all(command.isascii() for command in commands):
        return connection.sendmail(from_addr, to_addrs, msg)
    connection.send("".join(f"{command}\r\n" for command in [*commands, "data"]))
    replies = []
    for _command in range(len(commands) + 1):
        replies.append(connection.getreply())
        if replies[-1][0] == 421:  # the server is closing the connection: no more answers come
            connection.close()
            break
    mail, rcpts, data = replies[0], replies[1 : len(commands)], replies[len(commands) :]
    refused = {to: reply for to, reply in zip(to_addrs, rcpts, strict=False) if reply[0] not in (250, 251)}
    if data and data[0][0] == 354:
        if mail[0] == 250 and len(refused) < len(to_addrs):
            content = _LINE_START_DOT.sub(b"..", msg)
            connection.send(content + (b".\r\n" if content.endswith(b"\r\n") else b"\r\n.\r\n"))
            data = [connection.getreply()]
        else:  # DATA taken though MAIL or every RCPT failed: end it with no content (RFC 2920, 3.1)
            connection.send(b".\r\n")
            connection.getreply()
    if mail[0] != 250:
        _reset(connection)
        raise SMTPSenderRefused(mail[0], mail[1], from_addr)
    if not data or len(refused) == len(to_addrs):
        _reset(connection)
        raise SMTPRecipientsRefused(refused)
    if data[0][0] != 250:
        _reset(connection)
        raise SMTPDataError(*data[0])
    return refused


def _quoted(address: str) -> str:
    """`smtplib.quoteaddr(address)`, without parsing a plain address."""
    return f"<{address}>" if _PLAIN.match(address) else quoteaddr(address)


def _reset(connection: SMTP) -> None:
    """After a refusal, as smtplib: RSET, unless the server has closed the connection."""
    if connection.sock is not None:
        with contextlib.suppress(smtplib.SMTPServerDisconnected):
            connection.rset()
