"""Marketing messages written to MIME directly, the way Django would write them, at a fraction of the cost.

Django's `EmailMessage.message()` builds a tree of `email.mime` objects and Python's generator then re-folds and
re-encodes every header of it: at a broadcast's volume that cost more than the SMTP transaction itself (about
half of the 4.5 ms a message took). `PreparedEmail` is an `EmailMultiAlternatives` whose `message()` writes the
shape every nurture message has — a UTF-8 text part, optionally one HTML alternative, no attachments, no Cc or
Reply-To, every line within SMTP's 998 bytes — straight to text, with the headers Django writes (non-ASCII
values RFC 2047-encoded, address headers sanitised, long lines folded, Date and Message-ID added) and
the same 8bit transfer encoding. Anything else falls back to Django, which also raises its BadHeaderError for a
value with a line break. Providers' backends (anymail) read the message's fields, not its MIME form, so they
are unaffected. tests/nurture/test_mime.py parses both forms and compares them.
"""

from __future__ import annotations

import base64
import functools
import random
import re
import sys
from email.message import Message
from email.utils import formatdate, getaddresses, make_msgid

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.message import (
    ADDRESS_HEADERS,
    DNS_NAME,
    RFC5322_EMAIL_LINE_LENGTH_LIMIT,
    sanitize_address,
)

FOLD_AT = 78  # the generator's (compat32) line length
_LINE_BREAKS = re.compile(r"\r\n?")


class WrittenMessage(Message):
    """A message already in its MIME form: its headers read as usual (`message["Subject"]`), `as_bytes()` and
    `as_string()` give the written form. It has no payload objects to walk: parse `as_bytes()` for those."""

    def __init__(self, headers: list[tuple[str, str]], text: str) -> None:
        super().__init__()
        for name, value in headers:
            self[name] = value
        self._text = text  # lines end in "\n"

    def as_string(
        self, unixfrom: bool = False, maxheaderlen: int = 0, policy=None, linesep: str = "\n"
    ) -> str:  # type: ignore[override]
        return self._text if linesep == "\n" else self._text.replace("\n", linesep)

    def as_bytes(self, unixfrom: bool = False, policy=None, linesep: str = "\n") -> bytes:  # type: ignore[override]
        return self.as_string(linesep=linesep).encode()

    def __str__(self) -> str:
        return self.as_string()

    def __bytes__(self) -> bytes:
        return self.as_bytes()


class PreparedEmail(EmailMultiAlternatives):
    """An `EmailMultiAlternatives` that writes its MIME form directly when it has the usual shape (see the
    module's docstring) and leaves any other shape to Django."""

    def message(self):
        return write(self) or super().message()


def write(email: EmailMultiAlternatives) -> WrittenMessage | None:
    """The message in MIME form, or None when its shape is not the one written here."""
    if (
        (email.encoding or settings.DEFAULT_CHARSET).lower() != "utf-8"
        or email.content_subtype != "plain"
        or email.attachments
        or email.cc
        or email.reply_to
        or not email.body
        or not email.to
        or len(email.alternatives) > 1
        or any(alternative.mimetype != "text/html" for alternative in email.alternatives)
        or {name.lower() for name in email.extra_headers} & {"to", "cc", "reply-to"}
    ):
        return None
    extra = {name.lower(): value for name, value in email.extra_headers.items()}
    values = [
        ("Subject", email.subject),
        ("From", extra.get("from", email.from_email)),
        ("To", ", ".join(str(address) for address in email.to)),
        ("Date", extra.get("date") or formatdate(localtime=settings.EMAIL_USE_LOCALTIME)),
        ("Message-ID", extra.get("message-id") or make_msgid(domain=DNS_NAME)),
        *(
            (name, value)
            for name, value in email.extra_headers.items()
            if name.lower() not in {"from", "date", "message-id"}
        ),
    ]
    headers = []
    for name, value in values:
        written = header_value(name, str(value))
        if written is None:
            return None
        headers.append((name, written))
    parts = [_body(email.body)] + [_body(alternative.content) for alternative in email.alternatives]
    if None in parts:
        return None
    if email.alternatives:
        boundary = _boundary(parts)
        top = [("Content-Type", f'multipart/alternative;\n boundary="{boundary}"'), ("MIME-Version", "1.0")]
        body = (
            "".join(
                f"\n--{boundary}\n{_part_headers(subtype, part)}\n{part}"
                for subtype, part in zip(("plain", "html"), parts, strict=True)
            )
            + f"\n--{boundary}--\n"
        )
    else:
        top = _part_header_values("plain", parts[0])
        body = parts[0]
    headers = top + headers
    return WrittenMessage(headers, "".join(f"{name}: {value}\n" for name, value in headers) + "\n" + body)


def header_value(name: str, value: str) -> str | None:
    """A header's value as Django writes it — non-ASCII in RFC 2047 encoded-words, lines folded at 78 characters
    (joined by "\\n ") —, or None for a value Django would refuse (a line break) or write otherwise."""
    if "\n" in value or "\r" in value:
        return None
    if name.lower() in ADDRESS_HEADERS and not value.isascii():
        value = _addresses(value)
        if not value.isascii():
            return None
    if not value.isascii():
        return _encoded_words(name, value)
    if len(name) + 2 + len(value) <= FOLD_AT:
        return value
    return _folded(name, value)


def _folded(name: str, value: str) -> str:
    """An ASCII value folded at its spaces into lines of at most 78 characters; a word longer than that gets a
    line of its own, the first one too (as the generator folds: "Name: " then the word on the next line)."""
    lines, room = [""], FOLD_AT - len(name) - 2
    for word in value.split(" "):
        joined = f"{lines[-1]} {word}" if lines[-1] else word
        if len(joined) <= room:
            lines[-1] = joined
        else:
            lines.append(word)
            room = FOLD_AT - 1
    return "\n ".join(lines)


def _encoded_words(name: str, value: str) -> str:
    """UTF-8 "B" encoded-words (RFC 2047) of whole characters, one per line, each line within 78 characters."""
    room = FOLD_AT - len(name) - 2  # the first line holds "Name: "; the others a space
    words, chunk = [], ""
    for char in value:
        if len((chunk + char).encode()) > (room - len("=?utf-8?b??=")) // 4 * 3:
            words.append(chunk)
            chunk, room = "", FOLD_AT - 1
        chunk += char
    words.append(chunk)
    return "\n ".join(f"=?utf-8?b?{base64.b64encode(word.encode()).decode()}?=" for word in words)


@functools.lru_cache(maxsize=256)
def _addresses(value: str) -> str:
    """Non-ASCII address headers, as Django writes them (a sender's name is the same on every message)."""
    return ", ".join(sanitize_address(address, "utf-8") for address in getaddresses((value,)))


def _body(text: str) -> str | None:
    """A part's text with its line breaks as "\\n", or None when a line is too long for 8bit (Django then uses
    quoted-printable)."""
    text = _LINE_BREAKS.sub("\n", text)
    if any(len(line) > RFC5322_EMAIL_LINE_LENGTH_LIMIT for line in text.encode().split(b"\n")):
        return None
    return text


def _part_header_values(subtype: str, text: str) -> list[tuple[str, str]]:
    return [
        ("Content-Type", f'text/{subtype}; charset="utf-8"'),
        ("MIME-Version", "1.0"),
        ("Content-Transfer-Encoding", "7bit" if text.isascii() else "8bit"),
    ]


def _part_headers(subtype: str, text: str) -> str:
    return "".join(f"{name}: {value}\n" for name, value in _part_header_values(subtype, text))


def _boundary(parts: list[str]) -> str:
    """As the generator makes one: random, and not the start of any line of the parts."""
    while True:
        boundary = f"{'=' * 15}{random.randrange(sys.maxsize):019d}=="  # noqa: S311 (not a secret)
        if not any(f"\n--{boundary}" in f"\n{part}" for part in parts):
            return boundary
