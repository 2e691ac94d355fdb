"""E-mail to and from leads on their timeline (pipeline.mailbox): a rep's BCC, a lead's reply, a forwarded e-mail,
attachments, replays and automatic mail — as received by the mail receiver (salesmarketing.inbound)."""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from email.utils import format_datetime

import pytest
from django.utils import timezone

from leads.choices import TouchType
from leads.models import Handoff
from nurture.models import Enrolment, ExitReason
from nurture.sequences import services as sequence_services
from pipeline.models import Activity, ActivityAttachment
from salesmarketing import inbound
from tests.leads.factories import make_lead
from tests.nurture.factories import sequence_make
from tests.pipeline.factories import make_deal

pytestmark = pytest.mark.django_db
LOG = "log@mail.example.jp"


def _mail(*, sender: str, to: list[str], subject="ご提案の件", body="お世話になっております。", message_id=None,
          **headers) -> EmailMessage:  # fmt: skip
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = ", ".join(to)
    mail["Subject"] = subject
    mail["Date"] = headers.pop("Date", format_datetime(timezone.now()))
    mail["Message-ID"] = message_id or f"<{abs(hash((sender, subject, tuple(to))))}@mail.example.net>"
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    mail.set_content(body)
    return mail


def _receive(mail: EmailMessage, *, bcc: str = LOG) -> str | None:
    stored, created = inbound.inbound_email_store(raw=mail.as_bytes(), source="smtp", recipients=[bcc])
    return inbound.inbound_email_process(inbound_id=stored.pk) if created else None


def test_an_email_a_rep_sends_with_the_bcc_is_their_first_touch(owner):
    lead = make_lead("yamada@customer.example.jp", owner=owner)
    mql_at = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)  # before the e-mail (3 Dec, 10:15 in Tokyo)
    handoff = Handoff.objects.create(lead=lead, owner=owner, mql_at=mql_at, assigned_at=mql_at)
    deal = make_deal(owner=owner, contact=lead)
    mail = _mail(
        sender=f"担当 太郎 <{owner.email.upper()}>",
        to=["山田様 <yamada@customer.example.jp>"],
        Date="Thu, 03 Dec 2026 10:15:00 +0900",
    )

    assert _receive(mail) == "activity"

    activity = Activity.objects.get()
    assert (activity.lead, activity.deal, activity.type, activity.created_by) == (lead, deal, "email", owner)
    assert (activity.subject, activity.email_direction) == ("ご提案の件", "out")
    assert activity.occurred_at == dt.datetime(2026, 12, 3, 1, 15, tzinfo=dt.UTC)
    assert lead.touches.filter(type=TouchType.SALES_ACTIVITY).exists()
    handoff.refresh_from_db()
    assert handoff.first_touch_at is not None  # the SLA clock stopped, as when the rep logs a call


def test_a_leads_reply_is_logged_and_ends_its_sequences_but_is_not_a_sales_touch(owner):
    lead = make_lead("sato@customer.example.jp", owner=owner, consent_email=True)
    handoff = Handoff.objects.create(lead=lead, owner=owner, mql_at=timezone.now() - dt.timedelta(hours=2))
    sequence = sequence_make()
    sequence_services.enrol_leads(
        sequence=sequence, leads=type(lead).objects.filter(pk=lead.pk), source="manual"
    )
    reply = _mail(sender="佐藤 <sato@customer.example.jp>", to=[owner.email], subject="Re: ご提案の件")

    assert _receive(reply) == "activity,reply"

    activity = Activity.objects.get()
    assert (activity.lead, activity.email_direction, activity.created_by) == (lead, "in", owner)
    assert lead.touches.filter(type=TouchType.EMAIL_REPLY).exists()
    assert not lead.touches.filter(type=TouchType.SALES_ACTIVITY).exists()
    handoff.refresh_from_db()
    assert handoff.first_touch_at is None
    assert Enrolment.objects.get(lead=lead).exit_reason == ExitReason.REPLIED


def test_an_out_of_office_reply_changes_nothing(owner):
    lead = make_lead("away@customer.example.jp", owner=owner, consent_email=True)
    sequence_services.enrol_leads(
        sequence=sequence_make(), leads=type(lead).objects.filter(pk=lead.pk), source="manual"
    )
    auto = _mail(
        sender="away@customer.example.jp",
        to=[owner.email],
        subject="不在のお知らせ",
        Auto_Submitted="auto-replied",
    )
    assert _receive(auto) == "ignored"
    assert not Activity.objects.exists()
    assert Enrolment.objects.get(lead=lead).exit_reason == ""


def test_the_same_email_twice_is_logged_once(owner):
    lead = make_lead("twice@customer.example.jp", owner=owner)
    mail = _mail(sender=owner.email, to=[lead.email], message_id="<same@mail.example.net>")
    assert _receive(mail) == "activity"
    assert _receive(mail) is None  # the receiver keeps one row per Message-ID
    stored, _ = inbound.inbound_email_store(raw=mail.as_bytes(), source="esp:sendgrid")
    assert Activity.objects.count() == 1


def test_an_email_forwarded_as_an_attachment_is_logged_from_the_lead(owner):
    lead = make_lead("fwd@customer.example.jp", owner=owner)
    original = _mail(sender="fwd@customer.example.jp", to=["info@ourco.example.jp"], subject="資料請求")
    forward = _mail(sender=owner.email, to=[LOG], subject="Fwd: 資料請求")
    forward.add_attachment(original)
    assert _receive(forward) == "activity"
    activity = Activity.objects.get()
    assert (activity.lead, activity.subject, activity.email_direction, activity.created_by) == (
        lead,
        "資料請求",
        "in",
        owner,
    )


def test_mail_between_strangers_is_ignored(owner):
    make_lead("lead@customer.example.jp", owner=owner)
    assert _receive(_mail(sender="someone@else.example", to=["lead@customer.example.jp"])) == "ignored"
    assert not Activity.objects.exists()


def test_attachments_are_kept_within_the_limits_and_downloaded_by_who_may_see_them(
    settings, owner, client, outsider
):
    settings.INBOUND_ATTACHMENT_MAX_BYTES = 1000
    lead = make_lead("files@customer.example.jp", owner=owner)
    deal = make_deal(owner=owner, contact=lead)
    mail = _mail(sender=owner.email, to=[lead.email], subject="お見積書")
    mail.add_attachment(b"%PDF-1.4 small", maintype="application", subtype="pdf", filename="見積書.pdf")
    mail.add_attachment(b"x" * 2000, maintype="application", subtype="zip", filename="big.zip")
    assert _receive(mail) == "activity"

    activity = Activity.objects.get()
    kept = ActivityAttachment.objects.get()
    assert activity.attachment_list == [{"id": kept.pk, "name": "見積書.pdf", "size": 14}]
    assert "big.zip" in activity.body
    url = f"/pipeline/activities/{activity.pk}/attachments/{kept.pk}"
    client.force_login(owner)
    response = client.get(url)
    assert response.status_code == 200 and response.content == b"%PDF-1.4 small"
    assert (
        response["Content-Type"] == "application/octet-stream"
        and "attachment" in response["Content-Disposition"]
    )
    page = client.get(deal.get_absolute_url()).content.decode()
    assert url in page and "見積書.pdf" in page
    client.force_login(outsider)
    assert client.get(url).status_code == 404


def test_one_email_to_two_leads_stays_once_when_they_are_merged(owner, manager):
    from leads.merge.services import lead_merge

    first = make_lead("taro@customer.example.jp", owner=owner, name="山田 太郎")
    second = make_lead("t.yamada@customer.example.jp", owner=owner, name="山田 太郎")
    mail = _mail(sender=owner.email, to=[first.email, second.email], message_id="<both@mail.example.net>")
    assert _receive(mail) == "activity"
    assert Activity.objects.count() == 2
    lead_merge(survivor_id=first.pk, merged_id=second.pk, taken={}, by=manager)
    assert list(Activity.objects.values_list("lead_id", flat=True)) == [first.pk]
