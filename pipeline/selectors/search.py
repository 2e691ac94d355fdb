"""The header search's deals (hooks.SEARCH, called by leads.search): deals the viewer may read whose name holds
the search (starts with it, for a search too short for the trigram index), newest first, in one query."""

from __future__ import annotations

from django.utils.translation import pgettext

from leads.search.query import Terms
from leads.search.selectors import SearchGroup, SearchHit, first, list_url
from pipeline.models import Deal
from pipeline.selectors.access import SCOPE_ALL


def deal_search(*, viewer, terms: Terms, limit: int) -> SearchGroup:
    qs = (
        Deal.objects.readable_by(viewer)
        .filter(terms.starts("name") if terms.short else terms.contains("name"))
        .select_related("company", "stage")
        .order_by("-created_at", "-id")
    )
    deals, more = first(qs, limit)
    hits = [
        SearchHit(
            title=deal.name,
            url=deal.get_absolute_url(),
            detail=" · ".join(v for v in (deal.company.name if deal.company else "", deal.stage.name) if v),
        )
        for deal in deals
    ]
    # The board with every deal the viewer may read (a scope they lack falls back to their default one).
    return SearchGroup(
        key="deals",
        label=pgettext("search group", "Deals"),
        hits=hits,
        more=more,
        see_all_url=list_url("pipeline:board", q=terms.text, scope=SCOPE_ALL),
    )
