"""Fixtures of the mail tests: a real SMTP server (aiosmtpd) on a free loopback port, the sender profile, a
static segment of leads, a campaign, a template. Imported by each tests/nurture/test_mail*.py module."""

from __future__ import annotations

import email
import email.policy
import socket
import threading

import pytest
from aiosmtpd.controller import Controller

from leads.services import lead_upsert
from nurture.models import Segment, SegmentKind, SegmentMember
from tests.leads.factories import CampaignFactory
from tests.nurture.factories import MailTemplateFactory, mail_sender_profile


class SinkHandler:
    """Keeps every message it accepts; refuses addresses containing "reject" (550) or "busy" (451). Offers
    PIPELINING, as production mail servers do (the backend then pipelines each envelope)."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.recipients: list[list[str]] = []
        self.senders: list[str] = []
        self.lock = threading.Lock()

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if "reject" in address:
            return "550 5.1.1 mailbox unavailable"
        if "busy" in address:
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append(envelope.original_content or envelope.content)
            self.recipients.append(list(envelope.rcpt_tos))
            self.senders.append(envelope.mail_from)
        return "250 Message accepted for delivery"

    def parsed(self) -> list[email.message.EmailMessage]:
        return [email.message_from_bytes(raw, policy=email.policy.default) for raw in self.messages]

    def message_ids(self) -> list[str]:
        return [str(m["Message-ID"]) for m in self.parsed()]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_sink(settings):
    """A real SMTP server; Django's SMTP backend is pointed at it."""
    handler = SinkHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "salesmarketing.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.SITE_URL = "https://crm.example.jp"
    yield handler
    controller.stop()


@pytest.fixture
def mail_profile(db):
    return mail_sender_profile()


@pytest.fixture
def mail_template(db):
    return MailTemplateFactory()


@pytest.fixture
def mail_campaign(db):
    return CampaignFactory(name="月刊ニュースレター 12月号")


def mail_lead(email_address: str, **fields):
    lead, _created = lead_upsert(email=email_address, source="manual", **{"consent_email": True, **fields})
    return lead


def mail_segment(leads, name: str = "ニュースレター購読者") -> Segment:
    segment = Segment.objects.create(name=name, kind=SegmentKind.STATIC)
    SegmentMember.objects.bulk_create([SegmentMember(segment=segment, lead=lead) for lead in leads])
    return segment
