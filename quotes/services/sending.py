"""Sending a quote by e-mail: the PDF attached, to the deal's contact, through Django's e-mail (the project's
SMTP settings). The quote's email_* fields are the ledger of that one message: queued by `quote_send`, claimed
queued → sending by `quote_email_deliver` (a conditional UPDATE, so a task run twice sends once), then sent or
failed. A crash between the claim and the mark leaves it `sending`: shown as such, never sent again by itself. A
failed one is queued again from the quote's page (`quote_email_retry`), once per click that finds it failed."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from quotes.models import Quote
from quotes.pdf import render_quote_pdf
from salesmarketing.celery import queue_task
from salesmarketing.models import User


def quote_email_message(quote: Quote) -> EmailMessage:
    with translation.override(quote.language):
        subject = _("Quotation %(number)s: %(subject)s") % {
            "number": quote.display_number,
            "subject": quote.subject,
        }
        suffix = {"onchu": " 御中", "sama": " 様"}[quote.addressee_kind] if quote.language == "ja" else ""
        body = _(
            "%(addressee)s\n\nPlease find attached our quotation %(number)s (total %(total)s JPY incl. tax, "
            "valid until %(valid_until)s).\n\n%(issuer)s\n"
        ) % {
            "addressee": f"{quote.addressee_name}{suffix}",
            "number": quote.display_number,
            "total": f"{quote.total:,}",
            "valid_until": quote.valid_until.isoformat(),
            "issuer": quote.issuer.name,
        }
    reply_to = [quote.created_by.email] if quote.created_by.email else []
    message = EmailMessage(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[quote.email_to],
        reply_to=reply_to,
    )
    message.attach(f"{quote.number}-{quote.revision}.pdf", render_quote_pdf(quote), "application/pdf")
    return message


def quote_email_deliver(*, quote_id: int) -> bool:
    """Send the queued e-mail of a quote, once. True when this call sent it."""
    claimed = Quote.objects.filter(pk=quote_id, email_state=Quote.EmailState.QUEUED).update(
        email_state=Quote.EmailState.SENDING
    )
    if not claimed:
        return False
    quote = Quote.objects.select_related("issuer", "created_by").prefetch_related("lines").get(pk=quote_id)
    try:
        quote_email_message(quote).send(fail_silently=False)
    except Exception as error:  # the mail server refused or is down: recorded on the quote, shown on its page
        Quote.objects.filter(pk=quote_id).update(
            email_state=Quote.EmailState.FAILED, email_error=str(error)[:500]
        )
        return False
    Quote.objects.filter(pk=quote_id).update(email_state=Quote.EmailState.SENT, email_sent_at=timezone.now())
    return True


@transaction.atomic
def quote_email_retry(*, quote: Quote, by: User) -> Quote:
    """Queue a failed e-mail of a sent quote again: failed → queued by a conditional UPDATE, delivered after
    commit by the same task (which claims it queued → sending). Exactly once: a second click, or a retry of a
    message already queued, sending or sent, finds no failed row and changes nothing."""
    current = Quote.objects.select_for_update().get(pk=quote.pk)
    if current.email_state != Quote.EmailState.FAILED:
        return current
    if current.status != Quote.Status.SENT:
        raise ValidationError(_("The customer has answered this quote: its e-mail is not sent again."))
    Quote.objects.filter(pk=current.pk, email_state=Quote.EmailState.FAILED).update(
        email_state=Quote.EmailState.QUEUED, email_error=""
    )
    current.refresh_from_db()
    queue_email(current)
    return current


def queue_email(quote: Quote) -> None:
    """After the sending transaction commits, the email queue's task delivers it."""
    quote_id = quote.pk
    transaction.on_commit(lambda: queue_task("quotes.tasks.send_quote_email", quote_id))
