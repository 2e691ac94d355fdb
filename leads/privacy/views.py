"""Personal data from the lead page (export, erase with a confirm step), the public unsubscribe link, and the
lead list's CSV export.

Export and erase are for admins and marketing managers (`leads.privacy.can_manage_personal_data`): a lead the
user cannot see answers 404 as everywhere else, a lead they can see but may not export or erase answers 403.
The unsubscribe link needs no login: GET shows what will happen, only the POST (with its CSRF token) changes
anything, so a mail scanner that follows links unsubscribes nobody.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from leads import selectors
from leads.filters import LeadFilterForm
from leads.models import ErasureRecord, Lead
from leads.privacy.export import DEFAULT_ENCODING, ENCODINGS, leads_csv
from leads.privacy.services import (
    can_manage_personal_data,
    lead_erase,
    lead_export_json,
    lead_unsubscribe,
    read_unsubscribe_token,
)


def _lead_for_privacy(request: HttpRequest, pk: int) -> Lead:
    lead = selectors.lead_get_for_viewer(viewer=request.user, pk=pk)
    if lead is None:
        raise Http404
    if not can_manage_personal_data(request.user):
        raise PermissionDenied
    return lead


@require_GET
def lead_export_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The lead's data as one JSON file (a download)."""
    lead = _lead_for_privacy(request, pk)
    response = HttpResponse(lead_export_json(lead=lead), content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="lead-{lead.pk}.json"'
    response["Cache-Control"] = "no-store, private"
    return response


@require_http_methods(["GET", "POST"])
def lead_erase_view(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: what erasing will remove and keep, and the confirm button. POST: erase, back to the lead list."""
    lead = _lead_for_privacy(request, pk)
    if request.method == "POST":
        try:
            lead_erase(lead=lead, by=request.user, via=ErasureRecord.Via.WEB)
        except Lead.DoesNotExist:  # erased by someone else a moment ago
            raise Http404 from None
        messages.success(request, _("The lead's personal data was erased."))
        return redirect("leads:list")
    return render(request, "leads/privacy_erase.html", {"lead": lead})


@login_not_required
@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """`/u/<token>`: the link in marketing email. GET asks, POST unsubscribes. A mail client's RFC 8058 one-click
    POST (body `List-Unsubscribe=One-Click`, from the List-Unsubscribe-Post header) has no cookie or CSRF token: the
    signed token is its proof. Every other POST is the page's own form and keeps its CSRF check."""
    if request.method == "POST" and request.POST.get("List-Unsubscribe") == "One-Click":
        lead_id = read_unsubscribe_token(token)
        if lead_id is None:
            return HttpResponse(status=400)
        lead_unsubscribe(lead_id=lead_id)
        return HttpResponse(status=200)
    return _unsubscribe_page(request, token)


@csrf_protect
def _unsubscribe_page(request: HttpRequest, token: str) -> HttpResponse:
    lead_id = read_unsubscribe_token(token)
    if lead_id is None:
        return render(request, "leads/unsubscribe.html", {"bad_link": True}, status=400)
    if request.method == "POST":
        lead_unsubscribe(lead_id=lead_id)
        return render(request, "leads/unsubscribe.html", {"done": True})
    lead = Lead.all_objects.filter(pk=lead_id).only("unsubscribed_at", "merged_into").first()
    if (
        lead is not None and lead.merged_into_id
    ):  # a merged lead's link speaks for the person it became part of
        lead = Lead.objects.filter(pk=lead.merged_into_id).only("unsubscribed_at").first()
    already = lead is None or lead.unsubscribed_at is not None
    return render(request, "leads/unsubscribe.html", {"token": token, "already": already})


# --- Leads → Export CSV: the lead list with its current filters, as a file Excel opens ---


@require_GET
def lead_export(request: HttpRequest) -> StreamingHttpResponse:
    """Every lead the viewer may see that the list's filters select (not just one page), streamed."""
    form = LeadFilterForm(request.GET or None)
    leads = selectors.lead_filtered(viewer=request.user, filters=form.filters())
    encoding = request.GET.get("encoding", DEFAULT_ENCODING)
    if encoding not in ENCODINGS:
        encoding = DEFAULT_ENCODING
    charset = "shift_jis" if encoding == "cp932" else "utf-8"
    response = StreamingHttpResponse(
        leads_csv(leads=leads, encoding=encoding, custom=form.custom.export),
        content_type=f"text/csv; charset={charset}",
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="leads-{stamp}.csv"'
    response["Cache-Control"] = "private, no-store"  # personal data: not for shared caches
    return response
