"""Marketing messages written to MIME directly (nurture.mail.mime) read exactly as Django's own MIME form of the same
message: every header decoded, every part's type, charset, transfer encoding and text. Shapes it does not write
fall back to Django; an address the SMTP backend would rewrite is still rewritten, and quoted in the envelope as
smtplib quotes it (salesmarketing.smtp)."""

from __future__ import annotations

import email
import email.policy
from smtplib import quoteaddr

import pytest
from django.core.mail import EmailMultiAlternatives
from django.core.mail.message import BadHeaderError, sanitize_address
from django.urls import reverse

from leads.tracking import token_path
from nurture.mail.mime import PreparedEmail, WrittenMessage
from salesmarketing.smtp import _quoted as quoted
from salesmarketing.smtp import envelope_address

LONG_SUBJECT = (
    "【ご案内】山田 太郎様 来月開催の製造業向けDXセミナー「現場から始めるデータ活用」のお知らせと資料のご送付"
)
UNSUBSCRIBE = "<https://crm.example.jp/u/eyJsIjoxfQ:1xa4T5:MEGFGuDoC4xsyYCrdE2xyCZSf6bzJorglBV-a_6pIUc>"


def both(**fields) -> tuple[email.message.EmailMessage, email.message.EmailMessage]:
    """The message as Django writes it and as PreparedEmail writes it, each parsed back."""
    html = fields.pop("html", None)
    forms = []
    for cls in (EmailMultiAlternatives, PreparedEmail):
        message = cls(**fields)
        if html is not None:
            message.attach_alternative(html, "text/html")
        raw = message.message().as_bytes(linesep="\r\n")
        forms.append(email.message_from_bytes(raw, policy=email.policy.default))
    return forms[0], forms[1]


def shape(message: email.message.EmailMessage) -> dict:
    # Stripped: Django folds a long encoded subject twice (its own Header, then the generator), and its reader
    # then sees a leading space that the written form does not have.
    headers = {
        name: str(value).strip()
        for name, value in message.items()
        if name not in ("Date", "Content-Type")  # the time, and the random boundary
    }
    parts = [
        (
            part.get_content_type(),
            part.get_content_charset(),
            part.get("Content-Transfer-Encoding"),
            part.get_content(),
        )
        for part in (message.iter_parts() if message.is_multipart() else [message])
    ]
    return {"type": message.get_content_type(), "headers": headers, "parts": parts}


BASE = {
    "subject": "読者 1様 今月のお知らせ",
    "body": "読者 1様\n今月のセミナーのご案内です。\nhttps://example.jp/seminar\n\n-- \n配信停止: https://crm.example.jp/u/x\n",
    "from_email": "ベンチ株式会社 <news@bench.example.jp>",
    "to": ["reader1@bench.example.jp"],
    "headers": {
        "Message-ID": "<broadcast-1.lead-1@bench.example.jp>",
        "List-Unsubscribe": UNSUBSCRIBE,
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    },
}


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"html": '<p>読者 1様</p><p><a href="https://example.jp/">お申し込み</a></p><img src="https://x.jp/o.gif">'},
        {"subject": LONG_SUBJECT, "html": "<p>本文</p>"},
        {"subject": "Monthly news for our readers: seminars, white papers and case studies from the field " * 2},
        {"from_email": "news@bench.example.jp", "subject": "ASCII only"},
        {"body": "一行目\r\n二行目\rthird line\n", "html": "<p>a</p>\r\n<p>b</p>"},
        {"headers": {**BASE["headers"], "From": "ベンチ株式会社 <news@bench.example.jp>"}, "from_email": "bounces@bench.example.jp"},
        {"headers": {**BASE["headers"], "X-Campaign": "秋のキャンペーン 2026"}},
        {"to": ["Reader One <reader1@bench.example.jp>", "second@bench.example.jp"]},
        {"to": ["読者 <reader1@bench.example.jp>"]},
    ],
    ids=["text", "html", "long-japanese-subject", "long-ascii-subject", "ascii-sender", "line-breaks", "return-path", "non-ascii-header", "two-recipients", "non-ascii-recipient"],
)  # fmt: skip
def test_written_message_reads_as_djangos(change):
    django_form, written_form = both(**{**BASE, **change})
    assert shape(written_form) == shape(django_form)


def test_the_written_form_is_used_and_folded():
    message = PreparedEmail(**{**BASE, "subject": LONG_SUBJECT})
    message.attach_alternative("<p>" + "本文" * 100 + "</p>", "text/html")
    written = message.message()
    assert isinstance(written, WrittenMessage)
    raw = written.as_bytes(linesep="\r\n")
    assert b"\n" not in raw.replace(b"\r\n", b"")  # every line ends in CRLF
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert all(len(line) <= 78 or b" " not in line.strip() for line in head.split(b"\r\n"))  # or one word
    assert written["Message-ID"] == "<broadcast-1.lead-1@bench.example.jp>"
    assert written["Content-Type"].startswith("multipart/alternative;")


@pytest.mark.parametrize(
    "change",
    [
        {"body": "長い行" * 400},  # over 998 bytes: quoted-printable, as Django writes it
        {"cc": ["cc@bench.example.jp"]},
        {"reply_to": ["reply@bench.example.jp"]},
        {"to": [], "bcc": ["hidden@bench.example.jp"]},
    ],
    ids=["long-line", "cc", "reply-to", "bcc-only"],
)
def test_other_shapes_are_left_to_django(change):
    message = PreparedEmail(**{**BASE, **change})
    assert not isinstance(message.message(), WrittenMessage)
    django_form, written_form = both(**{**BASE, **change})
    assert shape(written_form) == shape(django_form)


def test_attachments_are_left_to_django():
    message = PreparedEmail(**BASE)
    message.attach("資料.txt", "内容", "text/plain")
    assert not isinstance(message.message(), WrittenMessage)


def test_a_header_with_a_line_break_is_refused_as_django_refuses_it():
    with pytest.raises(BadHeaderError):
        PreparedEmail(**{**BASE, "subject": "件名\nBcc: victim@example.com"}).message()


@pytest.mark.parametrize(
    "address",
    [
        "reader1@bench.example.jp",
        "first.last+tag@sub.example.co.jp",
        "UPPER_case-1%x@example.com",
        "ベンチ株式会社 <news@bench.example.jp>",
        "Name <name@example.jp>",
        '"quoted local"@example.jp',
        "a..b@example.jp",
        "user@bücher.example",
        ("読者", "reader@example.jp"),
    ],
)
def test_envelope_addresses_are_djangos(address):
    sanitized = sanitize_address(address, "utf-8")
    assert envelope_address(address, "utf-8") == sanitized
    assert quoted(sanitized) == quoteaddr(sanitized)  # the pipelined envelope's MAIL and RCPT, as smtplib's


@pytest.mark.parametrize("name", ["capture:unsubscribe", "capture:email_open", "capture:email_click"])
def test_token_paths_are_the_routes(name):
    token = "eyJsIjoxfQ:1xa4T5:MEGFGuDoC4xsyYCrdE2xyCZSf6bzJorglBV-a_6pIUc"
    assert token_path(name, token) == reverse(name, args=[token])
