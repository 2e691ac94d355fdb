"""Page-level reads for leads and companies. Each returns what one page shows, in a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass

from django.apps import apps
from django.core.paginator import Page, Paginator
from django.db.models import Q, QuerySet

from leads.models import Company, Handoff, Lead, Touch

LEAD_SORTS = {
    "score": ("-total_score", "-id"),
    "-score": ("total_score", "id"),
    "created": ("-created_at", "-id"),
    "-created": ("created_at", "id"),
    "last_touch": ("-last_touch_at", "-id"),
    "name": ("name", "id"),
}
PAGE_SIZE = 50
TIMELINE_LIMIT = 200


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


def lead_list(*, viewer, filters: LeadFilters, page_number: int | str = 1) -> Page:
    """One page of leads for the list: filters, sort and pagination in SQL (count + page rows)."""
    qs: QuerySet[Lead] = Lead.objects.visible_to(viewer).select_related(
        "company", "owner", "first_touch_campaign"
    )
    if filters.q:
        term = filters.q.strip()
        qs = qs.filter(
            Q(name__icontains=term)
            | Q(name_kana__icontains=term)
            | Q(email__icontains=term)
            | Q(company__name__icontains=term)
        )
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
    qs = qs.order_by(*LEAD_SORTS.get(filters.sort, LEAD_SORTS["score"]))
    return Paginator(qs, PAGE_SIZE).get_page(page_number)


@dataclass
class LeadDetail:
    lead: Lead
    timeline: list[Touch]
    timeline_truncated: bool
    handoffs: list[Handoff]
    visitor_ids: list[str]


def lead_detail(*, lead: Lead) -> LeadDetail:
    touches = list(
        lead.touches.select_related("campaign").order_by("-occurred_at", "-id")[: TIMELINE_LIMIT + 1]
    )
    return LeadDetail(
        lead=lead,
        timeline=touches[:TIMELINE_LIMIT],
        timeline_truncated=len(touches) > TIMELINE_LIMIT,
        handoffs=list(lead.handoffs.select_related("owner", "team", "campaign")),
        visitor_ids=list(lead.visitors.values_list("visitor_id", flat=True)),
    )


def lead_get_for_viewer(*, viewer, pk: int) -> Lead | None:
    return (
        Lead.objects.visible_to(viewer)
        .select_related("company", "owner", "first_touch_campaign", "persona")
        .filter(pk=pk)
        .first()
    )


@dataclass
class CompanyDetail:
    company: Company
    leads: list[Lead]
    deals: list


def company_detail(*, viewer, company: Company) -> CompanyDetail:
    leads = list(Lead.objects.visible_to(viewer).filter(company=company).select_related("owner")[:200])
    deals: list = []
    # pipeline builds on leads, so it is looked up by name rather than imported (no import loop).
    if apps.is_installed("pipeline") and any(
        m.__name__ == "Deal" for m in apps.get_app_config("pipeline").get_models()
    ):
        deal_model = apps.get_model("pipeline", "Deal")
        deals = list(
            deal_model.objects.visible_to(viewer).filter(company=company).select_related("owner", "stage")
        )
    return CompanyDetail(company=company, leads=leads, deals=deals)
