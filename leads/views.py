from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from leads import selectors
from leads.bulk_actions import selectors as bulk_selectors
from leads.custom_fields.selectors import custom_fields
from leads.detail import selectors as detail_selectors
from leads.filters import LeadFilterForm
from leads.merge import selectors as merge_selectors
from leads.models import CustomObject, Lead
from leads.records.forms import LifecycleForm
from leads.services import lead_accept_submitted
from salesmarketing import hooks
from salesmarketing.htmx import HtmxHttpRequest, partial_or_page
from salesmarketing.models import User


@require_GET
@vary_on_headers("HX-Request")
def lead_list(request: HtmxHttpRequest) -> HttpResponse:
    custom = custom_fields(object_type=CustomObject.LEAD)  # the filters' and the columns' (one query)
    form = LeadFilterForm(request.GET or None, custom=custom)
    page = selectors.lead_list(
        viewer=request.user, filters=form.filters(), page_number=request.GET.get("page", 1)
    )
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "custom_columns": custom.columns,  # values come from the lead's row: no query per row
        "owners": User.objects.filter(role__in=["sales", "manager"], is_active=True).order_by("display_name"),
        # (label, url) buttons for the selected leads: leads' bulk jobs (which also take "all N matching"), then
        # what the higher apps offer (nurture: add to a static segment)
        "bulk_actions": [
            (_("Bulk action…"), reverse("leads:bulk_new")),
            *(a for actions in hooks.call(hooks.LEAD_LIST_ACTIONS, user=request.user) for a in actions),
        ],
        "saved_views": bulk_selectors.saved_views_for(viewer=request.user),
    }
    return render(request, partial_or_page(request, "leads/lead_list.html", "results"), context)


def _get_lead_for_user(request: HtmxHttpRequest, pk: int):
    lead = selectors.lead_get_for_viewer(viewer=request.user, pk=pk)
    if lead is None:
        raise Http404
    return lead


@require_GET
@vary_on_headers("HX-Request")
def lead_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    lead = selectors.lead_get_for_viewer(viewer=request.user, pk=pk)
    if lead is None:
        # A merged lead's page leads to the one it was merged into (if the viewer sees that one).
        survivor = merge_selectors.lead_survivor_of(viewer=request.user, pk=pk)
        if survivor is None:
            raise Http404
        return redirect(survivor)
    before = detail_selectors.Cursor.parse(request.GET.get("before", ""))
    if request.htmx and not request.htmx.boosted:  # the timeline's "Older" link: the next page of entries
        timeline = detail_selectors.lead_timeline(lead=lead, viewer=request.user, before=before)
        return render(
            request, "leads/lead_detail.html#timeline_entries", {"lead": lead, "timeline": timeline}
        )
    # (label, url) links the higher apps offer on the lead's page (nurture: enrol in a sequence)
    actions = [
        a for found in hooks.call(hooks.LEAD_PAGE_ACTIONS, user=request.user, lead=lead) for a in found
    ]
    page = detail_selectors.lead_page(lead=lead, viewer=request.user, before=before)
    context = {
        "d": page,
        "timeline": page.timeline,
        "lifecycle_history": page.lifecycle_history,
        "lifecycle_form": LifecycleForm(initial={"stage": lead.lifecycle_stage}),
        "page_actions": actions,
        "merges": page.merges,
    }
    return render(request, "leads/lead_detail.html", context)


@require_POST
def lead_accept_submitted_view(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Take submitted values into the lead: each `accept` is "<touch id>:<field>" (one button, or all of them)."""
    lead = _get_lead_for_user(request, pk)
    choices = []
    for item in request.POST.getlist("accept"):
        touch_id, _sep, name = item.partition(":")
        if touch_id.isdigit():
            choices.append((int(touch_id), name))
    try:
        changed = lead_accept_submitted(lead=lead, choices=choices, by=request.user)
    except Lead.DoesNotExist:  # erased a moment ago
        raise Http404 from None
    if changed:
        messages.success(request, _("The submitted values were taken into the lead."))
    return redirect(lead)
