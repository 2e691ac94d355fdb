"""Public booking pages (no login, like the capture endpoints; CSRF-protected, since they post to themselves;
rate limited per client IP) and the signed-in settings page where reps and managers set them up.

The public pages show a rep's name and free start times, nothing else: not what is on the calendar, not who
else booked. A booking that lost its slot to someone faster gets the page again with the message and the slots
still free.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from pipeline.booking import selectors
from pipeline.booking.forms import (
    CONSENT_WORDING,
    HONEYPOT_FIELD,
    BookingForm,
    BookingPageForm,
    TeamBookingPageForm,
)
from pipeline.booking.models import BookingPage, TeamBookingPage
from pipeline.booking.services import (
    Booker,
    SlotTaken,
    booking_create,
    booking_page_save,
    team_booking_page_save,
)
from salesmarketing.forms import add_service_errors
from salesmarketing.htmx import HtmxHttpRequest
from salesmarketing.models import Team
from salesmarketing.security import rate_limited


def _limit(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def _first_day(request: HtmxHttpRequest) -> dt.date | None:
    """The week asked for; for a form sent back (with errors), the week of its slot."""
    try:
        if request.method == "POST":
            return dt.datetime.fromisoformat(request.POST.get("slot", "")).astimezone(selectors.tz()).date()
        return dt.date.fromisoformat(request.GET.get("from", ""))
    except (ValueError, TypeError):
        return None


def _too_many(request: HtmxHttpRequest, context: dict) -> HttpResponse | None:
    scope, name, default = (
        ("booking", "BOOKING_RATE_PER_MINUTE", 10)
        if request.method == "POST"
        else ("booking_view", "BOOKING_VIEW_RATE_PER_MINUTE", 120)
    )
    if not rate_limited(request, scope, _limit(name, default)):
        return None
    context = {**context, "message": _("Too many requests from your network; try again in a minute.")}
    response = render(request, "pipeline/booking/public.html", context, status=429)
    response["Retry-After"] = "60"
    return response


def _public(
    request: HtmxHttpRequest, *, rep_page: BookingPage | None, team_page: TeamBookingPage | None
) -> HttpResponse:
    now = timezone.now()
    context: dict = {
        "rep_page": rep_page,
        "team_page": team_page,
        "consent_wording": CONSENT_WORDING,
        "minutes": (rep_page or team_page).meeting_minutes,  # type: ignore[union-attr]
    }
    refused = _too_many(request, context)
    if refused is not None:
        return refused
    form = BookingForm(request.POST or None, initial={"slot": request.GET.get("slot", "")})
    status = 200
    if request.method == "POST":
        if request.POST.get(HONEYPOT_FIELD):  # a bot: looks booked, stores nothing
            return render(request, "pipeline/booking/public.html", {**context, "booked": True})
        if form.is_valid():
            data = form.cleaned_data
            booker = Booker(
                email=data["email"],
                name=data["name"],
                company=data["company"],
                phone=data["phone"],
                note=data["note"],
                consent_email=data["consent_email"],
                consent_wording=str(CONSENT_WORDING),
            )
            try:
                booking = booking_create(
                    starts_at=data["slot"],
                    booker=booker,
                    rep_page=rep_page,
                    team_page=team_page,
                    language=translation.get_language() or settings.LANGUAGE_CODE,
                    now=now,
                )
            except SlotTaken as exc:
                context["taken"] = str(exc)
                status = 409
            except ValidationError as exc:
                add_service_errors(form, exc)
                status = 400
            else:
                context.update(booked=True, booking=booking)
                return render(request, "pipeline/booking/public.html", context, status=201)
        else:
            status = 400
    first = _first_day(request)
    week = (
        selectors.rep_week(rep_page, first=first, now=now)
        if rep_page is not None
        else selectors.team_week(team_page, first=first, now=now)  # type: ignore[arg-type]
    )
    chosen = (
        form["slot"].value()
        if (request.method == "POST" and "taken" not in context)
        else request.GET.get("slot")
    )
    context.update(week=week, form=form, chosen=_chosen(chosen, week))
    template = (
        "pipeline/booking/public.html#slots"
        if request.htmx and request.method == "GET"
        else "pipeline/booking/public.html"
    )
    response = render(request, template, context, status=status)
    response["Vary"] = "HX-Request"
    return response


def _chosen(raw: str | None, week: selectors.Week) -> dt.datetime | None:
    """The slot picked, when it is one of the free ones shown (anything else shows the list again)."""
    if not raw:
        return None
    try:
        moment = dt.datetime.fromisoformat(raw)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=selectors.tz())
    for _day, slots in week.days:
        if moment in slots:
            return moment
    return None


@login_not_required
@never_cache
@require_http_methods(["GET", "POST"])
def rep_booking(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """`/book/<slug>/`: a rep's free slots for a week; a slot's form; the booking."""
    page = selectors.rep_page_by_slug(slug)
    if page is None:
        raise Http404
    return _public(request, rep_page=page, team_page=None)


@login_not_required
@never_cache
@require_http_methods(["GET", "POST"])
def team_booking(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """`/book/team/<slug>/`: the team's free slots (any rep free); a booking goes to the round robin's rep."""
    page = selectors.team_page_by_slug(slug)
    if page is None:
        raise Http404
    return _public(request, rep_page=None, team_page=page)


# --- Settings (signed in) -----------------------------------------------------------------------------------


def _managed_teams(user) -> list[Team]:
    if user.is_superuser or user.role == user.Role.ADMIN:
        return list(Team.objects.filter(kind=Team.Kind.SALES).select_related("booking_page").order_by("name"))
    return list(Team.objects.filter(manager=user).select_related("booking_page").order_by("name"))


def _team_form(team: Team, data=None) -> TeamBookingPageForm:
    page = getattr(team, "booking_page", None)
    initial = {} if page is not None else {"slug": f"team-{team.pk}"}
    return TeamBookingPageForm(data, instance=page, prefix=f"team{team.pk}", initial=initial)


@require_http_methods(["GET", "POST"])
def booking_settings(request: HtmxHttpRequest) -> HttpResponse:
    """`/accounts/booking/`: the user's own booking page; a manager's (an admin's) teams' round-robin pages."""
    user = request.user
    own = BookingPage.objects.filter(user=user).first()
    teams = _managed_teams(user)
    form = BookingPageForm(instance=own, initial={} if own else {"slug": user.username.lower()[:50]})
    team_forms = {team.pk: _team_form(team) for team in teams}
    status = 200
    if request.method == "POST":
        which = request.POST.get("which", "")
        if which == "own":
            form = BookingPageForm(request.POST, instance=own)
            if form.is_valid():
                try:
                    booking_page_save(user=user, values=_values(form))  # type: ignore[arg-type]
                except ValidationError as exc:
                    add_service_errors(form, exc)
                else:
                    messages.success(request, _("Your booking page is saved."))
                    return redirect("booking:settings")
            status = 422
        else:
            team = next((t for t in teams if which == f"team{t.pk}"), None)
            if team is None:
                raise Http404
            team_form = _team_form(team, request.POST)
            team_forms[team.pk] = team_form
            if team_form.is_valid():
                try:
                    team_booking_page_save(team=team, by=user, values=_values(team_form))  # type: ignore[arg-type]
                except ValidationError as exc:
                    add_service_errors(team_form, exc)
                else:
                    messages.success(request, _("The team's booking page is saved."))
                    return redirect("booking:settings")
            status = 422
    context = {
        "form": form,
        "own": own,
        "teams": [(team, team_forms[team.pk]) for team in teams],
    }
    return render(request, "pipeline/booking/settings.html", context, status=status)


def _values(form) -> dict:
    return {name: form.cleaned_data[name] for name in form.Meta.fields}
