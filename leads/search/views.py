"""The search page (`/search/?q=…`): the full results without JavaScript, and the same results as a partial for
HTMX — the header box's drop-down (a few per kind) and the page's own box (more per kind). A GET: it changes
nothing, so it needs no CSRF token; the search sits in the query string, which every log line redacts
(salesmarketing/redact.py: `q`)."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from leads.search.selectors import LIVE_LIMIT, PAGE_LIMIT, search
from salesmarketing.htmx import HtmxHttpRequest, partial_or_page

LIVE_TARGET = "search-live"  # the header's drop-down (templates/base.html)


@require_GET
@vary_on_headers("HX-Request", "HX-Target")
def search_page(request: HtmxHttpRequest) -> HttpResponse:
    live = bool(request.htmx) and request.htmx.target == LIVE_TARGET
    results = search(viewer=request.user, text=request.GET.get("q"), limit=LIVE_LIMIT if live else PAGE_LIMIT)
    context = {"results": results, "live": live}
    return render(request, partial_or_page(request, "leads/search.html", "results"), context)
