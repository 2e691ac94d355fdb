"""Reads for owner changes: who may hand a lead to whom, and the log of a lead's owners."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from leads.models import Lead, OwnerChange
from salesmarketing.models import Team, User


def lead_owner_choices(*, viewer: User, lead: Lead) -> list[User] | None:
    """The people `viewer` may make the lead's owner, or None when they may not change its owner at all.

    Admins choose any active sales rep or manager; a manager the reps and managers of the teams they oversee
    (their own and those they manage, as User.oversees()); a rep hands a lead they own to someone in their own
    team. Marketing changes no owner (their work is the campaigns; handoffs give leads to sales)."""
    people = User.objects.filter(is_active=True, role__in=(User.Role.SALES, User.Role.MANAGER))
    if viewer.is_superuser or viewer.role == User.Role.ADMIN:
        pass
    elif viewer.role == User.Role.MANAGER:
        teams = Q(team__in=Team.objects.filter(manager=viewer).values("pk")) | Q(pk=viewer.pk)
        if viewer.team_id:
            teams |= Q(team_id=viewer.team_id)
        people = people.filter(teams)
    elif viewer.role == User.Role.SALES and lead.owner_id == viewer.pk and viewer.team_id:
        people = people.filter(team_id=viewer.team_id)
    else:
        return None
    return list(people.select_related("team").order_by("team__name", "display_name", "username"))


def lead_owner_changes(*, lead: Lead, limit: int = 20) -> QuerySet[OwnerChange]:
    """The lead's owner changes, newest first."""
    return lead.owner_changes.select_related("from_owner", "to_owner", "by").order_by("-at", "-id")[:limit]
