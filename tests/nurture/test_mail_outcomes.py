"""What became of sent messages (nurture.mail.outcomes), worked by hand: the first open, click and bounce of each
message are kept on its ledger row, set where the touch or the report is recorded, so the dashboard's totals are
one aggregate over the period's rows whatever their number."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from leads.lifecycle import lead_lifecycle_change
from leads.merge.services import lead_merge
from leads.tracking import email_click_path, email_open_path
from nurture.mail import bounces
from nurture.mail.selectors import broadcast_outcomes, campaign_email, email_totals
from nurture.models import (
    Broadcast,
    BroadcastSend,
    BroadcastStatus,
    DeliveryEventKind,
    Enrolment,
    SendStatus,
    SkipReason,
    StepSend,
)
from tests.nurture.factories import sequence_make
from tests.nurture.mail_fixtures import *  # noqa: F403
from tests.nurture.mail_fixtures import mail_lead, mail_segment
from tests.salesmarketing.factories import UserFactory

pytestmark = pytest.mark.django_db


def _broadcast(name, *, template, campaign, sent: dict, skipped=(), days_ago: int) -> Broadcast:
    at = timezone.now() - dt.timedelta(days=days_ago)
    broadcast = Broadcast.objects.create(
        name=name,
        template=template,
        segment=mail_segment([*sent, *skipped], name=name),
        campaign=campaign,
        throttle_per_minute=100,
        status=BroadcastStatus.DONE,
    )
    BroadcastSend.objects.bulk_create(
        [BroadcastSend(broadcast=broadcast, lead=lead, status=SendStatus.SENT, sent_at=at) for lead in sent]
        + [
            BroadcastSend(
                broadcast=broadcast, lead=lead, status=SendStatus.SKIPPED, skip_reason=SkipReason.NO_CONSENT
            )
            for lead in skipped
        ]
    )
    return broadcast


def _opened(client, lead, message: str) -> None:
    assert client.get(email_open_path(lead_id=lead.pk, message_id=message)).status_code == 200


def _clicked(client, lead, message: str) -> None:
    path = email_click_path(lead_id=lead.pk, url="https://example.jp/seminar", message_id=message)
    assert client.get(path).status_code == 302


def test_outcomes_worked_by_hand_with_a_bounce_a_complaint_an_mql_and_a_merge(
    client, mail_template, mail_campaign, django_assert_num_queries
):
    a, b, c, d = (mail_lead(f"{n}@sample.example.jp") for n in "abcd")
    f, g = mail_lead("f@sample.example.jp"), mail_lead("g@other.example.jp")
    x = _broadcast(
        "11月号", template=mail_template, campaign=mail_campaign, sent=[a, b, c, f], skipped=[d], days_ago=2
    )
    y = _broadcast("12月号", template=mail_template, campaign=mail_campaign, sent=[a, b], days_ago=1)
    sequence = sequence_make(template=mail_template, steps=1, campaign=mail_campaign)
    enrolment = Enrolment.objects.create(
        lead=c, sequence=sequence, source="manual", enrolled_at=timezone.now() - dt.timedelta(days=2)
    )
    step_send = StepSend.objects.create(
        enrolment=enrolment,
        step=sequence.steps.get(),
        status=SendStatus.SENT,
        sent_at=timezone.now() - dt.timedelta(days=1),
    )

    _opened(client, a, f"b{x.pk}-{a.pk}")
    _opened(client, a, f"b{x.pk}-{a.pk}")  # the pixel fetched again: still one open
    _clicked(client, a, f"b{y.pk}-{a.pk}")  # a click without an open counts as a click only
    _opened(client, a, f"b{x.pk}-{b.pk}")  # another lead's message: not an open of B's message
    _opened(client, c, f"q{step_send.step_id}-{c.pk}")
    _opened(client, f, f"b{x.pk}-{f.pk}")
    bounces.delivery_event_record(
        key="k1", kind=DeliveryEventKind.HARD_BOUNCE, source="dsn", ref=f"broadcast-{x.pk}.lead-{b.pk}"
    )
    # A complaint is no bounce; it unsubscribes B, after B's latest broadcast (Y) only.
    bounces.delivery_event_record(
        key="k2", kind=DeliveryEventKind.COMPLAINT, source="arf", ref=f"broadcast-{y.pk}.lead-{b.pk}"
    )
    lead_lifecycle_change(lead=c, to="mql", reason="test")  # within 30 days of X and of the step
    # F merged into G: F's row of X moves to G with what became of it (F's open).
    lead_merge(survivor_id=g.pk, merged_id=f.pk, taken={}, by=UserFactory(role="marketing"))
    assert BroadcastSend.objects.get(broadcast=x, lead=g).opened_at is not None

    fields = ("sent", "delivered", "bounced", "opened", "clicked", "unsubscribed", "mql")

    def counts(o) -> tuple:
        return tuple(getattr(o, name) for name in fields)

    assert counts(broadcast_outcomes(x)) == (4, 3, 1, 2, 0, 0, 1)
    assert counts(broadcast_outcomes(y)) == (2, 2, 0, 0, 1, 1, 0)
    assert [counts(row.outcomes) for row in campaign_email(mail_campaign.pk)] == [
        (2, 2, 0, 0, 1, 1, 0),  # Y, the newest broadcast first
        (4, 3, 1, 2, 0, 0, 1),
        (1, 1, 0, 1, 0, 0, 1),  # the sequence
    ]
    today = timezone.localdate()
    with django_assert_num_queries(1):
        totals = email_totals(start=today - dt.timedelta(days=6), end=today)
    assert counts(totals) == (7, 6, 1, 3, 1, 1, 2)
    # A period without the messages counts none of them.
    assert counts(email_totals(start=today - dt.timedelta(days=30), end=today - dt.timedelta(days=3))) == (
        0,
    ) * len(fields)
    # What was set is the first time each, set once.
    first = BroadcastSend.objects.get(broadcast=x, lead=a)
    assert first.opened_at is not None and first.clicked_at is None and first.bounced_at is None


def test_the_migration_fills_the_rows_from_the_touches_and_reports_recorded_before_it(
    mail_template, mail_campaign
):
    import importlib

    from django.apps import apps

    from leads.models import Touch
    from nurture.models import DeliveryEvent

    backfill = importlib.import_module("nurture.migrations.0009_sent_message_outcomes").backfill
    now = timezone.now()
    a, b = mail_lead("a@sample.example.jp"), mail_lead("b@sample.example.jp")
    x = _broadcast("11月号", template=mail_template, campaign=mail_campaign, sent=[a, b], days_ago=1)
    sequence = sequence_make(template=mail_template, steps=1)
    enrolment = Enrolment.objects.create(lead=b, sequence=sequence, source="manual", enrolled_at=now)
    step_send = StepSend.objects.create(
        enrolment=enrolment, step=sequence.steps.get(), status=SendStatus.SENT, sent_at=now
    )
    for key, (lead, kind, message) in enumerate(
        [
            (a, "email_open", f"b{x.pk}-{a.pk}"),
            (a, "email_open", f"b{x.pk}-{b.pk}"),  # another lead's message
            (b, "email_click", f"q{step_send.step_id}-{b.pk}"),
        ]
    ):
        Touch.objects.create(
            lead=lead, type=kind, occurred_at=now, properties={"message": message}, idempotency_key=str(key)
        )
    DeliveryEvent.objects.create(
        key="k",
        kind=DeliveryEventKind.HARD_BOUNCE,
        source="dsn",
        lead=b,
        broadcast_send=BroadcastSend.objects.get(broadcast=x, lead=b),
        occurred_at=now,
    )
    BroadcastSend.objects.update(opened_at=None, clicked_at=None, bounced_at=None)
    StepSend.objects.update(opened_at=None, clicked_at=None, bounced_at=None)

    backfill(apps, None)

    def marks(row) -> tuple:
        return tuple(getattr(row, name) is not None for name in ("opened_at", "clicked_at", "bounced_at"))

    assert marks(BroadcastSend.objects.get(broadcast=x, lead=a)) == (True, False, False)
    assert marks(BroadcastSend.objects.get(broadcast=x, lead=b)) == (False, False, True)
    assert marks(StepSend.objects.get()) == (False, True, False)
