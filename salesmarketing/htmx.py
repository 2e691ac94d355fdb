"""HTMX helpers shared by every app."""

from __future__ import annotations

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def partial_or_page(request: HtmxHttpRequest, template: str, partial: str) -> str:
    """The template name to render: the named inline partial for an HTMX request, else the whole page."""
    return f"{template}#{partial}" if request.htmx and not request.htmx.boosted else template
