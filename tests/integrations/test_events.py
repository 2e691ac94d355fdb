"""Every service named in the outbox writes its event in its own transaction, with ids and codes only."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone

from leads.choices import TouchType
from leads.handoffs import handoff_accept, handoff_assign, handoff_reject
from leads.handoffs.services import sla_check
from leads.ingest import events_ingest
from leads.models import Handoff, Touch
from leads.privacy.services import lead_unsubscribe
from leads.records.services import lead_create
from leads.scoring.defaults import ensure_default_scoring
from leads.scoring.services import leads_score_and_qualify
from leads.services import company_resolve, lead_upsert
from pipeline.services import deal_change_stage
from quotes import services as quote_services
from quotes.tax import TaxCategory
from salesmarketing import events
from salesmarketing.events import event_emit
from salesmarketing.models import DomainEvent
from tests.leads.factories import make_lead
from tests.pipeline.factories import make_deal
from tests.quotes.factories import add_line, make_issuer

pytestmark = pytest.mark.django_db


def _kinds(subject_type: str | None = None) -> list[str]:
    rows = DomainEvent.objects.order_by("pk")
    if subject_type:
        rows = rows.filter(subject_type=subject_type)
    return list(rows.values_list("kind", flat=True))


def _last(kind: str) -> DomainEvent:
    return DomainEvent.objects.filter(kind=kind).latest("pk")


def test_every_path_that_creates_a_lead_says_so_once(owner):
    lead, _ = lead_upsert(email="one@example.jp", source="api")
    lead_upsert(email="one@example.jp", source="api", name="もう一度")  # an update: no event
    by_hand = lead_create(by=owner, email="two@example.jp", name="名刺 太郎")
    events_ingest(
        events=[
            {"id": "e1", "type": TouchType.PAGE_VIEW, "email": "three@example.jp", "url": "https://x.jp/"}
        ],
        source="web",
    )
    created = DomainEvent.objects.filter(kind=events.LEAD_CREATED).order_by("pk")
    assert [e.subject_id for e in created][:2] == [lead.pk, by_hand.pk]
    assert created.count() == 3
    assert created[0].payload == {"lead_id": lead.pk, "source": "api"}


def test_no_personal_data_in_the_payload(owner):
    lead = make_lead("yamada@example.jp", name="山田 花子", phone="03-1234-5678")
    texts = [str(e.payload) for e in DomainEvent.objects.filter(subject_id=lead.pk)]
    assert texts and not any("山田" in t or "yamada" in t or "03-1234" in t for t in texts)


def test_a_rolled_back_write_leaves_no_event():
    with pytest.raises(RuntimeError), transaction.atomic():
        event_emit(kind=events.DEAL_WON, subject=("deal", 1), payload={})
        raise RuntimeError
    assert not DomainEvent.objects.exists()


def test_an_unknown_kind_is_an_error():
    with pytest.raises(ValueError, match="unknown event kind"):
        event_emit(kind="deal.wonn", subject=("deal", 1), payload={})


def test_crossing_the_mql_threshold_says_so():
    ensure_default_scoring()
    company = company_resolve(
        name="山田製作所", domain="yamada.example.jp", employee_count=400, industry="manufacturing"
    )
    lead, _ = lead_upsert(email="hot@yamada.example.jp", source="api", company=company, title="部長")
    now = timezone.now()
    for i, kind in enumerate(
        [TouchType.WEBINAR_ATTENDED, TouchType.DEMO_REQUEST, TouchType.WEBINAR_REGISTERED]
    ):
        Touch.objects.create(lead=lead, type=kind, occurred_at=now, source="test", idempotency_key=f"k{i}")
    assert leads_score_and_qualify([lead.pk], now=now)
    event = _last(events.LEAD_MQL)
    lead.refresh_from_db()
    assert event.payload == {"lead_id": lead.pk, "fit_score": lead.fit_score, "total_score": lead.total_score}
    assert leads_score_and_qualify([lead.pk], now=now) == []
    assert DomainEvent.objects.filter(kind=events.LEAD_MQL).count() == 1


def test_the_handoff_events_assigned_breached_accepted_rejected(owner, manager, stages):
    lead = make_lead(company="株式会社北斗物流")
    handoff = handoff_assign(handoff_id=Handoff.objects.create(lead=lead, mql_at=timezone.now()).pk)
    assigned = _last(events.HANDOFF_ASSIGNED)
    assert assigned.subject_type == "handoff" and assigned.subject_id == handoff.pk
    assert assigned.payload["owner_id"] == owner.pk and assigned.payload["team_id"] == owner.team_id

    sla_check(now=handoff.sla_due_at + dt.timedelta(minutes=1))
    sla_check(now=handoff.sla_due_at + dt.timedelta(minutes=2))  # overlapping runs: one breach
    assert DomainEvent.objects.filter(kind=events.HANDOFF_SLA_BREACHED).count() == 1

    handoff_accept(handoff=handoff, by=owner)
    accepted = _last(events.HANDOFF_ACCEPTED)
    assert accepted.payload["deal_id"] is not None

    other = handoff_assign(handoff_id=Handoff.objects.create(lead=make_lead(), mql_at=timezone.now()).pk)
    handoff_reject(
        handoff=other, by=owner, reason=Handoff.RejectReason.TOO_EARLY, note="来期に再検討（山田様）"
    )
    rejected = _last(events.HANDOFF_REJECTED)
    assert rejected.payload["reason"] == "too_early" and "山田" not in str(rejected.payload)
    assert _kinds("handoff") == [
        "handoff.assigned",
        "handoff.sla_breached",
        "handoff.accepted",
        "handoff.assigned",
        "handoff.rejected",
    ]


def test_the_deal_events_stage_changed_won_lost(owner, stages):
    deal = make_deal(owner=owner, stage=stages["Initial contact"])
    deal_change_stage(deal=deal, stage=stages["Discovery"], by=owner)
    deal_change_stage(deal=deal, stage=stages["Won"], by=owner, amount=3_000_000)
    deal_change_stage(deal=deal, stage=stages["Won"], by=owner, amount=3_000_000)  # the same again: nothing
    assert _kinds("deal") == ["deal.stage_changed", "deal.stage_changed", "deal.won"]
    won = _last(events.DEAL_WON)
    assert won.payload == {
        "deal_id": deal.pk,
        "owner_id": owner.pk,
        "team_id": owner.team_id,
        "amount": "3000000",
    }
    moved = DomainEvent.objects.filter(kind=events.DEAL_STAGE_CHANGED).first()
    assert moved is not None and moved.payload["to_stage_id"] == stages["Discovery"].pk

    lost = make_deal(owner=owner)
    deal_change_stage(
        deal=lost, stage=stages["Lost"], by=owner, cause="price", side="sales", note="高い（田中部長）"
    )
    event = _last(events.DEAL_LOST)
    assert event.payload["loss_cause"] == "price" and "田中" not in str(event.payload)


def test_accepting_a_quote_says_so(owner, stages):
    make_issuer()
    deal = make_deal(owner=owner)
    add_line(deal, owner, unit_price=10_000, tax_category=TaxCategory.STANDARD)
    quote = quote_services.quote_create(deal=deal, by=owner, today=dt.date(2026, 12, 4))
    sent = quote_services.quote_mark_sent(quote=quote_services.quote_issue(quote=quote, by=owner), by=owner)
    quote_services.quote_accept(quote=sent, by=owner)
    event = _last(events.QUOTE_ACCEPTED)
    assert event.payload == {"quote_id": quote.pk, "deal_id": deal.pk, "subtotal": "10000"}


def test_an_unsubscribe_says_so_once():
    lead = make_lead(consent_email=True)
    assert lead_unsubscribe(lead_id=lead.pk)
    assert lead_unsubscribe(lead_id=lead.pk, at=timezone.now() + dt.timedelta(days=1))  # already out
    assert [e.subject_id for e in DomainEvent.objects.filter(kind=events.LEAD_UNSUBSCRIBED)] == [lead.pk]
