"""The default email backend: Django's SMTP backend, with the envelope's addresses read cheaply.

For every message Django's backend parses its sender and each recipient with `sanitize_address` (the email
package's full address parser, about 0.15 ms for a plain address and twice that for a sender with a Japanese
name). A broadcast sends from one address to thousands of plain ones, so here the sender is parsed once per
process and a plain `local@domain` address (dot-atoms of ASCII letters, digits and `_%+-`, which
`sanitize_address` returns unchanged) is used as it is; anything else still goes through `sanitize_address`.
"""

from __future__ import annotations

import functools
import re
import smtplib

from django.conf import settings
from django.core.mail.backends import smtp
from django.core.mail.message import sanitize_address

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
            self.connection.sendmail(from_email, recipients, message.as_bytes(linesep="\r\n"))
        except smtplib.SMTPException:
            if not self.fail_silently:
                raise
            return False
        return True
