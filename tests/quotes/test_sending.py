"""Sending a quote by e-mail: the PDF attached, to the deal's contact, through a real SMTP server; once."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from leads.services import lead_upsert
from pipeline.models import Activity
from quotes import services
from quotes.models import Quote
from quotes.services.sending import quote_email_deliver
from tests.nurture.mail_fixtures import free_port
from tests.pipeline.factories import make_deal
from tests.quotes.factories import add_line

pytestmark = pytest.mark.django_db


@pytest.fixture
def contact(db):
    lead, _ = lead_upsert(email="yamada@yamada-seisakusho.example.jp", source="manual", name="山田 太郎")
    return lead


@pytest.fixture
def approved(owner, stages, issuer, contact):
    deal = make_deal(owner=owner, contact=contact, name="勤怠クラウド導入")
    add_line(deal, owner, unit_price=200_000)
    return services.quote_issue(quote=services.quote_create(deal=deal, by=owner), by=owner)


def test_sending_by_email_attaches_the_pdf_once(
    approved, owner, smtp_sink, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        sent = services.quote_mark_sent(quote=approved, by=owner, email=True)

    sent.refresh_from_db()
    assert (sent.status, sent.email_state) == (Quote.Status.SENT, Quote.EmailState.SENT)
    assert sent.email_sent_at is not None
    [message] = smtp_sink.parsed()
    assert message["To"] == "yamada@yamada-seisakusho.example.jp"
    assert sent.number in message["Subject"]
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content().startswith(b"%PDF")
    assert "220,000" in message.get_body(("plain",)).get_content()
    assert Activity.objects.filter(deal=sent.deal, type=Activity.Type.EMAIL).count() == 1

    assert quote_email_deliver(quote_id=sent.pk) is False  # a second run sends nothing
    assert len(smtp_sink.messages) == 1


def test_a_refused_message_is_recorded_as_failed(approved, owner, smtp_sink, contact):
    Quote.objects.filter(pk=approved.pk).update(status=Quote.Status.SENT, sent_at=approved.issued_at,
                                                email_to="reject@example.jp", email_state="queued")  # fmt: skip

    assert quote_email_deliver(quote_id=approved.pk) is False

    approved.refresh_from_db()
    assert approved.email_state == Quote.EmailState.FAILED
    assert "550" in approved.email_error  # the server's refusal, kept for the page


def test_without_a_contact_address_it_cannot_be_emailed(owner, stages, issuer):
    deal = make_deal(owner=owner)
    add_line(deal, owner)
    quote = services.quote_issue(quote=services.quote_create(deal=deal, by=owner), by=owner)

    with pytest.raises(ValidationError):
        services.quote_mark_sent(quote=quote, by=owner, email=True)
    assert services.quote_mark_sent(quote=quote, by=owner).status == Quote.Status.SENT


def test_a_failed_email_is_sent_again_once_from_the_quote_page(
    approved, owner, client, smtp_sink, settings, django_capture_on_commit_callbacks
):
    working_port = settings.EMAIL_PORT
    settings.EMAIL_PORT = free_port()  # the mail server is down: nothing listens there
    with django_capture_on_commit_callbacks(execute=True):
        sent = services.quote_mark_sent(quote=approved, by=owner, email=True)
    sent.refresh_from_db()
    assert sent.email_state == Quote.EmailState.FAILED and not smtp_sink.messages

    client.force_login(owner)
    retry = reverse("quotes:quote_action", args=[sent.pk, "retry_email"])
    assert f'action="{retry}"' in client.get(sent.get_absolute_url()).content.decode()

    settings.EMAIL_PORT = working_port  # back up
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert client.post(retry).status_code == 302
        assert client.post(retry).status_code == 302  # a double click queues nothing more
    assert len(callbacks) == 1
    sent.refresh_from_db()
    assert (sent.email_state, sent.email_error) == (Quote.EmailState.SENT, "")
    assert len(smtp_sink.messages) == 1

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.quote_email_retry(quote=sent, by=owner)  # sent: nothing to retry
    assert not callbacks and len(smtp_sink.messages) == 1
    assert f'action="{retry}"' not in client.get(sent.get_absolute_url()).content.decode()


def test_a_failed_email_is_only_retried_by_someone_who_acts_on_the_deal(approved, owner, outsider, client):
    Quote.objects.filter(pk=approved.pk).update(status=Quote.Status.SENT, sent_at=approved.issued_at,
                                                email_to="yamada@example.jp", email_state="failed")  # fmt: skip
    client.force_login(outsider)
    assert client.post(reverse("quotes:quote_action", args=[approved.pk, "retry_email"])).status_code == 404
    approved.refresh_from_db()
    assert approved.email_state == Quote.EmailState.FAILED


def test_an_answered_quotes_failed_email_is_not_sent_again(approved, owner):
    Quote.objects.filter(pk=approved.pk).update(status=Quote.Status.ACCEPTED, sent_at=approved.issued_at,
                                                email_to="yamada@example.jp", email_state="failed")  # fmt: skip
    with pytest.raises(ValidationError):
        services.quote_email_retry(quote=approved, by=owner)
    approved.refresh_from_db()
    assert approved.email_state == Quote.EmailState.FAILED
