"""Lookups over the JSON API: the users and teams that ids in other answers (owner_id, team_id) name.

Any valid key reads them (no scope): they hold no personal data beyond a user's name and role."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema

from salesmarketing.models import Team, User

router = Router(tags=["lookups"])

MAX_ROWS = 1000


class UserOut(Schema):
    id: int
    username: str
    display_name: str
    role: str
    team_id: int | None
    is_active: bool


class TeamOut(Schema):
    id: int
    name: str
    kind: str
    manager_id: int | None


@router.get("/users", response=list[UserOut], summary="List users")
def users_list(request: HttpRequest, active: bool | None = None):
    """Every user (at most 1,000), by username; `active=true` for those who can still log in and own records."""
    qs = User.objects.order_by("username", "pk")
    if active is not None:
        qs = qs.filter(is_active=active)
    return list(qs[:MAX_ROWS])


@router.get("/teams", response=list[TeamOut], summary="List teams")
def teams_list(request: HttpRequest):
    return list(Team.objects.order_by("name", "pk")[:MAX_ROWS])
