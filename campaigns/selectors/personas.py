"""The persona list and a persona's page."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db.models import Count, Q, Sum

from campaigns.models import Dimension, SegmentDay
from campaigns.periods import Period
from campaigns.selectors.common import LEADS_PAGE_SIZE
from leads.models import Campaign, Lead, Persona
from salesmarketing import hooks
from salesmarketing.models import User

# --- Personas ------------------------------------------------------------------------------------------------


def _segment_totals(dimension: str, *, values: list[str] | None = None, period: Period | None = None) -> dict:
    """{value: {step: people}} from the daily segment roll-up."""
    qs = SegmentDay.objects.filter(dimension=dimension)
    if values is not None:
        qs = qs.filter(value__in=values)
    if period is not None:
        qs = qs.filter(date__gte=period.start, date__lte=period.end)
    result: dict = {}
    for row in qs.order_by().values("value", "step").annotate(n=Sum("people")):
        result.setdefault(row["value"], {})[row["step"]] = row["n"]
    return result


def persona_list() -> tuple[list[dict], dict]:
    """Every persona with its active rules, campaigns, and how many people reached each funnel step (all time),
    plus the same for leads without a persona."""
    personas = list(
        Persona.objects.annotate(
            rule_count=Count("rules", filter=Q(rules__is_active=True), distinct=True),
            campaign_count=Count("campaigns", distinct=True),
        ).order_by("name")
    )
    funnel = _segment_totals(Dimension.PERSONA)
    rows = []
    for persona in personas:
        steps = funnel.get(str(persona.pk), {})
        rows.append({"persona": persona, "steps": steps})
    unknown = funnel.get("", {})
    return rows, unknown


@dataclass
class PersonaDetail:
    persona: Persona
    rules: list
    campaigns: list[Campaign]
    steps: dict
    leads: Page
    deals: list
    hand_set: int


def persona_detail(*, persona: Persona, viewer: User, page_number=1) -> PersonaDetail:
    leads = (
        Lead.objects.visible_to(viewer)
        .filter(persona=persona)
        .select_related("company", "owner", "first_touch_campaign")
        .order_by("-total_score", "-id")
    )
    # pipeline, campaigns' peer, hands its deals over through the DEALS hook (salesmarketing.hooks).
    deals = [
        deal
        for all_deals in hooks.call(hooks.DEALS)
        for deal in all_deals.visible_to(viewer)
        .filter(contact__persona=persona)
        .select_related("company", "owner", "stage", "contact")
        .order_by("-created_at")[:15]
    ]
    return PersonaDetail(
        persona=persona,
        rules=list(persona.rules.all()),
        campaigns=list(persona.campaigns.order_by("-start_date")),
        steps=_segment_totals(Dimension.PERSONA, values=[str(persona.pk)]).get(str(persona.pk), {}),
        leads=Paginator(leads, LEADS_PAGE_SIZE).get_page(page_number),
        deals=deals,
        hand_set=Lead.objects.filter(persona=persona, persona_set_by_hand=True).count(),
    )
