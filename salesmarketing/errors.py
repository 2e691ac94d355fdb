"""Error pages (400, 403, 404, 500, 503): one look, in the viewer's language, with the navigation.

500 and 503 render without the database: no session, user or context processors (the database may be what
failed), so they show the navigation links without the user menu and the notification bell.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template import loader


def error_page(
    request: HttpRequest,
    *,
    status: int,
    title: str,
    message: str,
    without_database: bool = False,
    **extra: object,
) -> HttpResponse:
    context = {"title": title, "message": message, "status": status, **extra}
    if not without_database:
        return render(request, "error.html", context, status=status)
    # Rendered with a plain context: nothing here reads the session, the user or the database.
    html = loader.get_template("error.html").render({**context, "request": request, "bare_nav": True})
    return HttpResponse(html, status=status, content_type="text/html; charset=utf-8")
