"""Bounces and complaints (nurture.mail.bounces): bounce messages (DSN) and complaints (ARF) received over real
SMTP at the return path, an email provider's tracking webhook (SendGrid's format through django-anymail), what
they do to the lead and to every send path, replays, and the counts on the broadcast and sequence pages."""

from __future__ import annotations

import base64
import datetime as dt
import json
import smtplib
from email.message import EmailMessage

import pytest
from django.utils import timezone

from leads.lifecycle import lead_lifecycle_change
from leads.models import Lead
from leads.records.services import lead_edit
from nurture.mail import bounces, sending, services
from nurture.mail.selectors import broadcast_outcomes
from nurture.models import (
    Broadcast,
    BroadcastSend,
    BroadcastStatus,
    DeliveryEvent,
    DeliveryEventKind,
    Enrolment,
    ExitReason,
    SendStatus,
    SkipReason,
)
from nurture.sequences import services as sequence_services
from salesmarketing import inbound
from salesmarketing.mailreceiver import controller
from salesmarketing.models import InboundEmail
from tests.nurture.factories import sequence_make
from tests.nurture.mail_fixtures import *  # noqa: F403
from tests.nurture.mail_fixtures import free_port, mail_lead, mail_segment
from tests.salesmarketing.factories import UserFactory

RETURN_PATH = "bounces@mail.example.jp"


def dsn(*, original_message_id: str, recipient: str, status: str = "5.1.1", action: str = "failed",
        headers_only: bool = False) -> bytes:  # fmt: skip
    """A delivery status notification (RFC 3464) as Postfix sends one."""
    original_type = "text/rfc822-headers" if headers_only else "message/rfc822"
    original_body = "" if headers_only else "\n本文\n"
    return _report(
        f"""From: MAILER-DAEMON@mx.example.net
To: {RETURN_PATH}
Subject: Undelivered Mail Returned to Sender
Message-ID: <dsn-{status}-{original_message_id.strip("<>")}@mx.example.net>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.net. I'm sorry to have to inform you...

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; {recipient}
Action: {action}
Status: {status}
Diagnostic-Code: smtp; 550 {status} <{recipient}>: Recipient address rejected

--B
Content-Type: {original_type}

Message-ID: {original_message_id}
Subject: 12月号
{original_body}
--B--
"""
    )


def arf(*, original_message_id: str, recipient: str) -> bytes:
    """A spam complaint (RFC 5965 feedback report) as a mailbox provider's feedback loop sends one."""
    return _report(
        f"""From: fbl@isp.example.net
To: {RETURN_PATH}
Subject: Abuse report
Message-ID: <arf-{recipient}@isp.example.net>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="B"

--B
Content-Type: text/plain; charset=us-ascii

This is an email abuse report.

--B
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: FBL/1.0
Version: 1
Original-Rcpt-To: {recipient}

--B
Content-Type: message/rfc822

Message-ID: {original_message_id}
Subject: 12月号

本文
--B--
"""
    )


def _report(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode("utf-8")


def _sent_broadcast(*, leads, template, campaign, profile) -> Broadcast:
    broadcast = services.broadcast_create(
        by=UserFactory(role="marketing"),
        name="12月号",
        template=template,
        segment=mail_segment(leads),
        campaign=campaign,
        throttle_per_minute=100,
    )
    Broadcast.objects.filter(pk=broadcast.pk).update(
        status=BroadcastStatus.SCHEDULED, scheduled_at=timezone.now() - dt.timedelta(minutes=1)
    )
    assert sending.broadcast_start(broadcast_id=broadcast.pk)
    sending.broadcast_send_batch(broadcast_id=broadcast.pk)
    return broadcast


def _receive(raw: bytes) -> InboundEmail:
    """Stored as the SMTP receiver stores it, then read (as the task does)."""
    stored, _created = inbound.inbound_email_store(raw=raw, source="smtp", recipients=[RETURN_PATH])
    inbound.inbound_email_process(inbound_id=stored.pk)
    stored.refresh_from_db()
    return stored


# --- Reading reports --------------------------------------------------------------------------------------------


def test_a_dsn_names_each_failed_recipient_with_the_original_message():
    message = inbound.parse(
        dsn(original_message_id="<broadcast-7.lead-9@example.jp>", recipient="a@x.example")
    )
    (report,) = bounces.read_reports(message)
    assert report == bounces.Report(
        kind=DeliveryEventKind.HARD_BOUNCE,
        recipient="a@x.example",
        ref="broadcast-7.lead-9",
        detail=report.detail,
    )
    assert report.detail.startswith("5.1.1 smtp; 550")


@pytest.mark.parametrize(
    ("status", "action", "kind"),
    [
        ("5.1.1", "failed", DeliveryEventKind.HARD_BOUNCE),  # no such user
        ("4.2.2", "failed", DeliveryEventKind.SOFT_BOUNCE),  # mailbox full, given up
        ("4.4.1", "delayed", None),  # still trying: not a bounce
    ],
)
def test_a_dsns_status_decides_hard_or_soft(status, action, kind):
    raw = dsn(
        original_message_id="<x@y>", recipient="a@x.example", status=status, action=action, headers_only=True
    )
    reports = bounces.read_reports(inbound.parse(raw))
    assert [r.kind for r in reports] == ([kind] if kind else [])
    assert all(r.ref == "x" for r in reports)  # found in a text/rfc822-headers part too


def test_a_feedback_report_is_a_complaint_and_other_mail_is_not_a_report():
    raw = arf(original_message_id="<sequence-step-3.enrolment-4@example.jp>", recipient="a@x.example")
    (report,) = bounces.read_reports(inbound.parse(raw))
    assert (report.kind, report.recipient, report.ref) == (
        DeliveryEventKind.COMPLAINT,
        "a@x.example",
        "sequence-step-3.enrolment-4",
    )
    plain = EmailMessage()
    plain["Subject"] = "Re: 12月号"
    plain.set_content("ありがとうございます")
    assert bounces.read_reports(plain) == []


# --- End to end over SMTP -----------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_bounce_received_over_smtp_stops_every_send_to_the_address(
    settings, smtp_sink, mail_profile, mail_template, mail_campaign
):
    """Marketing email leaves with our return path; the receiving server's bounce comes back to the receiver over
    real SMTP; the address is then undeliverable for broadcasts and sequences alike."""
    settings.EMAIL_RETURN_PATH = RETURN_PATH
    settings.INBOUND_EMAIL_DOMAINS = ["mail.example.jp"]
    gone, fine = mail_lead("gone@example.jp", name="退職 済"), mail_lead("fine@example.jp")
    broadcast = _sent_broadcast(
        leads=[gone, fine], template=mail_template, campaign=mail_campaign, profile=mail_profile
    )
    assert set(smtp_sink.senders) == {RETURN_PATH}  # the envelope sender: bounces come back to us
    assert {str(m["From"]) for m in smtp_sink.parsed()} == {
        f"{mail_profile.sender_name} <{mail_profile.from_email}>"
    }
    sent_id = next(str(m["Message-ID"]) for m in smtp_sink.parsed() if m["To"] == "gone@example.jp")
    sequence = sequence_make(template=mail_template)
    sequence_services.enrol_leads(sequence=sequence, leads=Lead.objects.filter(pk=gone.pk), source="manual")

    listener = controller(hostname="127.0.0.1", port=free_port())
    listener.start()
    try:
        with smtplib.SMTP(listener.hostname, listener.port) as smtp:
            with pytest.raises(smtplib.SMTPRecipientsRefused):  # not our domain: we relay nothing
                smtp.sendmail("", ["someone@elsewhere.example"], b"Subject: x\r\n\r\nx")
            raw = dsn(original_message_id=sent_id, recipient="gone@example.jp")
            smtp.sendmail("", [RETURN_PATH], raw)
            smtp.sendmail("", [RETURN_PATH], raw)  # the same bounce again
    finally:
        listener.stop()

    (stored,) = InboundEmail.objects.all()  # one row: unique by Message-ID
    inbound.inbound_email_process(inbound_id=stored.pk)  # the task (queued after commit) may have run already
    stored.refresh_from_db()
    assert (stored.outcome, bytes(stored.raw), stored.mail_from, stored.recipients) == ("bounce", b"", "", [])
    event = DeliveryEvent.objects.get()
    assert (event.kind, event.lead_id, event.broadcast_send.broadcast_id) == (
        DeliveryEventKind.HARD_BOUNCE,
        gone.pk,
        broadcast.pk,
    )
    assert "gone@example.jp" not in event.detail  # addresses stay out of the diagnostic text
    gone.refresh_from_db()
    assert gone.email_undeliverable_at is not None and not gone.consent_email
    assert not Lead.objects.emailable().filter(pk=gone.pk).exists()
    sequence_services.exits_apply()
    assert Enrolment.objects.get(lead=gone).exit_reason == ExitReason.BOUNCED
    outcomes = broadcast_outcomes(broadcast)
    assert (outcomes.sent, outcomes.bounced, outcomes.delivered) == (2, 1, 1)


def test_a_bounce_skips_the_address_in_broadcasts_already_running(mail_profile, mail_template, mail_campaign):
    gone = mail_lead("gone@example.jp")
    broadcast = services.broadcast_create(
        by=UserFactory(role="marketing"),
        name="1月号",
        template=mail_template,
        segment=mail_segment([gone]),
        campaign=mail_campaign,
        throttle_per_minute=100,
    )
    Broadcast.objects.filter(pk=broadcast.pk).update(
        status=BroadcastStatus.SCHEDULED, scheduled_at=timezone.now() - dt.timedelta(minutes=1)
    )
    sending.broadcast_start(broadcast_id=broadcast.pk)  # frozen as pending
    _receive(dsn(original_message_id="<older@example.jp>", recipient="GONE@example.jp"))  # matched by address
    result = sending.broadcast_send_batch(broadcast_id=broadcast.pk)
    row = BroadcastSend.objects.get(broadcast=broadcast)
    assert (result.sent, row.status, row.skip_reason) == (0, SendStatus.SKIPPED, SkipReason.BOUNCED)


def test_soft_bounces_on_three_messages_make_the_address_undeliverable(settings, db):
    settings.EMAIL_SOFT_BOUNCE_LIMIT = 3
    lead = mail_lead("full@example.jp")
    for n in range(3):
        _receive(dsn(original_message_id=f"<m{n}@example.jp>", recipient="full@example.jp", status="4.2.2"))
        lead.refresh_from_db()
        assert (lead.email_undeliverable_at is not None) == (n == 2)
    assert DeliveryEvent.objects.filter(kind=DeliveryEventKind.SOFT_BOUNCE).count() == 3


def test_a_complaint_unsubscribes_the_lead_on_its_timeline(db):
    lead = mail_lead("angry@example.jp")
    _receive(arf(original_message_id="<x@example.jp>", recipient="angry@example.jp"))
    lead.refresh_from_db()
    assert lead.unsubscribed_at is not None and lead.email_undeliverable_at is not None
    assert lead.touches.filter(type="unsubscribe").exists()


def test_a_new_address_is_tried_again(db):
    lead = mail_lead("old@example.jp")
    _receive(dsn(original_message_id="<x@example.jp>", recipient="old@example.jp"))
    lead.refresh_from_db()
    lead_edit(lead=lead, by=None, email="new@example.jp")
    lead.refresh_from_db()
    assert lead.email_undeliverable_at is None


def test_mail_that_is_not_a_report_is_left_for_other_readers_and_emptied(db):
    plain = EmailMessage()
    plain["Message-ID"] = "<hello@example.net>"
    plain["Subject"] = "Re: 12月号"
    plain.set_content("ありがとうございます")
    stored = _receive(plain.as_bytes())
    assert (stored.outcome, bytes(stored.raw)) == ("ignored", b"")
    assert DeliveryEvent.objects.count() == 0
    assert inbound.inbound_email_process(inbound_id=stored.pk) is None  # read once


def test_unread_mail_is_swept_up(db):
    stored, _ = inbound.inbound_email_store(raw=b"Message-ID: <a@b>\r\n\r\nx", source="smtp")
    InboundEmail.objects.filter(pk=stored.pk).update(received_at=timezone.now() - dt.timedelta(hours=1))
    assert inbound.inbound_email_sweep() == [stored.pk]


# --- An email provider's tracking webhook -------------------------------------------------------------------------

WEBHOOK_SECRET = "hook-user:hook-secret-0123456789"


def _sendgrid(client, events, *, auth: str | None = WEBHOOK_SECRET):
    headers = {}
    if auth:
        headers["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(auth.encode()).decode()
    return client.post(
        "/email/esp/sendgrid/tracking/", data=json.dumps(events), content_type="application/json", **headers
    )


def test_a_providers_bounce_report_is_recorded_once(
    client, settings, smtp_sink, mail_profile, mail_template, mail_campaign
):
    lead = mail_lead("gone@example.jp")
    broadcast = _sent_broadcast(
        leads=[lead], template=mail_template, campaign=mail_campaign, profile=mail_profile
    )
    event = {
        "event": "bounce",
        "type": "bounce",
        "email": "gone@example.jp",
        "timestamp": 1764800000,
        "sg_event_id": "sg-event-1",
        "sg_message_id": "sg-msg-1",
        "reason": "550 5.1.1 The email account that you tried to reach does not exist",
        "sm_ref": f"broadcast-{broadcast.pk}.lead-{lead.pk}",  # our metadata, echoed by the provider
    }
    settings.ANYMAIL = {}
    assert _sendgrid(client, [event]).status_code == 404  # not configured: nothing exposed
    settings.ANYMAIL = {"WEBHOOK_SECRET": WEBHOOK_SECRET}
    assert _sendgrid(client, [event], auth="hook-user:wrong").status_code == 400
    assert _sendgrid(client, [event]).status_code == 200
    assert _sendgrid(client, [event]).status_code == 200  # the provider retries: one row still
    recorded = DeliveryEvent.objects.get()
    assert (recorded.kind, recorded.source, recorded.broadcast_send.lead_id) == (
        DeliveryEventKind.HARD_BOUNCE,
        "esp:sendgrid",
        lead.pk,
    )
    lead.refresh_from_db()
    assert lead.email_undeliverable_at is not None


def test_the_broadcast_page_shows_what_became_of_the_messages(
    client, smtp_sink, mail_profile, mail_template, mail_campaign, django_assert_max_num_queries
):
    readers = [mail_lead(f"r{i}@example.jp") for i in range(3)]
    broadcast = _sent_broadcast(
        leads=readers, template=mail_template, campaign=mail_campaign, profile=mail_profile
    )
    bounces.delivery_event_record(
        key="k1",
        kind=DeliveryEventKind.HARD_BOUNCE,
        source="dsn",
        ref=f"broadcast-{broadcast.pk}.lead-{readers[0].pk}",
    )
    lead_lifecycle_change(lead=readers[1], to="mql", reason="test")
    outcomes = broadcast_outcomes(broadcast)
    assert (outcomes.sent, outcomes.delivered, outcomes.bounced, outcomes.mql) == (3, 2, 1, 1)
    client.force_login(UserFactory(role="marketing"))
    page = client.get(f"/nurture/mail/broadcasts/{broadcast.pk}/").content.decode()
    assert 'data-count="bounced">1<' in page and 'data-count="mql">1<' in page


def test_the_campaign_page_shows_its_broadcasts_and_sequences_outcomes(
    client, smtp_sink, mail_profile, mail_template, mail_campaign, django_assert_num_queries
):
    from nurture.mail.selectors import campaign_email, email_totals
    from nurture.models import EnrolmentState
    from nurture.sequences import sending as sequence_sending

    readers = [mail_lead(f"c{i}@example.jp") for i in range(3)]
    broadcast = _sent_broadcast(
        leads=readers, template=mail_template, campaign=mail_campaign, profile=mail_profile
    )
    bounces.delivery_event_record(
        key="k1",
        kind=DeliveryEventKind.HARD_BOUNCE,
        source="dsn",
        ref=f"broadcast-{broadcast.pk}.lead-{readers[0].pk}",
    )
    sequence = sequence_make(template=mail_template, steps=2, campaign=mail_campaign, name="育成")
    sequence_make(template=mail_template, name="他のキャンペーンのもの")  # not this campaign's
    sequence_services.enrol_leads(
        sequence=sequence, leads=Lead.objects.filter(pk=readers[1].pk), source="manual"
    )
    Enrolment.objects.filter(state=EnrolmentState.ACTIVE).update(
        next_send_at=timezone.now() - dt.timedelta(minutes=1)
    )
    sequence_sending.sequence_run()
    lead_lifecycle_change(lead=readers[1], to="mql", reason="test")  # within 30 days of both messages

    with django_assert_num_queries(4):  # broadcasts, sequences, the broadcasts' outcomes, the sequences'
        rows = campaign_email(mail_campaign.pk)
    assert [(r.item.name, r.is_broadcast) for r in rows] == [("12月号", True), ("育成", False)]
    b, s = (r.outcomes for r in rows)
    assert (b.sent, b.delivered, b.bounced, b.mql) == (3, 2, 1, 1)
    assert (s.sent, s.bounced, s.mql) == (1, 0, 1)

    today = timezone.localdate()
    totals = email_totals(start=today, end=today)  # every campaign's messages sent today
    assert (totals.sent, totals.bounced, totals.mql) == (4, 1, 2)
    assert email_totals(start=today - dt.timedelta(days=7), end=today - dt.timedelta(days=1)).sent == 0

    client.force_login(UserFactory(role="marketing"))
    page = client.get(mail_campaign.get_absolute_url()).content.decode()
    assert 'id="email"' in page and "育成" in page and "他のキャンペーンのもの" not in page
    report = client.get(mail_campaign.get_absolute_url(), HTTP_HX_REQUEST="true").content.decode()
    assert 'id="email"' not in report  # the period's report alone: no e-mail queries
    client.force_login(UserFactory(role="sales"))
    assert 'id="email"' not in client.get(mail_campaign.get_absolute_url()).content.decode()
