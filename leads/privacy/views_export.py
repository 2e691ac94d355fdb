"""Leads → Export CSV: the lead list with its current filters, as a file Excel opens."""

from __future__ import annotations

from django.http import StreamingHttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from leads import selectors
from leads.export import DEFAULT_ENCODING, ENCODINGS, leads_csv
from leads.filters import LeadFilterForm
from salesmarketing.htmx import HtmxHttpRequest


@require_GET
def lead_export(request: HtmxHttpRequest) -> StreamingHttpResponse:
    """Every lead the viewer may see that the list's filters select (not just one page), streamed."""
    form = LeadFilterForm(request.GET or None)
    leads = selectors.lead_filtered(viewer=request.user, filters=form.filters())
    encoding = request.GET.get("encoding", DEFAULT_ENCODING)
    if encoding not in ENCODINGS:
        encoding = DEFAULT_ENCODING
    charset = "shift_jis" if encoding == "cp932" else "utf-8"
    response = StreamingHttpResponse(
        leads_csv(leads=leads, encoding=encoding), content_type=f"text/csv; charset={charset}"
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="leads-{stamp}.csv"'
    response["Cache-Control"] = "private, no-store"  # personal data: not for shared caches
    return response
