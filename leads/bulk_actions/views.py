"""Saved views of the lead list, and bulk jobs: choose an action for the picked (or all matching) leads, watch it."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from leads.bulk_actions import selectors, services
from leads.bulk_actions.forms import BulkJobForm, SavedViewForm
from salesmarketing.forms import add_service_errors
from salesmarketing.htmx import HtmxHttpRequest, partial_or_page

JOB_TEMPLATE = "leads/bulk_actions/job.html"


# --- Saved views -----------------------------------------------------------------------------------------------


@require_GET
def saved_views(request: HtmxHttpRequest) -> HttpResponse:
    views = list(selectors.saved_views_for(viewer=request.user))
    context = {
        "own": [v for v in views if v.owner_id == request.user.pk],
        "shared": [v for v in views if v.owner_id != request.user.pk],
        "sharing_choices": SavedViewForm.base_fields["sharing"].choices,
    }
    return render(request, "leads/bulk_actions/saved_views.html", context)


@require_POST
def saved_view_new(request: HtmxHttpRequest) -> HttpResponse:
    """Save the list's current filter (the `query` the list's page carries) under a name."""
    query = selectors.filter_query(QueryDict(request.POST.get("query", "")))
    form = SavedViewForm(request.POST)
    if form.is_valid():
        try:
            view = services.saved_view_create(owner=request.user, query=query, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("View “%(name)s” saved.") % {"name": view.name})
            return redirect(view)
    for errors in form.errors.values():
        messages.error(request, " ".join(errors))
    return redirect(reverse("leads:list") + (f"?{query}" if query else ""))


def _get_own_view(request: HtmxHttpRequest, pk: int):
    view = selectors.saved_view_get_own(viewer=request.user, pk=pk)
    if view is None:
        raise Http404
    return view


@require_POST
def saved_view_update(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    view = _get_own_view(request, pk)
    form = SavedViewForm(request.POST)
    if form.is_valid():
        try:
            services.saved_view_update(view=view, **form.cleaned_data)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, _("View saved."))
    else:
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
    return redirect("leads:saved_views")


@require_POST
def saved_view_delete(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    services.saved_view_delete(view=_get_own_view(request, pk))
    messages.success(request, _("View deleted."))
    return redirect("leads:saved_views")


# --- Bulk jobs -------------------------------------------------------------------------------------------------


def _selection(data: QueryDict) -> dict:
    """What the list's bulk bar sent: all leads matching its filter, or the picked rows' ids."""
    all_matching = data.get("all_matching") == "1"
    picked = [int(v) for v in data.getlist("lead") if v.isdigit()][: services.MAX_PICKED]
    query = selectors.filter_query(QueryDict(data.get("query", "")))
    return {"all_matching": all_matching, "query": query, "lead_ids": [] if all_matching else picked}


@require_POST
def bulk_new(request: HtmxHttpRequest) -> HttpResponse:
    """From the lead list's bulk bar: choose the action (first post), then queue it (`run`)."""
    selection = _selection(request.POST)
    form = BulkJobForm(request.POST if "run" in request.POST else None, viewer=request.user)
    if form.is_bound and form.is_valid():
        try:
            job = services.bulk_job_create(
                by=request.user, action=form.cleaned_data["action"], params=form.params(), **selection
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("The job is queued; this page shows its progress."))
            return redirect(job)
    context = {
        "form": form,
        "selection": selection,
        "count": selectors.selection_count(viewer=request.user, **selection),
        "back": reverse("leads:list") + (f"?{selection['query']}" if selection["query"] else ""),
    }
    return render(request, "leads/bulk_actions/new.html", context)


@require_GET
def bulk_jobs(request: HtmxHttpRequest) -> HttpResponse:
    return render(request, "leads/bulk_actions/jobs.html", {"jobs": selectors.jobs_for(viewer=request.user)})


@require_GET
@vary_on_headers("HX-Request")
def bulk_job(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The job's page; an HTMX request (the progress bar polling) gets its progress partial only."""
    job = selectors.job_get_for_viewer(viewer=request.user, pk=pk)
    if job is None:
        raise Http404
    return render(request, partial_or_page(request, JOB_TEMPLATE, "progress"), {"job": job})
