"""Reads for owner changes: who may hand a lead or a company to whom, and the log of a record's owners."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from leads.models import Company, Lead, OwnerChange
from salesmarketing.models import Team, User


def owner_candidates() -> QuerySet[User]:
    """Everyone who may own a lead or a company: the active sales reps and managers."""
    return User.objects.filter(is_active=True, role__in=(User.Role.SALES, User.Role.MANAGER))


def owner_choices(*, viewer: User, record: Lead | Company) -> QuerySet[User] | None:
    """The people `viewer` may make the owner of a lead or a company, or None when they may not change its owner.

    Admins choose any active sales rep or manager; a manager the reps and managers of the teams they oversee
    (their own and those they manage, as User.oversees()); a rep hands a record they own to someone in their own
    team (a record being made is asked as one they own). Marketing changes no owner (their work is the
    campaigns; handoffs give leads to sales)."""
    people = owner_candidates()
    if viewer.is_superuser or viewer.role == User.Role.ADMIN:
        pass
    elif viewer.role == User.Role.MANAGER:
        teams = Q(team__in=Team.objects.filter(manager=viewer).values("pk")) | Q(pk=viewer.pk)
        if viewer.team_id:
            teams |= Q(team_id=viewer.team_id)
        people = people.filter(teams)
    elif viewer.role == User.Role.SALES and record.owner_id == viewer.pk and viewer.team_id:
        people = people.filter(team_id=viewer.team_id)
    else:
        return None
    return people.select_related("team").order_by("team__name", "display_name", "username")


def owner_may_be_nobody(viewer: User) -> bool:
    """Whether `viewer` may leave a record without an owner (a rep's records are always someone's)."""
    return bool(viewer.is_superuser or viewer.role in (User.Role.MANAGER, User.Role.ADMIN))


def owner_changes(*, record: Lead | Company, limit: int = 20) -> QuerySet[OwnerChange]:
    """The record's owner changes, newest first."""
    return record.owner_changes.select_related("from_owner", "to_owner", "by").order_by("-at", "-id")[:limit]
