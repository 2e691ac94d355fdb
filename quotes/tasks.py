"""Quote tasks: thin, taking ids, safe to run twice.

- `send_quote_email(id)` (queue `email`): the quote's e-mail with its PDF, claimed before sending.
- `expire_quotes()` (beat, daily): sent quotes past their validity become expired.
"""

from __future__ import annotations

from celery import shared_task

from quotes.services import quotes_expire
from quotes.services.sending import quote_email_deliver


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=60, time_limit=90)
def send_quote_email(quote_id: int) -> bool:
    return quote_email_deliver(quote_id=quote_id)


@shared_task(acks_late=True, ignore_result=True)
def expire_quotes() -> int:
    return quotes_expire()
