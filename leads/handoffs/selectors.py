"""Reads for the handoff pages and API: who sees and who may act on which handoff, the rep and SLA filters."""

from __future__ import annotations

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery, TextField
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.db.models.functions import Coalesce, Left
from django.utils import timezone

from leads.models import Handoff, Touch
from salesmarketing.models import Team, User


def handoffs_visible_to(user) -> QuerySet[Handoff]:
    """Reps see their own handoffs, managers those of the teams they oversee (as with deals), marketing and admins
    all of them."""
    qs = Handoff.objects.all()
    if user.role == "sales":
        return qs.filter(owner=user)
    if user.role == "manager":
        return qs.filter(user.oversees())
    return qs


def handoffs_actionable_by(user) -> QuerySet[Handoff]:
    """Who may act on a handoff: its rep, the team's manager, an admin (marketing only watches)."""
    if user.role == "marketing":
        return Handoff.objects.none()
    return handoffs_visible_to(user)


# The fields of a web form (`properties["fields"]`, what the site posted besides name, email, …) that hold the
# person's own words: the first one present is the inquiry the handoff card shows.
INQUIRY_FIELDS = (
    "custom.inquiry",
    "inquiry",
    "message",
    "comment",
    "comments",
    "question",
    "body",
    "お問い合わせ内容",
    "問い合わせ内容",
    "お問い合わせ",
    "ご相談内容",
    "ご質問",
    "ご要望",
    "備考",
    "メッセージ",
)
INQUIRY_CHARS = 500


def with_inquiry(qs: QuerySet[Handoff]) -> QuerySet[Handoff]:
    """Each handoff with `inquiry`: what the lead wrote in their latest web form (None when nothing), read in the
    same query as a subquery over the lead's touches (touch_lead_time_idx), so a list costs no query per row."""
    fields = KeyTransform("fields", "properties")
    text = Coalesce(*(KeyTextTransform(name, fields) for name in INQUIRY_FIELDS), output_field=TextField())
    latest = (
        Touch.objects.filter(lead_id=OuterRef("lead_id"), source__startswith="form:")
        .annotate(inquiry_text=text)
        .filter(inquiry_text__isnull=False)
        .exclude(inquiry_text="")
        .order_by("-occurred_at", "-id")
        .values("inquiry_text")[:1]
    )
    return qs.annotate(inquiry=Left(Subquery(latest, output_field=TextField()), INQUIRY_CHARS))


SLA_BREACHED, SLA_RUNNING, SLA_MET = "breached", "running", "met"
REP_NONE = "none"  # the rep filter's "waiting for a rep"


def handoff_reps_for(user) -> list:
    """The reps `user` may filter the handoff list by and (managers, admins) assign handoffs to: admins and
    marketing all active reps, a manager those of the teams they manage and of their own; a rep nobody."""
    if user.role == User.Role.SALES and not user.is_superuser:
        return []
    reps = User.objects.filter(role=User.Role.SALES, is_active=True, team__isnull=False)
    if user.role == User.Role.MANAGER and not user.is_superuser:
        teams = Q(team__in=Team.objects.filter(manager=user).values("pk"))
        if user.team_id:
            teams |= Q(team_id=user.team_id)
        reps = reps.filter(teams)
    return list(reps.select_related("team").order_by("team__name", "display_name", "username"))


def handoffs_filtered(qs: QuerySet[Handoff], *, rep: str = "", sla: str = "", now=None) -> QuerySet[Handoff]:
    """The handoff list's filters: by rep (a user id, or REP_NONE for those waiting for one) and by SLA state
    (breached: not touched and past due; running: not touched, not yet due; met: first touch made)."""
    now = now or timezone.now()
    if rep == REP_NONE:
        qs = qs.filter(owner__isnull=True)
    elif rep.isdigit():
        qs = qs.filter(owner_id=int(rep))
    if sla == SLA_BREACHED:
        qs = qs.filter(first_touch_at__isnull=True, sla_due_at__lt=now)
    elif sla == SLA_RUNNING:
        qs = qs.filter(first_touch_at__isnull=True, sla_due_at__gte=now)
    elif sla == SLA_MET:
        qs = qs.filter(first_touch_at__isnull=False)
    return qs


# --- Teams: the manager's page of reps (away periods, capacity) and the handoffs waiting for one ---------------


def teams_managed_by(user) -> QuerySet[Team]:
    """The sales teams whose reps `user` sets up and assigns: an admin all of them; a manager those they manage and
    their own (as User.oversees()); anyone else none."""
    teams = Team.objects.filter(kind=Team.Kind.SALES).select_related("manager").order_by("name")
    if user.is_superuser or user.role == User.Role.ADMIN:
        return teams
    if user.role != User.Role.MANAGER:
        return teams.none()
    condition = Q(manager=user)
    if user.team_id:
        condition |= Q(pk=user.team_id)
    return teams.filter(condition)


def team_reps(team: Team) -> list[User]:
    """The team's active reps with their open handoffs (`open_count`), by name."""
    return list(
        User.objects.filter(team=team, role=User.Role.SALES, is_active=True)
        .annotate(open_count=Count("handoffs", filter=Q(handoffs__state__in=Handoff.OPEN_STATES)))
        .select_related("team")
        .order_by("display_name", "username")
    )


def team_waiting_handoffs(team: Team) -> QuerySet[Handoff]:
    """The team's handoffs a manager may still give to a rep by hand: waiting for one, or assigned and not yet
    touched; oldest MQL first."""
    return (
        Handoff.objects.filter(team=team, first_touch_at__isnull=True)
        .filter(state__in=(Handoff.State.UNASSIGNED, Handoff.State.ASSIGNED))
        .select_related("lead__company", "owner")
        .order_by("mql_at", "id")
    )
