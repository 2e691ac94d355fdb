"""Reads for the records pages: which companies a viewer sees, the company list and the account page, each in a
fixed number of queries whatever the data size."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Avg, Count, Exists, Max, OuterRef, Q, QuerySet, Sum

from leads.choices import COMPANY_SIZE_BOUNDS
from leads.custom_fields.selectors import CustomFilter, custom_filter_q
from leads.detail.rows import Branch, Rows, Totals, read_together
from leads.detail.selectors import MERGE_FIELDS, MERGES_SHOWN, user_fields
from leads.models import Company, Handoff, Lead, LifecycleChange, MergeRecord, Touch
from leads.models.leads import owned_by_team_of
from leads.search.query import Terms, companies_matching
from salesmarketing import hooks
from salesmarketing.models import User
from salesmarketing.replica import reads_from_replica

PAGE_SIZE = 50
# The list's owner filter besides a user's id: the viewer's own companies, and those nobody owns.
OWNER_MINE, OWNER_NOBODY = "mine", "none"


def contacts_count() -> Count:
    """A company's contacts: its live leads (a join does not apply Lead.objects' filter, so it is spelled here)."""
    return Count("leads", filter=Q(leads__merged_into__isnull=True))


ACCOUNT_LEADS = 200
ACCOUNT_TOUCHES = 20


def _deals() -> list[Any]:  # pipeline's DealQuerySet, which leads may not import
    # pipeline builds on leads, so it hands its deals over through the DEALS hook (salesmarketing.hooks).
    return list(hooks.call(hooks.DEALS))


def companies_visible_to(viewer) -> QuerySet[Company]:
    """Marketing, managers and admins see every company. A rep sees those owned by their team, those with a lead
    or deal they see, and the unowned companies nobody works with yet (no lead, no deal: a company just entered);
    a company owned by another team's rep stays theirs."""
    qs = Company.objects.all()
    if viewer.role != User.Role.SALES:
        return qs
    condition: Any = owned_by_team_of(viewer) | Exists(
        Lead.objects.visible_to(viewer).filter(company=OuterRef("pk"))
    )
    anybody: Any = Exists(Lead.objects.filter(company=OuterRef("pk")))
    for deals in _deals():
        condition |= Exists(deals.visible_to(viewer).filter(company=OuterRef("pk")))
        anybody |= Exists(deals.filter(company=OuterRef("pk")))
    return qs.filter(condition | (Q(owner__isnull=True) & ~anybody))


def company_get_for_viewer(*, viewer, pk: int) -> Company | None:
    return companies_visible_to(viewer).select_related("parent", "owner").filter(pk=pk).first()


@dataclass(frozen=True)
class CompanyFilters:
    q: str = ""
    industry: str = ""
    size: str = ""
    prefecture: str = ""
    owner: str = ""  # a user's id, OWNER_MINE or OWNER_NOBODY; "" for any owner
    customer: str = ""  # "yes" / "no" / ""
    custom: tuple[CustomFilter, ...] = ()  # the custom fields' filters (GIN index on `custom`)


@reads_from_replica()
def company_list(*, viewer, filters: CompanyFilters, page_number: int | str = 1) -> Page:
    """One page of the companies the viewer sees, with each one's number of contacts (count + page rows)."""
    qs = companies_visible_to(viewer).select_related("parent", "owner")
    terms = Terms.parse(filters.q)
    if terms.text:  # the header search's matching: kana folded, a corporate number by its digits
        qs = companies_matching(qs, terms)
    if filters.industry:
        qs = qs.filter(industry=filters.industry)
    if filters.size in COMPANY_SIZE_BOUNDS:
        low, high = COMPANY_SIZE_BOUNDS[filters.size]
        qs = qs.filter(employee_count__gte=low)
        if high is not None:
            qs = qs.filter(employee_count__lte=high)
    if filters.prefecture:
        qs = qs.filter(prefecture=filters.prefecture)
    if filters.owner == OWNER_MINE:
        qs = qs.filter(owner=viewer)
    elif filters.owner == OWNER_NOBODY:
        qs = qs.filter(owner__isnull=True)
    elif filters.owner:
        qs = qs.filter(owner_id=int(filters.owner))
    if filters.customer == "yes":
        qs = qs.filter(customer_since__isnull=False)
    elif filters.customer == "no":
        qs = qs.filter(customer_since__isnull=True)
    if filters.custom:
        qs = qs.filter(custom_filter_q(list(filters.custom)))
    qs = qs.annotate(contacts=contacts_count()).order_by("name", "pk")
    return Paginator(qs, PAGE_SIZE).get_page(page_number)


@dataclass
class Account:
    company: Company
    leads: list[Lead]
    leads_total: int
    deals: list[Any]
    touches: list[Touch]
    handoffs: list[Handoff]
    scores: dict[str, Any] = field(default_factory=dict)
    revenue_won: Decimal = Decimal(0)
    deals_won: int = 0
    subsidiaries: list[Company] = field(default_factory=list)
    customer_changes: list[LifecycleChange] = field(default_factory=list)
    merges: list[MergeRecord] = field(default_factory=list)


def account_detail(*, viewer, company: Company) -> Account:
    """The account page: contacts, deals and their stages, recent touches, the score roll-up, open handoffs,
    revenue won (the company's lifetime value so far), subsidiaries and the merges it absorbed — in one statement
    (leads.detail.rows), whatever the number of contacts, deals or touches."""
    leads_qs = Lead.objects.visible_to(viewer).filter(company=company)
    branches: dict[str, Branch] = {
        "leads": Rows(
            leads_qs.order_by("-total_score", "pk")[:ACCOUNT_LEADS],
            ("id", "name", "email", "title", "lifecycle_stage", "total_score", *user_fields("owner")),
        ),
        "scores": Totals(
            leads_qs,
            {
                "n": Count("pk"),
                "best": Max("total_score"),
                "average": Avg("total_score"),
                "fit": Max("fit_score"),
            },
            defaults={"n": 0},
        ),
        "touches": Rows(
            Touch.objects.filter(lead__in=leads_qs).order_by("-occurred_at", "-id")[:ACCOUNT_TOUCHES],
            ("id", "occurred_at", "type", "lead__name", "lead__email", "campaign__name"),
        ),
        "handoffs": Rows(
            Handoff.objects.filter(lead__in=leads_qs, state__in=Handoff.OPEN_STATES).order_by(
                "sla_due_at", "pk"
            ),
            ("id", "state", "sla_due_at", "lead__name", "lead__email", *user_fields("owner")),
        ),
        "subsidiaries": Rows(company.subsidiaries.order_by("name")[:50], ("id", "name")),
        "merges": Rows(
            MergeRecord.objects.filter(company=company).order_by("-at", "-id")[:MERGES_SHOWN], MERGE_FIELDS
        ),
    }
    hooked = _deals()
    for i, all_deals in enumerate(hooked):
        branches[f"deals_{i}"] = Rows(
            all_deals.visible_to(viewer).filter(company=company).order_by("-created_at")[:ACCOUNT_LEADS],
            ("id", "name", "created_at", "amount", "stage__name_ja", "stage__name_en", *user_fields("owner")),
        )
        branches[f"won_{i}"] = Totals(
            all_deals.filter(company=company, status="won"),
            {"revenue": Sum("won_amount"), "n": Count("pk")},
            defaults={"n": 0},
        )
    found = read_together(**branches)
    deals: list[Any] = []
    revenue, won = Decimal(0), 0
    for i in range(len(hooked)):
        deals += found[f"deals_{i}"]
        totals = found[f"won_{i}"][0]
        revenue += Decimal(str(totals["revenue"] or 0))
        won += totals["n"] or 0
    scores = found["scores"][0]
    return Account(
        company=company,
        leads=found["leads"],
        leads_total=scores["n"] or 0,
        deals=deals,
        touches=found["touches"],
        handoffs=found["handoffs"],
        scores=scores,
        revenue_won=revenue,
        deals_won=won,
        subsidiaries=found["subsidiaries"],
        merges=found["merges"],
    )


def lead_lifecycle_history(*, lead: Lead, limit: int = 50) -> list[LifecycleChange]:
    return list(lead.lifecycle_changes.select_related("by").order_by("-at", "-id")[:limit])
