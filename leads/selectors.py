"""Page-level reads for leads and companies. Each returns what one page shows, in a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db.models import F, OrderBy, QuerySet

from leads.custom_fields.selectors import CustomFilter, custom_filter_q
from leads.models import Lead
from leads.search.query import Terms, leads_matching
from salesmarketing.replica import reads_from_replica

LEAD_SORTS: dict[str, tuple[str | OrderBy, ...]] = {
    "score": ("-total_score", "-id"),
    "-score": ("total_score", "id"),
    "created": ("-created_at", "-id"),
    "-created": ("created_at", "id"),
    "last_touch": (
        F("last_touch_at").desc(nulls_last=True),
        "-id",
    ),  # never touched last; lead_last_touch_idx
    "name": ("name", "id"),
}
PAGE_SIZE = 50


@dataclass(frozen=True)
class LeadFilters:
    q: str = ""
    lifecycle: str = ""
    awareness: str = ""
    owner: str = ""  # a user id, "me" or "none"
    campaign: int | None = None
    score_min: int | None = None
    score_max: int | None = None
    sort: str = "score"
    custom: tuple[CustomFilter, ...] = ()  # the custom fields' filters (GIN index on `custom`)


@reads_from_replica()
def lead_list(*, viewer, filters: LeadFilters, page_number: int | str = 1) -> Page:
    """One page of leads for the list: filters, sort and pagination in SQL (count + page rows)."""
    return Paginator(lead_filtered(viewer=viewer, filters=filters), PAGE_SIZE).get_page(page_number)


@reads_from_replica()
def lead_filtered(*, viewer, filters: LeadFilters) -> QuerySet[Lead]:
    """The leads the viewer may see that match the list's filters, in its order (the list and the CSV export)."""
    qs: QuerySet[Lead] = Lead.objects.visible_to(viewer).select_related(
        "company", "owner", "first_touch_campaign"
    )
    terms = Terms.parse(filters.q)
    if (
        terms.text
    ):  # the header search's matching (kana folded, a phone by its digits), and the company's name
        qs = leads_matching(qs, terms, company=True)
    if filters.lifecycle:
        qs = qs.filter(lifecycle_stage=filters.lifecycle)
    if filters.awareness:
        qs = qs.filter(awareness_stage=filters.awareness)
    if filters.owner == "me":
        qs = qs.filter(owner=viewer)
    elif filters.owner == "none":
        qs = qs.filter(owner__isnull=True)
    elif filters.owner.isdigit():
        qs = qs.filter(owner_id=int(filters.owner))
    if filters.campaign:
        qs = qs.filter(first_touch_campaign_id=filters.campaign)
    if filters.score_min is not None:
        qs = qs.filter(total_score__gte=filters.score_min)
    if filters.score_max is not None:
        qs = qs.filter(total_score__lte=filters.score_max)
    if filters.custom:
        qs = qs.filter(custom_filter_q(list(filters.custom)))
    return qs.order_by(*LEAD_SORTS.get(filters.sort, LEAD_SORTS["score"]))


def lead_get_for_viewer(*, viewer, pk: int) -> Lead | None:
    return (
        Lead.objects.visible_to(viewer)
        .select_related("company", "owner", "first_touch_campaign", "persona")
        .filter(pk=pk)
        .first()
    )
