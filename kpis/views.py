"""KPI pages: the shared dashboard (home page), a KPI's drill-down, the weekly review with its action items, and
targets and hand-entered values for managers.

Thin views: read the period and team from the query, call one selector or service, render the page, or for an
HTMX request the named inline partial of the same template.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from kpis import selectors, services
from kpis.forms import ActionItemForm, ManualValueForm, TargetsForm
from kpis.models import ActionItem, ManualKpiValue, may_enter_manual_values
from kpis.periods import KINDS, WEEK, Period, PeriodError, local_today
from kpis.registry import get_kpi
from kpis.selectors import action_item_owners, action_items_for_week
from kpis.selectors import weekly_review as review_selector
from salesmarketing.forms import add_service_errors
from salesmarketing.htmx import HtmxHttpRequest, partial_or_page
from salesmarketing.models import Team, User

REVIEW = "kpis/weekly_review.html"


def _teams() -> list[Team]:
    return list(Team.objects.order_by("kind", "name"))


def _team_id(value: str | None) -> int | None:
    """The team asked for, as an id (None for everyone, or for anything that cannot be one: the weekly review
    reads with it before it knows whether such a team exists)."""
    try:
        team_id = int(value or 0)
    except ValueError:
        return None
    return team_id if 0 < team_id < 2**63 else None


def _team(value: str | None, teams: list[Team]) -> Team | None:
    team_id = _team_id(value)
    return next((t for t in teams if t.pk == team_id), None)


def _period(request: HtmxHttpRequest, default: str, *, kinds=KINDS) -> Period:
    """The period asked for (the default when none is); one that cannot be read, is out of range or of a kind
    this page does not show raises PeriodError, which answers 400 with its message."""
    period = Period.parse(request.GET.get("period") or default)
    if period.kind not in kinds:
        raise PeriodError(_("This page shows a week, a month or a quarter, not a custom range."))
    return period


def _can_set_targets(user: User) -> bool:
    return user.is_manager or user.is_superuser


def _can_enter_values(user: User) -> bool:
    return may_enter_manual_values(user)


# --- the shared dashboard ---------------------------------------------------------------------------------


@require_GET
@vary_on_headers("HX-Request")
def dashboard(request: HtmxHttpRequest) -> HttpResponse:
    teams = _teams()
    data = selectors.dashboard(
        period=_period(request, WEEK), team=_team(request.GET.get("team"), teams), teams=teams
    )
    return render(request, partial_or_page(request, "kpis/dashboard.html", "body"), {"d": data})


# --- drill-down ---------------------------------------------------------------------------------------------


@require_GET
@vary_on_headers("HX-Request")
def drilldown(request: HtmxHttpRequest, key: str) -> HttpResponse:
    kpi = get_kpi(key)
    if kpi is None:
        raise Http404("No such KPI.")
    teams = _teams()
    data = selectors.drilldown(
        kpi=kpi,
        period=_period(request, WEEK, kinds=(*KINDS, "custom")),
        team=_team(request.GET.get("team"), teams),
        teams=teams,
        viewer=request.user,
        page_number=request.GET.get("page") or 1,
    )
    return render(request, partial_or_page(request, "kpis/drilldown.html", "records"), {"d": data})


@require_GET
def definitions(request: HtmxHttpRequest) -> HttpResponse:
    """docs/kpis.md, the KPI definitions, rendered (our own file: its HTML is trusted)."""
    return render(request, "kpis/definitions.html", {"content": selectors.kpi_definitions_html()})


# --- the weekly review --------------------------------------------------------------------------------------


def _week(request: HtmxHttpRequest, value: str | None) -> Period:
    """The ISO week asked for (last week when none is); anything else raises PeriodError (a 400 page)."""
    if not value:
        return Period.last_complete_week()
    week = Period.parse(value)
    if week.kind != WEEK:
        raise PeriodError(_("“%(text)s” is not an ISO week (such as 2026-W47).") % {"text": value})
    return week


def _review_url(week: Period, team: Team | None) -> str:
    params = {"week": week.label}
    if team is not None:
        params["team"] = team.pk
    return f"{reverse('kpis:weekly_review')}?{urlencode(params)}"


@require_GET
@vary_on_headers("HX-Request")
def weekly_review(request: HtmxHttpRequest) -> HttpResponse:
    week = _week(request, request.GET.get("week"))
    review = review_selector(week=week, team_id=_team_id(request.GET.get("team")), viewer=request.user)
    form = ActionItemForm(owners=review.owners, initial={"owner": request.user.pk})
    return render(request, partial_or_page(request, REVIEW, "body"), {"r": review, "form": form})


def _actions_response(
    request: HtmxHttpRequest, *, week: Period, team: Team | None, form=None
) -> HttpResponse:
    """After an action-item change: the list partial for HTMX, the review page otherwise."""
    if not request.htmx:
        return redirect(_review_url(week, team) + "#actions")
    owners = action_item_owners(viewer=request.user)
    form = form or ActionItemForm(owners=owners, initial={"owner": request.user.pk})
    context = {
        "r": {"week": week, "team": team, "action_items": action_items_for_week(week, viewer=request.user)},
        "form": form,
    }
    return render(request, f"{REVIEW}#actions", context)


@require_POST
def action_item_create(request: HtmxHttpRequest) -> HttpResponse:
    """Add an action item; for someone else only as a manager or admin (403 otherwise, from the service)."""
    week = _week(request, request.POST.get("week"))
    team = _team(request.POST.get("team"), _teams())
    # Every active user is a valid owner here, so that a forged owner meets the service's rule (403), not a
    # form error.
    form = ActionItemForm(request.POST, owners=action_item_owners())
    if form.is_valid():
        try:
            services.action_item_create(
                title=form.cleaned_data["title"],
                owner=form.cleaned_data["owner"],
                due_date=form.cleaned_data["due_date"],
                week=week,
                by=request.user,
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            return _actions_response(request, week=week, team=team)
    if not request.htmx:
        messages.error(
            request, _("The action item was not saved: %(errors)s") % {"errors": form.errors.as_text()}
        )
    form.offer(action_item_owners(viewer=request.user))
    return _actions_response(request, week=week, team=team, form=form)


@require_POST
def action_item_done(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Tick an action item off or open it again: its owner, managers and admins; everyone else sees the item
    (the review is shared) and gets 403, from the service."""
    item = get_object_or_404(ActionItem.objects.only("pk", "owner", "done_at"), pk=pk)
    services.action_item_set_done(item=item, done=request.POST.get("done") == "1", by=request.user)
    week = _week(request, request.POST.get("week"))
    return _actions_response(request, week=week, team=_team(request.POST.get("team"), _teams()))


# --- targets and hand-entered values ------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def targets(request: HtmxHttpRequest) -> HttpResponse:
    teams = _teams()
    team = _team(request.GET.get("team"), teams)
    today = local_today()
    rows = selectors.target_rows(team=team, today=today)
    can_edit = _can_set_targets(request.user)
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied
        form = TargetsForm(request.POST, rows=rows)
        if form.is_valid():
            for key, kind, value in form.changed_targets():
                services.target_set(
                    kpi=key, period_kind=kind, team=team, value=value, by=request.user, today=today
                )
            messages.success(request, _("Targets saved."))
            return redirect(request.get_full_path())
    else:
        form = TargetsForm(rows=rows)
    periods = {kind: Period.of(kind, today) for kind in KINDS}
    return render(
        request,
        "kpis/targets.html",
        {"form": form, "teams": teams, "team": team, "can_edit": can_edit, "periods": periods},
    )


@require_http_methods(["GET", "POST"])
def manual_values(request: HtmxHttpRequest) -> HttpResponse:
    can_edit = _can_enter_values(request.user)
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied
        form = ManualValueForm(request.POST)
        if form.is_valid():
            services.manual_value_set(**form.cleaned_data, by=request.user)
            messages.success(request, _("Value saved."))
            return redirect("kpis:manual_values")
    else:
        form = ManualValueForm(initial={"period_start": local_today().replace(day=1)})
    entries = list(ManualKpiValue.objects.select_related("entered_by").order_by("kpi", "-period_start")[:60])
    for entry in entries:
        entry.kpi_def = get_kpi(entry.kpi)
    return render(
        request,
        "kpis/manual_values.html",
        {"form": form, "entries": entries, "can_edit": can_edit, "now": timezone.now()},
    )
