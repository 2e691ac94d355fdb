"""The search's reads: leads and companies the viewer may see whose name, kana, email, phone, domain or
corporate number holds the search, and the groups the higher apps add (hooks.SEARCH: pipeline's deals). One query
per group, whatever the data size; nothing at all for a search too short to mean anything."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.db.models import QuerySet
from django.urls import reverse
from django.utils.translation import pgettext

from leads.models import Lead
from leads.records.selectors import companies_visible_to
from leads.search.query import Terms, companies_matching, leads_matching
from salesmarketing import hooks
from salesmarketing.replica import reads_from_replica

LIVE_LIMIT = 5  # per group, in the header's drop-down
PAGE_LIMIT = 20  # per group, on the results page


@dataclass(frozen=True)
class SearchHit:
    title: str
    url: str
    detail: str = ""  # a second line: the company, the email, the stage…


@dataclass(frozen=True)
class SearchGroup:
    """One kind of record found: at most `limit` hits, and whether there were more (then `see_all_url`, the kind's
    own list filtered by the search, when it has one)."""

    key: str
    label: str
    hits: list[SearchHit]
    more: bool = False
    see_all_url: str = ""


@dataclass
class SearchResults:
    terms: Terms
    groups: list[SearchGroup] = field(default_factory=list)


def first(qs: QuerySet, limit: int) -> tuple[list, bool]:
    """The first `limit` rows and whether there are more (one query: limit + 1 rows)."""
    rows = list(qs[: limit + 1])
    return rows[:limit], len(rows) > limit


def list_url(name: str, **params: str) -> str:
    return f"{reverse(name)}?{urlencode(params)}"


def search_leads(*, viewer, terms: Terms, limit: int) -> SearchGroup:
    qs = leads_matching(Lead.objects.visible_to(viewer), terms)
    qs = qs.select_related("company").order_by("-total_score", "-id")
    leads, more = first(qs, limit)
    hits = [
        SearchHit(
            title=str(lead),
            url=lead.get_absolute_url(),
            detail=" · ".join(v for v in (lead.company.name if lead.company else "", lead.email) if v),
        )
        for lead in leads
    ]
    return SearchGroup(
        key="leads",
        label=pgettext("search group", "Leads"),
        hits=hits,
        more=more,
        see_all_url=list_url("leads:list", q=terms.text),
    )


def search_companies(*, viewer, terms: Terms, limit: int) -> SearchGroup:
    qs = companies_matching(companies_visible_to(viewer), terms).order_by("name", "pk")
    companies, more = first(qs, limit)
    hits = [
        SearchHit(
            title=c.name,
            url=c.get_absolute_url(),
            detail=" · ".join(v for v in (c.domain, c.prefecture, c.corporate_number) if v),
        )
        for c in companies
    ]
    return SearchGroup(
        key="companies",
        label=pgettext("search group", "Companies"),
        hits=hits,
        more=more,
        see_all_url=list_url("leads:company_list", q=terms.text),
    )


@reads_from_replica()
def search(*, viewer, text: str | None, limit: int = LIVE_LIMIT) -> SearchResults:
    """Every group for `text`, leads first, then companies, then the higher apps' groups (INSTALLED_APPS order).
    A group with no hits is left out."""
    terms = Terms.parse(text)
    results = SearchResults(terms=terms)
    if not terms.searchable:
        return results
    groups = [
        search_leads(viewer=viewer, terms=terms, limit=limit),
        search_companies(viewer=viewer, terms=terms, limit=limit),
        *hooks.call(hooks.SEARCH, viewer=viewer, terms=terms, limit=limit),
    ]
    results.groups = [g for g in groups if g is not None and g.hits]
    return results
