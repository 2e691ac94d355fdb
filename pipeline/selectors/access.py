"""Who sees which deals, and the board's filters (shared by the board and the forecast)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import DecimalField, Q, QuerySet

from leads.models import Company, Lead
from leads.search.query import Terms
from pipeline.models import Deal
from salesmarketing.models import Team, User

SCOPE_MINE, SCOPE_TEAM, SCOPE_ALL, SCOPE_MARKETING = "mine", "team", "all", "marketing"
ZERO = Decimal(0)
WEIGHTED_SUM = DecimalField(max_digits=20, decimal_places=0)


def is_admin(user: User) -> bool:
    return user.is_superuser or user.role == User.Role.ADMIN


def can_edit_deals(user: User) -> bool:
    """Whether the pipeline pages show `user` controls that change deals (marketing reads them only)."""
    return is_admin(user) or user.role != User.Role.MARKETING


def scopes_for(user: User) -> list[str]:
    """The board scopes a user may pick, the default first."""
    if is_admin(user):
        return [SCOPE_ALL, SCOPE_TEAM, SCOPE_MINE]
    if user.role == User.Role.MARKETING:
        # What became of marketing's leads first; every deal one click away, read-only both.
        return [SCOPE_MARKETING, SCOPE_ALL]
    if user.role == User.Role.MANAGER:
        return [SCOPE_TEAM, SCOPE_MINE]
    return [SCOPE_MINE]


def _team_ids(user: User):
    """The teams a user manages, plus their own team (a subquery, not a round trip)."""
    condition = Q(manager=user)
    if user.team_id:
        condition |= Q(pk=user.team_id)
    return Team.objects.filter(condition).values("pk")


def owners_for(user: User) -> list[User]:
    """The people whose deals the user may filter the board by (empty for a rep, who sees only their own)."""
    if is_admin(user):
        qs = User.objects.filter(role__in=[User.Role.SALES, User.Role.MANAGER])
    elif user.role == User.Role.MANAGER:
        qs = User.objects.filter(Q(team__in=_team_ids(user)) | Q(pk=user.pk))
    else:
        return []
    return list(qs.filter(is_active=True).order_by("team__name", "display_name", "username"))


def companies_visible_to(viewer: User) -> QuerySet[Company]:
    """The companies `viewer` may see, by the company page's rule: everyone but a sales rep sees them all; a rep
    sees those where a lead or a deal they see works (one subquery each, no round trip)."""
    companies = Company.objects.all()
    if viewer.role != User.Role.SALES:
        return companies
    return companies.filter(
        Q(pk__in=Lead.objects.visible_to(viewer).values("company_id"))
        | Q(pk__in=Deal.objects.visible_to(viewer).values("company_id"))
    )


@dataclass
class BoardFilters:
    scope: str = ""
    owner_id: int | None = None
    close_from: dt.date | None = None
    close_to: dt.date | None = None
    q: str = ""
    pipeline_id: int | None = None


def filtered_deals(*, viewer: User, filters: BoardFilters) -> QuerySet[Deal]:
    qs = Deal.objects.readable_by(viewer)
    scopes = scopes_for(viewer)
    scope = filters.scope if filters.scope in scopes else scopes[0]
    if scope == SCOPE_MARKETING:
        qs = qs.from_handoff()
    elif scope == SCOPE_MINE:
        qs = qs.filter(owner=viewer)
    elif scope == SCOPE_TEAM:
        qs = qs.filter(Q(team__in=_team_ids(viewer)) | Q(owner=viewer))
    if filters.owner_id:
        qs = qs.filter(owner_id=filters.owner_id)
    if filters.close_from:
        qs = qs.filter(expected_close_date__gte=filters.close_from)
    if filters.close_to:
        qs = qs.filter(expected_close_date__lte=filters.close_to)
    if filters.q:  # the header search's matching (kana folded), on the deal's and its company's name
        qs = qs.filter(Terms.parse(filters.q).contains("name", "company__name"))
    return qs
