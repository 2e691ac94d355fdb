"""Sequences (ステップメール): business-day waits, enrolment (by hand, segment entry, a handoff rejected as too
early), every exit reason, and sending each step exactly once through a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from leads.choices import LifecycleStage
from leads.handoffs.services import handoff_reject
from leads.models import Handoff, Lead
from leads.privacy import lead_unsubscribe
from nurture.models import (
    Enrolment,
    EnrolmentSource,
    EnrolmentState,
    ExitReason,
    SendStatus,
    Sequence,
    SequenceStatus,
    StepSend,
)
from nurture.sequences import sending, services
from nurture.sequences.calendar import step_due
from tests.leads.factories import HandoffFactory
from tests.nurture.factories import SegmentFactory, sequence_make
from tests.nurture.mail_fixtures import *  # noqa: F403
from tests.nurture.mail_fixtures import mail_lead, mail_segment
from tests.salesmarketing.factories import UserFactory

pytestmark = pytest.mark.django_db

TOKYO = ZoneInfo("Asia/Tokyo")
LATER = dt.timedelta(days=60)


def _at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=TOKYO)


# --- The calendar ----------------------------------------------------------------------------------------------


def test_a_wait_skips_the_weekend_and_a_japanese_holiday():
    # Friday 2026-11-20; Saturday, Sunday, then Monday 23 is 勤労感謝の日: one business day later is Tuesday 24.
    assert step_due(_at(2026, 11, 20, 15), wait_days=1, send_hour=10) == _at(2026, 11, 24, 10)
    # Two business days from Thursday 19: Friday 20, (weekend, holiday) Tuesday 24.
    assert step_due(_at(2026, 11, 19, 9), wait_days=2, send_hour=14) == _at(2026, 11, 24, 14)
    # Golden Week 2026: 4/29 (Wed) 昭和の日, 5/3–5/6 (5/6 振替休日).
    assert step_due(_at(2026, 4, 28, 12), wait_days=1, send_hour=9) == _at(2026, 4, 30, 9)
    assert step_due(_at(2026, 5, 1, 12), wait_days=1, send_hour=9) == _at(2026, 5, 7, 9)


def test_a_wait_of_zero_is_the_next_business_hour_from_now():
    assert step_due(_at(2026, 11, 24, 8), wait_days=0, send_hour=10) == _at(2026, 11, 24, 10)
    assert step_due(_at(2026, 11, 24, 11), wait_days=0, send_hour=10) == _at(2026, 11, 25, 10)
    assert step_due(_at(2026, 11, 21, 8), wait_days=0, send_hour=10) == _at(2026, 11, 24, 10)  # Sat → Tue


# --- Enrolment -------------------------------------------------------------------------------------------------


def test_enrolling_by_hand_once_and_the_database_refuses_a_second_active_enrolment(mail_template):
    sequence = sequence_make(template=mail_template)
    lead = mail_lead("ichiro@sample.example.jp", name="一郎")
    enrolment = services.enrol_lead(sequence=sequence, lead=lead, by=None)
    assert enrolment.state == EnrolmentState.ACTIVE and enrolment.current_step.position == 1
    assert enrolment.next_send_at > enrolment.enrolled_at
    with pytest.raises(services.ValidationError):
        services.enrol_lead(sequence=sequence, lead=lead, by=None)
    with pytest.raises(IntegrityError), transaction.atomic():
        Enrolment.objects.create(
            sequence=sequence, lead=lead, source="manual", enrolled_at=timezone.now(), state="active"
        )
    # Once it has ended, the lead may enter again.
    services.enrolment_exit(enrolment=enrolment, by=None)
    assert services.enrol_lead(sequence=sequence, lead=lead, by=None).pk != enrolment.pk


def test_leads_without_consent_unsubscribed_or_mql_are_not_enrolled(mail_template):
    sequence = sequence_make(template=mail_template)
    fine = mail_lead("ok@sample.example.jp")
    no_consent = mail_lead("nc@sample.example.jp", consent_email=False)
    mql = mail_lead("mql@sample.example.jp")
    Lead.objects.filter(pk=mql.pk).update(lifecycle_stage=LifecycleStage.MQL)
    gone = mail_lead("gone@sample.example.jp")
    lead_unsubscribe(lead_id=gone.pk)
    ids = [fine.pk, no_consent.pk, mql.pk, gone.pk]
    assert (
        services.enrol_leads(sequence=sequence, leads=Lead.objects.filter(pk__in=ids), source="manual") == 1
    )
    assert list(Enrolment.objects.values_list("lead_id", flat=True)) == [fine.pk]


def test_enrolling_a_set_skips_the_active_the_ineligible_and_merged_leads_whatever_the_queryset(
    mail_template,
):
    """The eligibility conditions join the given leads' own scan; a sliced queryset (or one of every lead row,
    Lead.all_objects) is filtered the same; a lead already active in the sequence is skipped, not doubled."""
    sequence = sequence_make(template=mail_template)
    leads = [mail_lead(f"set{i}@sample.example.jp") for i in range(4)]
    Lead.objects.filter(pk=leads[1].pk).update(email_undeliverable_at=timezone.now())  # bounced
    Lead.all_objects.filter(pk=leads[2].pk).update(merged_into=leads[0])  # a merge's tombstone
    services.enrol_lead(sequence=sequence, lead=leads[3], by=None)
    every_row = Lead.all_objects.filter(pk__in=[lead.pk for lead in leads])
    assert services.enrol_leads(sequence=sequence, leads=every_row, source="manual") == 1
    assert services.enrol_leads(sequence=sequence, leads=every_row.order_by("pk")[:4], source="manual") == 0
    active = Enrolment.objects.filter(sequence=sequence, state=EnrolmentState.ACTIVE)
    assert sorted(active.values_list("lead_id", flat=True)) == [leads[0].pk, leads[3].pk]
    services.enrolment_exit(enrolment=active.get(lead=leads[0]), by=None)
    assert services.enrol_leads(sequence=sequence, leads=every_row.order_by("pk")[:1], source="manual") == 1


def test_segment_entry_enrols_new_members_once_in_one_statement(mail_template, django_assert_num_queries):
    leads = [mail_lead(f"seg{i}@sample.example.jp") for i in range(3)]
    segment = mail_segment(leads[:2])
    sequence = sequence_make(template=mail_template, trigger_segment=segment)
    assert services.enrol_segment_entries() == {sequence.pk: 2}
    assert services.enrol_segment_entries() == {sequence.pk: 0}
    # A member who completed (or left) is not enrolled again; a new member is.
    Enrolment.objects.filter(lead=leads[0]).update(state=EnrolmentState.COMPLETED)
    segment.members.create(lead=leads[2])
    with django_assert_num_queries(
        4
    ) as done:  # the sequences, its steps, its first step, one INSERT … SELECT
        assert services.enrol_segment_entries() == {sequence.pk: 1}
    assert sum(q["sql"].startswith("INSERT") for q in done.captured_queries) == 1
    assert Enrolment.objects.filter(sequence=sequence).count() == 3
    assert set(Enrolment.objects.values_list("source", flat=True)) == {EnrolmentSource.SEGMENT}


def test_a_dynamic_trigger_segment_enrols_through_its_rules(mail_template):
    lead = mail_lead("rule@sample.example.jp", name="ルール")
    mail_lead("other@sample.example.jp")
    Lead.objects.filter(pk=lead.pk).update(awareness_stage="semi")
    segment = SegmentFactory(
        rules={"op": "and", "rules": [{"field": "awareness", "op": "eq", "value": "semi"}]}
    )
    sequence = sequence_make(template=mail_template, trigger_segment=segment)
    assert services.enrol_segment_entries() == {sequence.pk: 1}
    assert Enrolment.objects.get().lead == lead


def _open_handoff(lead, rep) -> Handoff:
    Lead.objects.filter(pk=lead.pk).update(lifecycle_stage=LifecycleStage.MQL)
    return HandoffFactory(lead=lead, owner=rep, team=rep.team, state=Handoff.State.ASSIGNED)


def test_a_handoff_rejected_as_too_early_enrols_and_another_reason_does_not(mail_template, owner):
    early = sequence_make(template=mail_template, on_reject_too_early=True)
    budget = sequence_make(template=mail_template, on_reject_no_budget=True)
    too_early = mail_lead("early@sample.example.jp")
    handoff_reject(handoff=_open_handoff(too_early, owner), by=owner, reason=Handoff.RejectReason.TOO_EARLY)
    enrolment = Enrolment.objects.get(lead=too_early)
    assert enrolment.sequence == early and enrolment.source == EnrolmentSource.HANDOFF_REJECTED
    assert enrolment.handoff.reject_reason == Handoff.RejectReason.TOO_EARLY  # why, for the timeline
    no_budget = mail_lead("budget@sample.example.jp")
    handoff_reject(handoff=_open_handoff(no_budget, owner), by=owner, reason=Handoff.RejectReason.NO_BUDGET)
    assert Enrolment.objects.get(lead=no_budget).sequence == budget
    competitor = mail_lead("comp@sample.example.jp")
    handoff_reject(handoff=_open_handoff(competitor, owner), by=owner, reason=Handoff.RejectReason.COMPETITOR)
    assert not Enrolment.objects.filter(lead=competitor).exists()
    # The rejection's handoff is older than the enrolment: it is not a reason to leave.
    assert services.exits_apply(now=timezone.now() + LATER) == {}
    assert Enrolment.objects.get(lead=too_early).state == EnrolmentState.ACTIVE


# --- Exits -----------------------------------------------------------------------------------------------------


@pytest.fixture
def enrolled(mail_template):
    sequence = sequence_make(template=mail_template)

    def enrol(address: str) -> Enrolment:
        return services.enrol_lead(sequence=sequence, lead=mail_lead(address), by=None)

    return enrol


def _reason(enrolment: Enrolment) -> str:
    enrolment.refresh_from_db()
    assert enrolment.state == EnrolmentState.EXITED
    return enrolment.exit_reason


def test_each_exit_reason(enrolled, owner):
    from tests.pipeline.factories import make_deal

    unsubscribed = enrolled("u@sample.example.jp")
    lead_unsubscribe(lead_id=unsubscribed.lead_id)
    consent = enrolled("c@sample.example.jp")
    Lead.objects.filter(pk=consent.lead_id).update(consent_email=False)
    mql = enrolled("m@sample.example.jp")
    Lead.objects.filter(pk=mql.lead_id).update(lifecycle_stage=LifecycleStage.MQL)
    handed = enrolled("h@sample.example.jp")
    HandoffFactory(lead=handed.lead, owner=owner, team=owner.team)
    dealt = enrolled("d@sample.example.jp")
    make_deal(owner=owner, contact=dealt.lead)
    removed = enrolled("r@sample.example.jp")
    services.enrolment_exit(enrolment=removed, by=None)
    replied = enrolled("re@sample.example.jp")
    services.lead_replied(lead_id=replied.lead_id)
    staying = enrolled("s@sample.example.jp")

    counts = services.exits_apply()
    assert counts == {"unsubscribed": 1, "consent_withdrawn": 1, "mql": 1, "handoff": 1, "deal": 1}
    assert _reason(unsubscribed) == ExitReason.UNSUBSCRIBED
    assert _reason(consent) == ExitReason.CONSENT_WITHDRAWN
    assert _reason(mql) == ExitReason.MQL
    assert _reason(handed) == ExitReason.HANDOFF
    assert _reason(dealt) == ExitReason.DEAL
    assert _reason(removed) == ExitReason.REMOVED
    assert _reason(replied) == ExitReason.REPLIED
    staying.refresh_from_db()
    assert staying.state == EnrolmentState.ACTIVE


# --- Sending ---------------------------------------------------------------------------------------------------


def _due_all(sequence) -> None:
    Enrolment.objects.filter(sequence=sequence, state=EnrolmentState.ACTIVE).update(
        next_send_at=timezone.now() - dt.timedelta(minutes=1)
    )


def test_every_step_is_sent_exactly_once_and_the_last_completes(
    smtp_sink, mail_profile, mail_template, mail_campaign
):
    sequence = sequence_make(template=mail_template, steps=2, campaign=mail_campaign)
    leads = [mail_lead(f"step{i}@sample.example.jp", name=f"顧客{i}") for i in range(3)]
    services.enrol_leads(
        sequence=sequence, leads=Lead.objects.filter(pk__in=[x.pk for x in leads]), source="manual"
    )

    assert sending.sequence_run().queued == 0  # nothing is due yet
    _due_all(sequence)
    first = sending.sequence_run()
    assert (first.queued, first.sent) == (3, 3)
    assert len(smtp_sink.messages) == 3
    again = sending.sequence_run()  # a re-run sends nothing twice
    assert (again.queued, again.sent) == (0, 0) and len(smtp_sink.messages) == 3
    # The next step waits one business day from now, at 10:00.
    enrolment = Enrolment.objects.filter(sequence=sequence).first()
    assert enrolment.current_step.position == 2
    assert enrolment.next_send_at > timezone.now()
    assert enrolment.next_send_at.astimezone(TOKYO).hour == 10

    _due_all(sequence)
    second = sending.sequence_run()
    assert (second.queued, second.sent) == (3, 3)
    assert sending.sequence_run().sent == 0
    assert len(smtp_sink.messages) == 6 and len(set(smtp_sink.message_ids())) == 6
    assert StepSend.objects.filter(status=SendStatus.SENT).count() == 6
    assert set(Enrolment.objects.values_list("state", flat=True)) == {EnrolmentState.COMPLETED}

    message = smtp_sink.parsed()[0]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "/u/" in message["List-Unsubscribe"]
    body = message.get_body(("plain",)).get_content()
    assert "東京都千代田区丸の内1-1-1" in body  # the sender's legal footer
    html = message.get_body(("html",)).get_content()
    assert "/t/o/" in html and "/t/c/" in html  # open pixel and signed click links


def test_a_queued_step_whose_worker_died_is_sent_by_the_next_run_and_a_dead_claim_never_again(
    smtp_sink, mail_profile, mail_template, settings
):
    sequence = sequence_make(template=mail_template, steps=1)
    a, b = mail_lead("a@sample.example.jp"), mail_lead("b@sample.example.jp")
    services.enrol_leads(sequence=sequence, leads=Lead.objects.filter(pk__in=[a.pk, b.pk]), source="manual")
    _due_all(sequence)
    assert sending.steps_queue() == 2  # the worker queued the rows, then died before sending
    # One row had been claimed (the SMTP server may have it): it is given up as unknown, never sent again.
    claimed = StepSend.objects.order_by("id").first()
    StepSend.objects.filter(pk=claimed.pk).update(
        status=SendStatus.SENDING, claim_token="dead", claimed_at=timezone.now() - dt.timedelta(hours=1)
    )
    result = sending.sequence_run()
    assert result.unknown == 1 and result.sent == 1 and result.queued == 0
    assert sending.sequence_run().sent == 0
    assert len(smtp_sink.messages) == 1
    assert StepSend.objects.get(pk=claimed.pk).status == SendStatus.UNKNOWN


def test_an_unsubscribed_lead_gets_nothing_even_with_a_step_already_queued(
    smtp_sink, mail_profile, mail_template
):
    sequence = sequence_make(template=mail_template, steps=2)
    lead = mail_lead("leaving@sample.example.jp")
    services.enrol_lead(sequence=sequence, lead=lead, by=None)
    _due_all(sequence)
    sending.steps_queue()
    lead_unsubscribe(lead_id=lead.pk)
    result = sending.steps_send()
    assert result.sent == 0 and result.skipped == 1 and smtp_sink.messages == []
    sending.sequence_run(now=timezone.now() + LATER)
    assert smtp_sink.messages == []
    assert Enrolment.objects.get().exit_reason == ExitReason.UNSUBSCRIBED


def test_a_paused_sequence_sends_nothing_until_resumed(smtp_sink, mail_profile, mail_template):
    sequence = sequence_make(template=mail_template, steps=1)
    services.enrol_lead(sequence=sequence, lead=mail_lead("p@sample.example.jp"), by=None)
    _due_all(sequence)
    services.sequence_set_status(sequence=sequence, status=SequenceStatus.PAUSED)
    assert sending.sequence_run().sent == 0 and smtp_sink.messages == []
    services.sequence_set_status(sequence=sequence, status=SequenceStatus.ACTIVE)
    assert sending.sequence_run().sent == 1


def test_without_the_sender_profile_nothing_is_sent_and_nothing_is_lost(smtp_sink, mail_template):
    sequence = sequence_make(template=mail_template, steps=1)
    services.enrol_lead(sequence=sequence, lead=mail_lead("np@sample.example.jp"), by=None)
    _due_all(sequence)
    result = sending.sequence_run()
    assert result.stopped == "sender profile incomplete" and smtp_sink.messages == []
    assert StepSend.objects.get().status == SendStatus.PENDING


def test_steps_can_be_reordered_and_removed(mail_template):
    from tests.nurture.factories import MailTemplateFactory

    sequence = sequence_make(template=mail_template, steps=3)
    steps = list(sequence.steps.order_by("position"))
    services.step_move(step=steps[2], direction="up")
    assert list(sequence.steps.order_by("position").values_list("pk", flat=True)) == [
        steps[0].pk,
        steps[2].pk,
        steps[1].pk,
    ]
    enrolment = services.enrol_lead(sequence=sequence, lead=mail_lead("o@sample.example.jp"), by=None)
    services.step_remove(step=steps[0])
    enrolment.refresh_from_db()
    assert enrolment.current_step_id == steps[2].pk  # it waits for the step after the removed one
    assert list(sequence.steps.order_by("position").values_list("position", flat=True)) == [1, 2]
    added = services.step_add(sequence=sequence, template=MailTemplateFactory(), wait_days=3, send_hour=9)
    assert added.position == 3


def test_a_user_can_enrol(mail_template):
    user = UserFactory(role="marketing")
    sequence = sequence_make(template=mail_template)
    lead = mail_lead("by@sample.example.jp")
    assert services.enrol_selection(sequence=sequence, lead_ids=[lead.pk], viewer=user) == 1
    assert Enrolment.objects.get().enrolled_by == user


def test_a_steps_opens_clicks_and_unsubscribes_are_counted(client, smtp_sink, mail_profile, mail_template):
    import re

    from nurture.sequences.selectors import step_stats

    sequence = sequence_make(template=mail_template, steps=2)
    reader, other = mail_lead("reader@sample.example.jp"), mail_lead("other@sample.example.jp")
    services.enrol_leads(
        sequence=sequence, leads=Lead.objects.filter(pk__in=[reader.pk, other.pk]), source="manual"
    )
    _due_all(sequence)
    sending.sequence_run()
    sent = {m["To"]: m.get_body(("html",)).get_content() for m in smtp_sink.parsed()}
    html = sent["reader@sample.example.jp"]
    pixel = re.search(r'<img src="https://crm\.example\.jp(/t/o/[^"]+)"', html).group(1)
    click = re.search(r'href="https://crm\.example\.jp(/t/c/[^"]+)"', html).group(1).replace("&amp;", "&")
    assert client.get(pixel).status_code == 200
    assert client.get(click).status_code == 302
    lead_unsubscribe(lead_id=reader.pk)
    first, second = step_stats(sequence)
    o = first.outcomes
    assert (o.sent, o.delivered, o.bounced, o.opened, o.clicked, o.unsubscribed, o.mql) == (
        2,
        2,
        0,
        1,
        1,
        1,
        0,
    )
    o = second.outcomes
    assert (o.sent, o.opened, o.clicked, o.unsubscribed) == (0, 0, 0, 0)


def test_the_demo_has_a_running_sequence_for_recycled_leads(settings):
    import io

    from django.core.management import call_command

    from nurture.demo import SEQUENCE_NAME

    settings.DEBUG = True
    call_command("seed_demo", stdout=io.StringIO())
    sequence = Sequence.objects.get(name=SEQUENCE_NAME)
    assert sequence.on_reject_too_early and sequence.steps.count() == 3
    enrolled = Enrolment.objects.filter(sequence=sequence, state=EnrolmentState.ACTIVE)
    assert enrolled.exists()
    assert not enrolled.exclude(lead__lifecycle_stage=LifecycleStage.RECYCLED).exists()
    call_command("seed_demo", stdout=io.StringIO())  # idempotent
    assert Sequence.objects.filter(name=SEQUENCE_NAME).count() == 1


def test_the_demo_has_a_sent_newsletter_with_opens_and_clicks(settings):
    """seed_demo sends this month's newsletter to the subscribers through the production path; about half open
    it and some click, recorded as touches with the newsletter campaign; a second run adds nothing."""
    import io

    from django.core.management import call_command

    from leads.choices import TouchType
    from leads.models import Touch
    from nurture.demo import NEWSLETTER, NEWSLETTER_CAMPAIGN
    from nurture.mail.selectors import broadcast_outcomes, sender_profile
    from nurture.models import Broadcast, BroadcastSend, BroadcastStatus

    settings.DEBUG = True
    call_command("seed_demo", stdout=io.StringIO())
    broadcast = Broadcast.objects.get(name=NEWSLETTER)
    assert broadcast.status == BroadcastStatus.DONE and broadcast.campaign.name == NEWSLETTER_CAMPAIGN
    assert not sender_profile().missing_fields()
    outcomes = broadcast_outcomes(broadcast)
    assert outcomes.sent == broadcast.sends.filter(status=SendStatus.SENT).count() > 10
    assert outcomes.sent > outcomes.opened > outcomes.clicked > 0
    touches = Touch.objects.filter(campaign=broadcast.campaign, source="email")
    assert touches.filter(type=TouchType.EMAIL_OPEN).values("lead").distinct().count() == outcomes.opened
    call_command("seed_demo", stdout=io.StringIO())  # idempotent
    assert Broadcast.objects.filter(name=NEWSLETTER).count() == 1
    assert BroadcastSend.objects.filter(broadcast__name=NEWSLETTER).count() == broadcast.sends.count()
