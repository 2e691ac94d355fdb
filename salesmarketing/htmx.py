"""HTMX helpers shared by every app."""

from __future__ import annotations

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

# A part of the deal page changed the deal (quotes' line items changed its amount): sent as HX-Trigger, it makes the
# page reload its figures and edit form (pipeline/deal_detail.html#overview listens for it on the body).
DEAL_CHANGED_EVENT = "deal-changed"


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def partial_or_page(request: HtmxHttpRequest, template: str, partial: str) -> str:
    """The template name to render: the named inline partial for an HTMX request, else the whole page."""
    return f"{template}#{partial}" if request.htmx and not request.htmx.boosted else template
