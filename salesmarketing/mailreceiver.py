"""The SMTP listener that receives the return-path (bounces) and forwarded mail: `manage.py receive_mail`.

Each message is stored (`salesmarketing.inbound.inbound_email_store`) before the SMTP transaction is answered, so a
250 means it is kept; when the database cannot take it the sender is told to try again later (451), which every
mail server does — nothing is lost. Recipients outside INBOUND_EMAIL_DOMAINS are refused (550), and messages over
INBOUND_EMAIL_MAX_BYTES too (552, by aiosmtpd). It relays nothing."""

from __future__ import annotations

import logging

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections

from salesmarketing.inbound import inbound_email_store

logger = logging.getLogger(__name__)


def _store(raw: bytes, mail_from: str, recipients: list[str]) -> bool:
    close_old_connections()  # a long-lived process: drop a connection the database closed meanwhile
    _inbound, created = inbound_email_store(
        raw=raw, source="smtp", mail_from=mail_from, recipients=recipients
    )
    return created


class InboundHandler:
    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options
    ):
        domains = settings.INBOUND_EMAIL_DOMAINS
        if domains and address.rpartition("@")[2].lower() not in domains:
            return "550 5.1.1 not a mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        try:
            created = await sync_to_async(_store, thread_sensitive=True)(
                raw, envelope.mail_from or "", list(envelope.rcpt_tos)
            )
        except Exception:  # the database is down or refused it: the sender keeps the message and retries
            logger.exception("inbound mail not stored; answered 451")
            return "451 4.3.0 try again later"
        logger.info("inbound mail stored (%s, %d bytes)", "new" if created else "duplicate", len(raw))
        return "250 OK"


def controller(*, hostname: str | None = None, port: int | None = None) -> Controller:
    """The listener, not yet started (`.start()` runs it in a thread; `.stop()`)."""
    return Controller(
        InboundHandler(),
        hostname=hostname or settings.INBOUND_EMAIL_HOST,
        port=port if port is not None else settings.INBOUND_EMAIL_PORT,
        data_size_limit=settings.INBOUND_EMAIL_MAX_BYTES,
        decode_data=False,
    )
