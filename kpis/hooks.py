"""What kpis does when the apps below it call (salesmarketing.hooks; registered in KpisConfig.ready())."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.db import models

from kpis.models import ActionItem
from kpis.services import visitor_periods_forget
from leads.models import Lead
from leads.privacy import scrub_texts

# kpis' text columns that people write and that may quote a lead (see leads.privacy.FREE_TEXT_FIELDS).
FREE_TEXT_FIELDS: tuple[tuple[type[models.Model], tuple[str, ...]], ...] = ((ActionItem, ("title",)),)


def lead_erasing(
    *, lead: Lead, visitor_ids: list[str], mentions: list[str], scrub: Callable[[str], str], now: dt.datetime
) -> dict[str, int]:
    """LEAD_ERASING: the person's tracking ids in the visitor roll-up become stand-ins (past counts stay), and the
    weekly meeting's action items lose any quote of them."""
    counts: dict[str, int] = {}
    if visitor_ids:
        counts["visitor_periods"] = visitor_periods_forget(visitors=visitor_ids)
    counts["texts_scrubbed"] = sum(
        scrub_texts(model, fields, mentions, scrub) for model, fields in FREE_TEXT_FIELDS
    )
    return counts
