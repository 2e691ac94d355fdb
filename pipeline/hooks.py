"""What pipeline does when the apps below it call (salesmarketing.hooks; registered in PipelineConfig.ready())."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.db import models
from django.db.models import F
from django.utils import timezone

from leads.models import Company, Lead
from leads.privacy import scrub_texts
from pipeline.models import Activity, ActivityAttachment, Booking, Deal, DealQuerySet, Task
from pipeline.selectors.search import deal_search

__all__ = ["deal_search", "deals", "lead_erasing", "lead_exporting"]  # deal_search: hooks.SEARCH

# Pipeline's text columns that people write and that may quote a lead (see leads.privacy.FREE_TEXT_FIELDS).
FREE_TEXT_FIELDS: tuple[tuple[type[models.Model], tuple[str, ...]], ...] = (
    (Deal, ("name", "next_step", "loss_note")),
    (Activity, ("subject", "body", "outcome", "voice_text")),
    (Task, ("title",)),
)


def deals() -> DealQuerySet:
    """DEALS: every deal, for the lower apps' reads (they narrow it with `.visible_to(viewer)` and filters)."""
    return Deal.objects.all()


def lead_erasing(
    *, lead: Lead, visitor_ids: list[str], mentions: list[str], scrub: Callable[[str], str], now: dt.datetime
) -> dict[str, int]:
    """LEAD_ERASING: deals the lead was the contact of stay (the company's business record), detached and without
    the person's name; activities on such deals stay with the deal, the lead's other activities go; the person is
    scrubbed out of every other deal, activity and to-do."""
    counts: dict[str, int] = {}
    contact_deals = list(Deal.objects.select_for_update().filter(contact=lead).order_by("pk"))
    for deal in contact_deals:
        # The version moves, so an edit form opened before cannot write the person's name back.
        Deal.objects.filter(pk=deal.pk).update(
            contact=None,
            name=scrub(deal.name)[:200],
            next_step=scrub(deal.next_step)[:200],
            loss_note=scrub(deal.loss_note),
            version=F("version") + 1,
            updated_at=now,
        )
    counts["deals_detached"] = len(contact_deals)
    kept = list(Activity.objects.filter(lead=lead, deal__isnull=False).order_by("pk"))
    counts["attachments_deleted"] = ActivityAttachment.objects.filter(activity__lead=lead).delete()[0]
    for activity in kept:
        Activity.objects.filter(pk=activity.pk).update(
            lead=None,
            attachment_list=[],
            subject=scrub(activity.subject)[:200],
            body=scrub(activity.body),
            outcome=scrub(activity.outcome)[:200],
            voice_text=scrub(activity.voice_text),
            updated_at=now,
        )
    counts["activities_detached"] = len(kept)
    counts["activities_deleted"] = Activity.objects.filter(lead=lead).delete()[0]
    counts["texts_scrubbed"] = sum(
        scrub_texts(model, fields, mentions, scrub) for model, fields in FREE_TEXT_FIELDS
    )
    return counts


def lead_exporting(*, lead: Lead) -> dict[str, Any]:
    """LEAD_EXPORTING: the lead's activities and the deals it is the contact of."""
    return {
        "activities": [
            {
                "type": a.type,
                "subject": a.subject,
                "body": a.body,
                "outcome": a.outcome,
                "occurred_at": a.occurred_at,
                "voice_of_the_customer": a.voice_text if a.is_voice else "",
                "deal_id": a.deal_id,
            }
            for a in Activity.objects.filter(lead=lead).order_by("occurred_at", "id")
        ],
        "deals": [
            {
                "id": d.pk,
                "name": d.name,
                "status": d.status,
                "stage": str(d.stage),
                "amount": d.amount,
                "won_amount": d.won_amount,
                "created_at": d.created_at,
                "closed_at": d.closed_at,
            }
            for d in Deal.objects.filter(contact=lead).select_related("stage").order_by("created_at", "id")
        ],
    }


def lead_merging(*, survivor: Lead, merged: Lead, by: Any) -> dict[str, int]:
    """LEAD_MERGING: the merged lead's deals (as their contact) and activities move to the survivor; each deal's
    version moves, so an edit form opened before cannot write the old contact back. An e-mail logged on both
    (one message to both addresses, pipeline.mailbox) stays once, on the survivor."""
    deals = Deal.objects.filter(contact=merged).update(
        contact=survivor, version=F("version") + 1, updated_at=timezone.now()
    )
    on_survivor = (
        Activity.objects.filter(lead=survivor).exclude(email_message_id="").values("email_message_id")
    )
    Activity.objects.filter(lead=merged, email_message_id__in=on_survivor).delete()
    # Meetings booked on a booking page follow their activities (counted with them).
    Booking.objects.filter(lead=merged).update(lead=survivor)
    return {
        "deals": deals,
        "activities": Activity.objects.filter(lead=merged).update(lead=survivor, updated_at=timezone.now()),
    }


def company_merging(*, survivor: Company, merged: Company, by: Any) -> dict[str, int]:
    """COMPANY_MERGING: the merged company's deals move to the survivor."""
    deals = Deal.objects.filter(company=merged).update(
        company=survivor, version=F("version") + 1, updated_at=timezone.now()
    )
    return {"deals": deals}
