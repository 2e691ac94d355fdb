"""The "Change owner" pages of a lead and of a company: the new owner and the reason, and the log of earlier
changes. A record the viewer does not see answers 404; one whose owner they may not change, 403."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from leads.models import Company, Lead
from leads.owners.forms import OwnerChangeForm
from leads.owners.selectors import owner_changes, owner_choices, owner_may_be_nobody
from leads.owners.services import owner_change
from leads.records.selectors import company_get_for_viewer
from salesmarketing.forms import add_service_errors
from salesmarketing.htmx import HtmxHttpRequest


@require_http_methods(["GET", "POST"])
def lead_owner_change_view(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    lead = Lead.objects.visible_to(request.user).select_related("owner", "company").filter(pk=pk).first()
    if lead is None:
        raise Http404
    return _owner_change_page(request, lead, list_url=reverse("leads:list"), list_label=_("Leads"))


@require_http_methods(["GET", "POST"])
def company_owner_change_view(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    company = company_get_for_viewer(viewer=request.user, pk=pk)
    if company is None:
        raise Http404
    return _owner_change_page(
        request, company, list_url=reverse("leads:company_list"), list_label=_("Companies")
    )


def _owner_change_page(
    request: HtmxHttpRequest, record: Lead | Company, *, list_url: str, list_label: str
) -> HttpResponse:
    people = owner_choices(viewer=request.user, record=record)
    if people is None:
        raise PermissionDenied
    form = OwnerChangeForm(
        request.POST or None, people=people, allow_nobody=owner_may_be_nobody(request.user)
    )
    if request.method == "POST" and form.is_valid():
        try:
            change = owner_change(
                record=record, owner=form.chosen_owner(), by=request.user, reason=form.cleaned_data["reason"]
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            if change is None:
                messages.info(
                    request,
                    _("%(owner)s already owns %(record)s.")
                    % {"owner": record.owner or "—", "record": record},
                )
            else:
                messages.success(request, _("The owner of %(record)s changed.") % {"record": record})
            return redirect(record)
    context = {
        "record": record,
        "form": form,
        "changes": owner_changes(record=record),
        "list_url": list_url,
        "list_label": list_label,
    }
    return render(request, "leads/owner_change.html", context)
