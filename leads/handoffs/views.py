"""'My handoffs': the rep's inbox of MQLs with live SLA countdowns; log first touch, accept or reject."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect

from leads.handoffs.forms import AssignForm, RejectForm
from leads.handoffs.selectors import (
    REP_NONE,
    SLA_BREACHED,
    SLA_MET,
    SLA_RUNNING,
    handoff_reps_for,
    handoffs_actionable_by,
    handoffs_filtered,
    handoffs_visible_to,
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
)
from leads.handoffs.sla import business_hours_between
from leads.models import Handoff
from salesmarketing.htmx import HtmxHttpRequest, partial_or_page
from salesmarketing.models import User

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
        _actionable(request.user)
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
        _visible(request.user).select_related("lead__company", "owner", "team", "campaign", "deal"),
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
