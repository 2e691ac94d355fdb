"""'My handoffs': the rep's inbox of MQLs with live SLA countdowns; log first touch, accept or reject."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect

from leads.handoffs.forms import AssignForm, RejectForm, RepAvailabilityForm
from leads.handoffs.selectors import (
    REP_NONE,
    SLA_BREACHED,
    SLA_MET,
    SLA_RUNNING,
    handoff_reps_for,
    handoffs_actionable_by,
    handoffs_filtered,
    handoffs_visible_to,
    team_reps,
    team_waiting_handoffs,
    teams_managed_by,
    with_inquiry,
)
from leads.handoffs.services import (
    UNDO_SECONDS,
    HandoffConflict,
    handoff_accept,
    handoff_assign_to,
    handoff_can_undo,
    handoff_decision_undo,
    handoff_first_touch,
    handoff_reject,
    rep_availability_set,
)
from leads.handoffs.sla import business_hours_between
from leads.models import Handoff
from salesmarketing.forms import add_service_errors
from salesmarketing.htmx import HtmxHttpRequest, partial_or_page
from salesmarketing.models import Team, User

TEMPLATE = "leads/handoffs.html"


SLA_FILTERS = [
    ("", gettext_lazy("Any SLA state")),
    (SLA_BREACHED, gettext_lazy("SLA breached")),
    (SLA_RUNNING, gettext_lazy("SLA running")),
    (SLA_MET, gettext_lazy("First touch made")),
]

_visible = handoffs_visible_to
_actionable = handoffs_actionable_by


def _can_assign(user: User) -> bool:
    return user.is_superuser or user.role in (User.Role.MANAGER, User.Role.ADMIN)


def _filter_query(data: QueryDict) -> str:
    query = QueryDict(mutable=True)
    for key in ("show", "rep", "sla"):
        if data.get(key):
            query[key] = data[key]
    return query.urlencode()


def _get_handoff_for_user(request: HtmxHttpRequest, pk: int) -> Handoff:
    handoff = (
        with_inquiry(_actionable(request.user))
        .select_related("lead__company", "owner", "team", "campaign")
        .filter(pk=pk)
        .first()
    )
    if handoff is None:
        raise Http404
    return handoff


def _decorate(handoffs: list[Handoff], now: dt.datetime, viewer: User | None = None) -> list[Handoff]:
    """Business hours left before the SLA (negative once breached), for the countdown; whether the viewer may
    still undo their decision on it."""
    for h in handoffs:
        h.hours_left = None
        h.can_undo = viewer is not None and handoff_can_undo(h, by=viewer, now=now)
        if h.is_open and h.sla_due_at and not h.first_touch_at:
            team = h.team
            kwargs = {"day_start": team.business_day_start, "day_end": team.business_day_end} if team else {}
            h.hours_left = business_hours_between(now, h.sla_due_at, **kwargs)
    return handoffs


@require_GET
@vary_on_headers("HX-Request")
def handoff_list(request: HtmxHttpRequest) -> HttpResponse:
    show = request.GET.get("show", "open")
    rep, sla = request.GET.get("rep", ""), request.GET.get("sla", "")
    qs = handoffs_filtered(
        with_inquiry(_visible(request.user)).select_related(
            "lead__company", "owner", "team", "campaign", "deal"
        ),
        rep=rep,
        sla=sla,
    )
    if show == "decided":
        qs = qs.filter(state__in=[Handoff.State.ACCEPTED, Handoff.State.REJECTED]).order_by("-decided_at")[
            :100
        ]
    else:
        show = "open"
        # Hottest first: the rep calls the best lead first, then the one closest to its SLA.
        qs = qs.filter(state__in=Handoff.OPEN_STATES).order_by("-score_at_handoff", "sla_due_at")[:200]
    handoffs = _decorate(list(qs), timezone.now(), request.user)
    reps = handoff_reps_for(request.user)
    context = {
        "handoffs": handoffs,
        "show": show,
        "rep": rep,
        "sla": sla,
        "reps": reps,
        "rep_none": REP_NONE,
        "sla_filters": SLA_FILTERS,
        "filter_query": _filter_query(request.GET),
        "reject_form": RejectForm(),
        "can_act": request.user.role != User.Role.MARKETING,
        "undo_seconds": UNDO_SECONDS,
        **_assign_context(request, reps),
    }
    return render(request, partial_or_page(request, TEMPLATE, "list"), context)


def _assign_context(request: HtmxHttpRequest, reps: list[User] | None = None) -> dict:
    if not _can_assign(request.user):
        return {"can_assign": False}
    reps = handoff_reps_for(request.user) if reps is None else reps
    return {"can_assign": True, "assign_form": AssignForm(reps=reps)}


def _row(request: HtmxHttpRequest, handoff: Handoff, **extra) -> HttpResponse:
    handoff = _get_handoff_for_user(request, handoff.pk)
    _decorate([handoff], timezone.now(), request.user)
    context = {
        "h": handoff,
        "reject_form": RejectForm(),
        "can_act": True,
        **_assign_context(request),
        **extra,
    }
    if request.htmx:
        return render(request, f"{TEMPLATE}#row", context)
    return redirect("leads:handoffs")


@require_POST
def handoff_touch(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    handoff = handoff_first_touch(handoff=_get_handoff_for_user(request, pk), by=request.user)
    return _row(request, handoff)


@require_POST
def handoff_accept_view(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    handoff = _get_handoff_for_user(request, pk)
    try:
        handoff = handoff_accept(handoff=handoff, by=request.user)
    except HandoffConflict as exc:
        messages.error(request, str(exc))
        return _row(request, handoff)
    deal = getattr(Handoff.objects.get(pk=handoff.pk), "deal", None)
    messages.success(request, _("Accepted: %(lead)s is now a sales-qualified lead.") % {"lead": handoff.lead})
    target = deal.get_absolute_url() if deal is not None else handoff.lead.get_absolute_url()
    return HttpResponseClientRedirect(target) if request.htmx else redirect(target)


@require_POST
def handoff_reject_view(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    handoff = _get_handoff_for_user(request, pk)
    form = RejectForm(request.POST)
    if not form.is_valid():
        _decorate([handoff], timezone.now())
        context = {"h": handoff, "reject_form": form, "can_act": True, "reject_open": True}
        if request.htmx:
            return render(request, f"{TEMPLATE}#row", context, status=422)
        return render(request, TEMPLATE, {**context, "handoffs": [handoff], "show": "open"}, status=422)
    try:
        handoff = handoff_reject(
            handoff=handoff,
            by=request.user,
            reason=form.cleaned_data["reason"],
            note=form.cleaned_data["note"],
        )
    except HandoffConflict as exc:
        messages.error(request, str(exc))
    return _row(request, handoff)


@require_POST
def handoff_assign_view(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """A manager (or admin) gives a waiting handoff to a rep they choose, or re-assigns an untouched one."""
    handoff = _get_handoff_for_user(request, pk)
    if not _can_assign(request.user):
        raise PermissionDenied
    form = AssignForm(request.POST, reps=handoff_reps_for(request.user))
    if not form.is_valid():
        if request.htmx:
            return _row(request, handoff, assign_form=form)
        messages.error(request, _("Choose a rep."))
        return redirect("leads:handoffs")
    rep = form.reps[form.cleaned_data["rep"]]
    try:
        handoff = handoff_assign_to(handoff=handoff, rep=rep, by=request.user)
    except HandoffConflict as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, _("%(lead)s is now %(rep)s's to call.") % {"lead": handoff.lead, "rep": rep}
        )
    return _row(request, handoff)


@require_POST
def handoff_undo_view(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Take back one's accept or reject within a few seconds (the deal an accept created goes with it)."""
    handoff = _get_handoff_for_user(request, pk)
    try:
        handoff = handoff_decision_undo(handoff=handoff, by=request.user)
    except HandoffConflict as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Undone: %(lead)s is an open handoff again.") % {"lead": handoff.lead})
    if request.htmx and request.POST.get("from") == "row":
        return _row(request, handoff)
    if request.htmx:
        return HttpResponseClientRedirect(reverse("leads:handoffs"))
    return redirect("leads:handoffs")


# --- Teams: a manager sets reps' away periods and capacity, and gives waiting handoffs to a rep by hand ----------

TEAM_TEMPLATE = "leads/team.html"
WAITING_SHOWN = 200


def _team_for_user(request: HtmxHttpRequest, pk: int) -> Team:
    """A team the viewer manages, else 403 for who manages none (reps, marketing) and 404 for another's team."""
    if not _can_assign(request.user):
        raise PermissionDenied
    team = teams_managed_by(request.user).filter(pk=pk).first()
    if team is None:
        raise Http404
    return team


@require_GET
def team_list(request: HtmxHttpRequest) -> HttpResponse:
    if not _can_assign(request.user):
        raise PermissionDenied
    teams = list(teams_managed_by(request.user))
    if len(teams) == 1:
        return redirect("leads:team", teams[0].pk)
    return render(request, "leads/teams.html", {"teams": teams})


def _team_context(
    team: Team, *, invalid: RepAvailabilityForm | None = None, invalid_pk: int | None = None
) -> dict:
    """The team page: its reps, each with the form of their away period and capacity (the one just posted when it
    was invalid), and the handoffs waiting for a rep."""
    reps = team_reps(team)
    for rep in reps:
        rep.availability_form = (
            invalid
            if invalid is not None and rep.pk == invalid_pk
            else RepAvailabilityForm(
                initial={"away_until": rep.away_until, "handoff_capacity": rep.handoff_capacity},
                prefix=f"rep{rep.pk}",
            )
        )
    return {
        "team": team,
        "reps": reps,
        "waiting": list(team_waiting_handoffs(team)[:WAITING_SHOWN]),
        "assign_form": AssignForm(reps=reps),
        "today": timezone.localdate(),
    }


@require_GET
def team_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    team = _team_for_user(request, pk)
    return render(request, TEAM_TEMPLATE, _team_context(team))


@require_POST
def team_rep_update(request: HtmxHttpRequest, pk: int, rep_pk: int) -> HttpResponse:
    """Set one rep's away period and capacity; answers the reps table (HTMX) or the page again."""
    team = _team_for_user(request, pk)
    rep = User.objects.filter(pk=rep_pk, team=team, role=User.Role.SALES, is_active=True).first()
    if rep is None:
        raise Http404
    form = RepAvailabilityForm(request.POST, prefix=f"rep{rep.pk}")
    if form.is_valid():
        try:
            rep_availability_set(rep=rep, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Saved for %(rep)s.") % {"rep": rep})
            if not request.htmx:
                return redirect("leads:team", team.pk)
    context = _team_context(team, invalid=form if form.errors else None, invalid_pk=rep.pk)
    return render(request, partial_or_page(request, TEAM_TEMPLATE, "reps"), context)


@require_POST
def team_handoff_assign(request: HtmxHttpRequest, pk: int, handoff_pk: int) -> HttpResponse:
    """Give one of the team's waiting handoffs to a rep of the team (logged in the handoff's assignment log)."""
    team = _team_for_user(request, pk)
    handoff = team_waiting_handoffs(team).filter(pk=handoff_pk).first()
    if handoff is None:
        raise Http404
    form = AssignForm(request.POST, reps=team_reps(team))
    if not form.is_valid():
        messages.error(request, _("Choose a rep."))
    else:
        rep = form.reps[form.cleaned_data["rep"]]
        try:
            handoff = handoff_assign_to(handoff=handoff, rep=rep, by=request.user)
        except HandoffConflict as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request, _("%(lead)s is now %(rep)s's to call.") % {"lead": handoff.lead, "rep": rep}
            )
    if not request.htmx:
        return redirect("leads:team", team.pk)
    return render(request, partial_or_page(request, TEAM_TEMPLATE, "team"), _team_context(team))
