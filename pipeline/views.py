"""Pipeline pages: the board (with moves and closing), deal detail, new deal and forecast.

Thin views: one access helper, one service call, render. HTMX requests get the named inline partial of the same
template the page uses; a move answers with only the two columns it changed (out-of-band swaps).
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header, url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect

from leads.custom_fields.forms import custom_cleaned_pop, custom_values_from
from leads.custom_fields.selectors import CustomFields, custom_fields, values_shown
from leads.handoffs import UNDO_SECONDS, handoff_can_undo
from leads.models import CustomObject
from leads.selectors import lead_get_for_viewer
from pipeline import selectors, services
from pipeline.forms import (
    ActivityForm,
    BoardFilterForm,
    CloseLostForm,
    CloseWonForm,
    DealCreateForm,
    DealEditForm,
    MoveForm,
    TaskForm,
)
from pipeline.models import Deal, Stage, Task
from salesmarketing import hooks
from salesmarketing.dates import parse_month
from salesmarketing.forms import add_service_errors
from salesmarketing.htmx import HtmxHttpRequest

FILTER_FIELDS = ("scope", "owner", "close_from", "close_to", "q", "pipeline")
FORECAST_MONTHS = (3, 6, 12)


def _get_deal_for_user(request: HtmxHttpRequest, pk: int) -> Deal:
    """The deal if the user may see and edit it; 404 otherwise (other people's deals do not exist for them)."""
    try:
        return selectors.deal_for_detail(viewer=request.user, pk=pk)
    except Deal.DoesNotExist:
        raise Http404("No such deal.") from None


def _get_deal_for_reading(request: HtmxHttpRequest, pk: int) -> Deal:
    """The deal if the user may see it (marketing: every deal, read-only); 404 otherwise."""
    try:
        return selectors.deal_for_reading(viewer=request.user, pk=pk)
    except Deal.DoesNotExist:
        raise Http404("No such deal.") from None


def _is_partial(request: HtmxHttpRequest) -> bool:
    return bool(request.htmx) and not request.htmx.boosted


def _filter_query(data: QueryDict) -> str:
    """The board's filter parameters as a query string (for links, `next` and the move form's context)."""
    return urlencode([(k, v) for k in FILTER_FIELDS for v in data.getlist(k) if v])


def _board_url(data: QueryDict) -> str:
    query = _filter_query(data)
    return reverse("pipeline:board") + (f"?{query}" if query else "")


def _safe_next(request: HtmxHttpRequest, fallback: str) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return fallback


def _filter_form(request: HtmxHttpRequest, data: QueryDict, *, shown: bool = True) -> BoardFilterForm:
    """The board's filters; a form not `shown` reads the owners list only to check an owner filter given."""
    user = request.user
    scopes = selectors.scopes_for(user)
    values = {k: data.get(k) for k in FILTER_FIELDS if k in data}
    if values.get("scope") not in scopes:
        values["scope"] = scopes[0]
    owners = selectors.owners_for(user) if shown or values.get("owner") else []
    return BoardFilterForm(values, scopes=scopes, owners=owners)


# --- The board --------------------------------------------------------------------------------------


@require_GET
@vary_on_headers("HX-Request")
def board(request: HtmxHttpRequest) -> HttpResponse:
    """The board; with `col` and `after` (a column's "more" link), that column's next page of cards: to append
    (HTMX), or on the whole board (without JavaScript)."""
    form = _filter_form(request, request.GET)
    filters = form.filters()
    only: list[int] | None = None
    after: dict[int, selectors.After] = {}
    shown_before: dict[int, int] = {}
    col = _int(request.GET.get("col"))
    if col:
        if cursor := selectors.After.parse(request.GET.get("after")):
            after[col] = cursor
            shown_before[col] = max(0, _int(request.GET.get("shown")) or 0)
        if _is_partial(request):
            only = [col]
    result = selectors.pipeline_board(
        viewer=request.user, filters=filters, only_stage_ids=only, after=after, shown_before=shown_before
    )
    form.set_pipelines(result.pipelines)
    context = {
        "board": result,
        "form": form,
        "board_url": _board_url(request.GET),
        "filter_query": _filter_query(request.GET),
    }
    if _is_partial(request):
        if only and result.columns:
            partial = "more" if after else "column"
            return render(request, f"pipeline/board.html#{partial}", {**context, "column": result.columns[0]})
        return render(request, "pipeline/board.html#board", context)
    return render(request, "pipeline/board.html", context)


def _changed_columns(
    request: HtmxHttpRequest,
    *,
    stage_ids: list[int],
    message: str = "",
    message_kind: str = "success",
    status: int = 200,
    stages_read=None,
) -> HttpResponse:
    """The columns a move changed, as out-of-band swaps, rendered with the viewer's current filters (on the
    pipeline and stages the caller read already, if it did)."""
    form = _filter_form(request, request.POST, shown=False)
    result = selectors.pipeline_board(
        viewer=request.user,
        filters=form.filters(),
        stages_read=stages_read,
        only_stage_ids=list(dict.fromkeys(stage_ids)),
    )
    context = {
        "board": result,
        "columns": result.columns,
        "board_url": _board_url(request.POST),
        "filter_query": _filter_query(request.POST),
        "message": message,
        "message_kind": message_kind,
    }
    return render(request, "pipeline/board.html#changed", context, status=status)


def _changed_meanwhile(deal: Deal) -> str:
    return _("“%(deal)s” was changed by someone else meanwhile (now: %(stage)s). Nothing was saved.") % {
        "deal": deal.name,
        "stage": deal.stage.name,
    }


def _board_conflict(request: HtmxHttpRequest, *, current: Deal, stage: Stage, next_url: str) -> HttpResponse:
    """A move or close from an old version: 409 with the card as it is now (its column and the one it was dropped
    in, redrawn) and a message; without JavaScript, the message on the page the user came from."""
    message = _changed_meanwhile(current)
    if not _is_partial(request):
        messages.error(request, message)
        return redirect(next_url)
    return _changed_columns(
        request, stage_ids=[current.stage_id, stage.pk], message=message, message_kind="error", status=409
    )


@require_POST
def deal_move(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    # The deal with its pipeline's stages, read once: for the form and for the columns the answer redraws.
    try:
        deal, stages_read = selectors.deal_to_move(viewer=request.user, pk=pk)
    except Deal.DoesNotExist:
        raise Http404("No such deal.") from None
    form = MoveForm(request.POST, stages=stages_read[2])
    next_url = _safe_next(request, _board_url(request.POST))
    if not form.is_valid():
        if _is_partial(request):
            return HttpResponse(_("Choose a stage."), status=422)
        messages.error(request, _("Choose a stage."))
        return redirect(next_url)
    stage: Stage = form.cleaned_data["stage"]
    version = form.cleaned_data["version"]
    from_stage_id = deal.stage_id
    try:
        if stage.is_closed:
            # Won and lost need their details first: check the close can happen, then ask for them.
            services.deal_check_close(deal=deal, stage=stage, version=version)
            return _close_prompt(request, deal=deal, stage=stage, next_url=next_url)
        deal = services.deal_change_stage(
            deal=deal,
            stage=stage,
            by=request.user,
            version=version,
            before_id=form.cleaned_data["before"],
            after_id=_int(request.POST.get("after")),
        )
    except services.DealChangedError as conflict:
        return _board_conflict(request, current=conflict.current, stage=stage, next_url=next_url)
    except ValidationError as error:
        return _move_refused(request, error, next_url=next_url)
    message = (
        _("Moved “%(deal)s” to %(stage)s.") % {"deal": deal.name, "stage": stage.name}
        if from_stage_id != stage.pk
        else ""
    )
    if _is_partial(request):
        return _changed_columns(
            request, stage_ids=[from_stage_id, stage.pk], message=message, stages_read=stages_read
        )
    if message:
        messages.success(request, message)
    return redirect(next_url)


def _move_refused(request: HtmxHttpRequest, error: ValidationError, *, next_url: str) -> HttpResponse:
    if _is_partial(request):
        return HttpResponse(" ".join(error.messages), status=422)
    messages.error(request, " ".join(error.messages))
    return redirect(next_url)


def _close_form(stage: Stage, deal: Deal, data=None):
    if stage.is_won:
        return CloseWonForm(data, initial={"amount": deal.amount, "version": deal.version})
    return CloseLostForm(data, initial={"version": deal.version})


def _close_context(*, deal: Deal, stage: Stage, form, next_url: str, in_dialog: bool) -> dict:
    return {
        "deal": deal,
        "stage": stage,
        "form": form,
        "next_url": next_url,
        "in_dialog": in_dialog,
        "cause_sides": json.dumps({str(cause): str(side) for cause, side in Deal.CAUSE_DEFAULT_SIDE.items()}),
    }


def _close_prompt(request: HtmxHttpRequest, *, deal: Deal, stage: Stage, next_url: str) -> HttpResponse:
    """Moving to won/lost asks for the amount or the cause: a dialog on the board, a page without JavaScript."""
    if not _is_partial(request):
        return redirect(
            reverse("pipeline:deal_close", args=[deal.pk])
            + "?"
            + urlencode({"stage": stage.pk, "next": next_url})
        )
    context = _close_context(
        deal=deal, stage=stage, form=_close_form(stage, deal), next_url=next_url, in_dialog=True
    )
    response = render(request, "pipeline/deal_close.html#form", context)
    response["HX-Retarget"] = "#close-dialog-body"
    response["HX-Reswap"] = "innerHTML"
    response["HX-Trigger-After-Swap"] = "pipeline-dialog-open"
    return response


@require_http_methods(["GET", "POST"])
def deal_close(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    deal = _get_deal_for_user(request, pk)
    data = request.POST if request.method == "POST" else request.GET
    stage = get_object_or_404(
        Stage.objects.filter(pipeline_id=deal.stage.pipeline_id).exclude(is_won=False, is_lost=False),
        pk=_int(data.get("stage")) or 0,
    )
    next_url = _safe_next(request, deal.get_absolute_url())
    from_board = _is_partial(request) and bool(request.POST.get("from_board"))
    form = _close_form(stage, deal, request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST" and form.is_valid():
        from_stage_id = deal.stage_id
        close = form.cleaned_data
        try:
            deal = services.deal_change_stage(
                deal=deal,
                stage=stage,
                by=request.user,
                version=close["version"],
                amount=close.get("amount"),
                cause=close.get("cause", ""),
                side=close.get("side", ""),
                note=close.get("note", ""),
            )
        except services.DealChangedError as conflict:
            if from_board:
                response = _board_conflict(request, current=conflict.current, stage=stage, next_url=next_url)
                response["HX-Trigger"] = "pipeline-dialog-close"
                return response
            # The page shows the deal as it is now; sending the form again is a decision made knowing it.
            deal = _get_deal_for_user(request, pk)
            posted = request.POST.copy()
            posted["version"] = str(deal.version)
            form = _close_form(stage, deal, posted)
            form.is_valid()
            form.add_error(None, _changed_meanwhile(deal))
            status = 409
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            message = (
                _("“%(deal)s” is won.") % {"deal": deal.name}
                if stage.is_won
                else _("“%(deal)s” is closed as lost.") % {"deal": deal.name}
            )
            if from_board:
                response = _changed_columns(request, stage_ids=[from_stage_id, stage.pk], message=message)
                response["HX-Trigger"] = "pipeline-dialog-close"
                return response
            messages.success(request, message)
            if _is_partial(request):
                response = HttpResponse(status=204)
                response["HX-Redirect"] = next_url
                return response
            return redirect(next_url)
    context = _close_context(deal=deal, stage=stage, form=form, next_url=next_url, in_dialog=from_board)
    if _is_partial(request):
        return render(request, "pipeline/deal_close.html#form", context, status=status)
    return render(request, "pipeline/deal_close.html", context, status=status)


# --- Deal detail ------------------------------------------------------------------------------------


def _detail_context(
    request: HtmxHttpRequest,
    deal: Deal,
    detail: selectors.DealDetail | None = None,
    *,
    custom: CustomFields | None = None,
    **forms,
) -> dict:
    owners = selectors.owners_for(request.user)
    detail = detail or selectors.deal_detail(deal=deal, custom=custom)
    return {
        "detail": detail,
        "deal": deal,
        "custom_rows": values_shown(detail.custom.all, deal.custom),
        "read_only": not selectors.can_edit_deals(request.user),
        # Just accepted from the handoffs list: the rep may take it back for a few seconds.
        "undo_handoff": deal.handoff
        if deal.handoff_id and handoff_can_undo(deal.handoff, by=request.user)
        else None,
        "undo_seconds": UNDO_SECONDS,
        "edit_form": forms.get("edit_form")
        or DealEditForm(
            instance=deal,
            owners=owners,
            custom=detail.custom,
            amount_derived=services.amount_derived_reason(deal),
        ),
        "activity_form": forms.get("activity_form") or ActivityForm(),
        "task_form": forms.get("task_form") or TaskForm(),
        "today": timezone.localdate(),
        # Sections higher apps add to the page (quotes: line items and quotes), rendered by them.
        "page_sections": hooks.call(hooks.DEAL_PAGE_SECTIONS, deal=deal, request=request),
    }


@require_GET
def deal_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    try:
        deal, detail = selectors.deal_page(viewer=request.user, pk=pk)
    except Deal.DoesNotExist:
        raise Http404("No such deal.") from None
    return render(request, "pipeline/deal_detail.html", _detail_context(request, deal, detail))


@require_GET
@vary_on_headers("HX-Request")
def deal_overview(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The deal's figures, details and edit form as they are now: the page reloads them when another part of it
    changed the deal (its line items changed the amount: salesmarketing.htmx.DEAL_CHANGED_EVENT), with the move form's
    version, so neither form saves over the change."""
    deal = _get_deal_for_reading(request, pk)
    if not _is_partial(request):
        return redirect(deal)
    read_only = not selectors.can_edit_deals(request.user)
    custom = custom_fields(object_type=CustomObject.DEAL)
    context = {
        "deal": deal,
        "read_only": read_only,
        "refreshed": True,
        "today": timezone.localdate(),
        "custom_rows": values_shown(custom.all, deal.custom),
        "edit_form": None
        if read_only
        else DealEditForm(
            instance=deal,
            owners=selectors.owners_for(request.user),
            custom=custom,
            amount_derived=services.amount_derived_reason(deal),
        ),
    }
    return render(request, "pipeline/deal_detail.html#overview", context)


@require_POST
def deal_edit(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    deal = _get_deal_for_user(request, pk)
    custom = custom_fields(object_type=CustomObject.DEAL)
    form = DealEditForm(
        request.POST,
        instance=deal,
        owners=selectors.owners_for(request.user),
        custom=custom,
        amount_derived=services.amount_derived_reason(deal),
    )
    if form.is_valid():
        data = dict(form.cleaned_data)
        version = data.pop("version")
        custom_cleaned_pop(data)
        try:
            deal = services.deal_update(
                deal=deal, by=request.user, version=version, custom=custom_values_from(form), **data
            )
        except services.DealChangedError:
            form.add_error(
                None, _("Someone else changed this deal while you were editing. Reload to see it.")
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            if not _is_partial(request):
                messages.success(request, _("Saved."))
                return redirect(deal)
            deal = _get_deal_for_user(request, pk)
            form = None
    context = _detail_context(request, deal, edit_form=form, custom=custom)
    if form is None:
        context["saved"] = True
    if _is_partial(request):
        return render(request, "pipeline/deal_detail.html#overview", context)
    return render(request, "pipeline/deal_detail.html", context)


def _log_activity(form: ActivityForm, *, by, deal=None, lead=None) -> bool:
    """Log the valid form's activity on a deal or a lead; service errors go next to their fields."""
    data = form.cleaned_data
    try:
        services.activity_log(
            by=by,
            deal=deal,
            lead=lead,
            type=data["type"],
            subject=data["subject"],
            body=data["body"],
            outcome=data["outcome"],
            occurred_at=data["occurred_at"],
            is_voice=data["is_voice"],
            voice_text=data["voice_text"],
        )
    except ValidationError as error:
        add_service_errors(form, error)
        return False
    return True


@require_POST
def activity_create(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    deal = _get_deal_for_user(request, pk)
    form = ActivityForm(request.POST)
    if form.is_valid() and _log_activity(form, by=request.user, deal=deal):
        if not _is_partial(request):
            messages.success(request, _("Activity logged."))
            return redirect(deal)
        form = None
    if _is_partial(request):
        context = {
            "deal": deal,
            "activity_form": form or ActivityForm(),
            "detail": {"activities": selectors.deal_activities(deal=deal)},
        }
        return render(request, "pipeline/deal_detail.html#activities", context)
    return render(request, "pipeline/deal_detail.html", _detail_context(request, deal, activity_form=form))


@require_POST
def task_create(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    deal = _get_deal_for_user(request, pk)
    form = TaskForm(request.POST)
    if form.is_valid():
        try:
            services.task_create(deal=deal, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            if not _is_partial(request):
                return redirect(deal)
            form = None
    return _tasks_response(request, deal, form)


@require_POST
def task_done(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    task = get_object_or_404(Task.objects.only("pk", "deal_id"), pk=pk)
    deal = _get_deal_for_user(request, task.deal_id)
    services.task_complete(task=task, by=request.user)
    if not _is_partial(request):
        return redirect(deal)
    return _tasks_response(request, deal, None)


def _tasks_response(request: HtmxHttpRequest, deal: Deal, form: TaskForm | None) -> HttpResponse:
    if _is_partial(request):
        context = {
            "deal": deal,
            "task_form": form or TaskForm(),
            "detail": {"tasks": selectors.deal_tasks(deal=deal)},
            "today": timezone.localdate(),
        }
        return render(request, "pipeline/deal_detail.html#tasks", context)
    return render(request, "pipeline/deal_detail.html", _detail_context(request, deal, task_form=form))


# --- New deal ---------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def deal_new(request: HtmxHttpRequest) -> HttpResponse:
    if not selectors.can_edit_deals(request.user):
        raise PermissionDenied
    pipeline, _pipelines, stages = selectors.board_stages(pipeline_id=_int(request.GET.get("pipeline")))
    owners = selectors.owners_for(request.user)
    form = DealCreateForm(request.POST or None, stages=stages, owners=owners, viewer=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        owner = data.get("owner") or request.user
        try:
            deal = services.deal_create(
                name=data["name"],
                owner=owner,
                by=request.user,
                company=services.deal_company_resolve(
                    name=data["company_name"], owner=owner, viewer=request.user
                ),
                contact=data["contact_email"],
                stage=data["stage"],
                amount=data["amount"],
                probability=data["probability"],
                expected_close_date=data["expected_close_date"],
                source=data["source"],
                next_step=data["next_step"],
                next_step_date=data["next_step_date"],
                custom=custom_values_from(form),
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("Deal created."))
            return redirect(deal)
    return render(request, "pipeline/deal_form.html", {"form": form, "pipeline": pipeline})


# --- Forecast ---------------------------------------------------------------------------------------


@require_GET
@vary_on_headers("HX-Request")
def forecast(request: HtmxHttpRequest) -> HttpResponse:
    form = _filter_form(request, request.GET)
    today = timezone.localdate()
    # An unreadable or out-of-range month raises InvalidDateInput: a 400 page saying so.
    start = parse_month(request.GET["from"]) if request.GET.get("from") else today.replace(day=1)
    months = _int(request.GET.get("months"))
    months = months if months in FORECAST_MONTHS else 6
    filters = form.filters()
    result = selectors.forecast(viewer=request.user, filters=filters, start=start, months=months)
    context = {
        "forecast": result,
        "form": form,
        "scope": filters.scope,
        "read_only": not selectors.can_edit_deals(request.user),
        "months_choices": FORECAST_MONTHS,
        "start_value": start.strftime("%Y-%m"),
        "prev_start": selectors.add_months(start, -months).strftime("%Y-%m"),
        "next_start": selectors.add_months(start, months).strftime("%Y-%m"),
        "filter_query": _filter_query(request.GET),
    }
    if _is_partial(request):
        return render(request, "pipeline/forecast.html#table", context)
    return render(request, "pipeline/forecast.html", context)


# --- Small parsers ----------------------------------------------------------------------------------


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@require_http_methods(["GET", "POST"])
def lead_activity_create(request: HtmxHttpRequest, lead_pk: int) -> HttpResponse:
    """Log a call, meeting, note… on a lead (no deal yet). The lead page loads this form with HTMX; a logged
    activity also lands on the lead's timeline and counts as the first touch of its open handoff."""
    lead = lead_get_for_viewer(viewer=request.user, pk=lead_pk)
    if lead is None:
        raise Http404
    form = ActivityForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and _log_activity(form, by=request.user, lead=lead):
        messages.success(request, _("Activity logged."))
        if request.htmx:
            return HttpResponseClientRedirect(lead.get_absolute_url())
        return redirect(lead)
    status = 422 if form.errors else 200
    template = "pipeline/lead_activity.html" + ("#form" if request.htmx else "")
    return render(request, template, {"lead": lead, "activity_form": form}, status=status)


@require_GET
def activity_attachment(request: HtmxHttpRequest, pk: int, attachment_pk: int) -> HttpResponse:
    """A file of an e-mail logged as an activity, for whoever may see the activity's deal or lead; always a
    download (never rendered in the page's origin)."""
    attachment = selectors.activity_attachment(
        viewer=request.user, activity_id=pk, attachment_id=attachment_pk
    )
    if attachment is None:
        raise Http404("No such attachment.")
    response = HttpResponse(bytes(attachment.data), content_type="application/octet-stream")
    response["Content-Disposition"] = content_disposition_header(True, attachment.filename)
    response["X-Content-Type-Options"] = "nosniff"
    return response
