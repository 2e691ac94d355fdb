"""A lead's "Change owner" page: the new owner and the reason, and the log of earlier changes."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from leads.models import Lead
from leads.owners.forms import OwnerChangeForm
from leads.owners.selectors import lead_owner_changes, lead_owner_choices
from leads.owners.services import lead_owner_change
from salesmarketing.forms import add_service_errors
from salesmarketing.htmx import HtmxHttpRequest
from salesmarketing.models import User


@require_http_methods(["GET", "POST"])
def lead_owner_change_view(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    lead = Lead.objects.visible_to(request.user).select_related("owner", "company").filter(pk=pk).first()
    if lead is None:
        raise Http404
    people = lead_owner_choices(viewer=request.user, lead=lead)
    if people is None:
        raise PermissionDenied
    allow_nobody = request.user.is_superuser or request.user.role in (User.Role.MANAGER, User.Role.ADMIN)
    form = OwnerChangeForm(request.POST or None, people=people, allow_nobody=allow_nobody)
    if request.method == "POST" and form.is_valid():
        try:
            change = lead_owner_change(
                lead=lead, owner=form.chosen_owner(), by=request.user, reason=form.cleaned_data["reason"]
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            if change is None:
                messages.info(request, _("%(owner)s already owns this lead.") % {"owner": lead.owner or "—"})
            else:
                messages.success(request, _("The owner of %(lead)s changed.") % {"lead": lead})
            return redirect(lead)
    context = {"lead": lead, "form": form, "changes": lead_owner_changes(lead=lead)}
    return render(request, "leads/owner_change.html", context)
