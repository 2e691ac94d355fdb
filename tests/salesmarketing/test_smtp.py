"""The SMTP backend's pipelined send (salesmarketing.smtp.sendmail_pipelined) against a real SMTP server (aiosmtpd)
offering PIPELINING: for every answer a server can give — accepted, sender refused, a recipient refused for good or
for now, every recipient refused, the content refused, the server closing — the same return value, exception and
messages delivered as smtplib's own `sendmail` against the same server without PIPELINING, and the connection
usable afterwards as smtplib leaves it."""

from __future__ import annotations

import smtplib

import pytest
from aiosmtpd.controller import Controller

from salesmarketing.smtp import sendmail_pipelined
from tests.nurture.mail_fixtures import free_port

MESSAGE = (
    "From: news@example.jp\r\nTo: a@example.jp\r\nSubject: =?utf-8?b?5pyI5YiK?=\r\n\r\n"
    ".a line that starts with a dot\r\n本文\r\n"
).encode()


REFUSALS = (
    ("reject", "550 5.1.1 no such user"),
    ("busy", "451 4.3.0 try later"),
    ("closing", "421 4.3.2 closing"),
)


class Server:
    """Offers PIPELINING when asked; refuses by address: a sender containing "refuse" (550), recipients
    containing "reject" (550), "busy" (451) or "closing" (421), content containing "spam" (554)."""

    def __init__(self, pipelining: bool) -> None:
        self.pipelining = pipelining
        self.received: list[tuple[str, list[str], bytes]] = []

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]] if self.pipelining else responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if "refuse" in address:
            return "550 5.7.1 sender refused"
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        for word, answer in REFUSALS:
            if word in address:
                return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if b"spam" in envelope.original_content:
            return "554 5.7.1 content refused"
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK queued"


@pytest.fixture
def servers():
    """One server with PIPELINING and one without."""
    started = {}
    for pipelining in (True, False):
        handler = Server(pipelining)
        controller = Controller(handler, hostname="127.0.0.1", port=free_port())
        controller.start()
        started[pipelining] = (controller, handler)
    yield started
    for controller, _handler in started.values():
        controller.stop()


def outcome(send, sender: str, recipients: list[str], content: bytes):
    try:
        return ("returned", send(sender, recipients, content))
    except smtplib.SMTPException as exc:
        return (type(exc).__name__, exc.args)


CASES = {
    "accepted": ("news@example.jp", ["a@example.jp", "b@example.jp"], MESSAGE),
    "one recipient refused": ("news@example.jp", ["a@example.jp", "reject@example.jp"], MESSAGE),
    "one recipient busy": ("news@example.jp", ["busy@example.jp", "b@example.jp"], MESSAGE),
    "every recipient refused": ("news@example.jp", ["reject@example.jp", "busy@example.jp"], MESSAGE),
    "sender refused": ("refuse@example.jp", ["a@example.jp"], MESSAGE),
    "content refused": ("news@example.jp", ["a@example.jp"], MESSAGE + b"spam\r\n"),
    "content without a final line break": ("news@example.jp", ["a@example.jp"], MESSAGE + b"no break"),
}


@pytest.mark.parametrize("case", CASES)
def test_pipelined_send_answers_as_smtplib(servers, case):
    sender, recipients, content = CASES[case]
    results = {}
    for pipelining, (controller, handler) in servers.items():
        with smtplib.SMTP("127.0.0.1", controller.port) as smtp:
            send = (lambda *a, smtp=smtp: sendmail_pipelined(smtp, *a)) if pipelining else smtp.sendmail
            first = outcome(send, sender, recipients, content)
            then = outcome(
                send, "news@example.jp", ["after@example.jp"], MESSAGE
            )  # the connection still works
        results[pipelining] = (first, then, handler.received)
        assert smtp.does_esmtp and smtp.has_extn("pipelining") == pipelining
    assert results[True] == results[False]
    assert results[True][1] == ("returned", {})


class Recording:
    """A socket that keeps what is written to it."""

    def __init__(self, sock) -> None:
        self.sock, self.writes = sock, []

    def sendall(self, data: bytes) -> None:
        self.writes.append(data)
        self.sock.sendall(data)

    def __getattr__(self, name):
        return getattr(self.sock, name)


def test_pipelined_envelope_goes_in_one_write(servers):
    """The server reads MAIL, RCPT and DATA from one segment: the client sent them before any answer."""
    controller, handler = servers[True]
    with smtplib.SMTP("127.0.0.1", controller.port) as smtp:
        smtp.ehlo()
        smtp.sock = Recording(smtp.sock)
        assert sendmail_pipelined(smtp, "news@example.jp", ["a@example.jp", "b@example.jp"], MESSAGE) == {}
        writes = list(smtp.sock.writes)  # before QUIT
    assert (
        writes[0]
        == (
            f"mail FROM:<news@example.jp> size={len(MESSAGE)}\r\nrcpt TO:<a@example.jp>\r\nrcpt TO:<b@example.jp>\r\ndata\r\n"
        ).encode()
    )
    assert (
        writes[1].startswith(b"From: news@example.jp")
        and b"\r\n..a line that starts with a dot\r\n" in writes[1]
    )
    assert writes[1].endswith(b"\r\n.\r\n") and len(writes) == 2
    assert handler.received[0][2] == MESSAGE  # the server took the dot back off


def test_server_closing_mid_envelope(servers):
    """A 421 for a recipient: the refusal raised as smtplib raises it, and the connection closed."""
    results = {}
    for pipelining, (controller, _handler) in servers.items():
        smtp = smtplib.SMTP("127.0.0.1", controller.port)
        send = (lambda *a, smtp=smtp: sendmail_pipelined(smtp, *a)) if pipelining else smtp.sendmail
        results[pipelining] = outcome(
            send, "news@example.jp", ["a@example.jp", "closing@example.jp"], MESSAGE
        )
        assert smtp.sock is None
    assert results[True] == results[False]
    assert results[True][0] == "SMTPRecipientsRefused"
