"""Cross-cutting middleware."""

from __future__ import annotations

import logging
import sys

from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _

from salesmarketing.dates import InvalidDateInput
from salesmarketing.errors import error_page
from salesmarketing.views import bad_request

logger = logging.getLogger(__name__)

DATABASE_ERRORS = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 5
_FAILED = "_database_unavailable"


class DatabaseUnavailableMiddleware:
    """The database is restarting or unreachable: answer 503 with Retry-After instead of a 500.

    A JSON body under /api/, a small "try again" page elsewhere; neither touches the database (no session,
    user or context processors). Every write is one transaction, so a request that failed this way changed
    nothing that the retry would not make again.

    A view's error arrives through process_exception; the session read behind LoginRequiredMiddleware is done
    first in process_view. Other errors outside the view (a session save) are turned into 500 responses by
    Django before they reach an outer middleware, so the got_request_exception signal marks the request and
    __call__ swaps the 500 for the 503.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        got_request_exception.connect(_mark_database_failure, dispatch_uid="database_unavailable")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code == 500 and getattr(request, _FAILED, False):
            return database_unavailable_response(request)
        return response

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> HttpResponse | None:
        # LoginRequiredMiddleware, next, reads the session and the user for every page that needs a login: read
        # them here first (the same query, cached on the request), where a database error is still ours to answer.
        if getattr(view_func, "login_required", True) and hasattr(request, "user"):
            try:
                request.user.is_authenticated  # noqa: B018 - evaluates the lazy user
            except DATABASE_ERRORS as exc:
                return self.process_exception(request, exc)
        return None

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, DATABASE_ERRORS):
            logger.warning("database unavailable for %s %s: %s", request.method, request.path, exception)
            return database_unavailable_response(request)
        return None


def _mark_database_failure(sender, request=None, **kwargs) -> None:
    # Sent from inside Django's `except` block, so the exception being handled is the current one.
    exception = sys.exc_info()[1]
    if request is not None and isinstance(exception, DATABASE_ERRORS):
        logger.warning("database unavailable for %s %s: %s", request.method, request.path, exception)
        setattr(request, _FAILED, True)


def database_unavailable_response(request: HttpRequest) -> HttpResponse:
    message = _("The service is briefly unavailable. Please try again in a few seconds.")
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse({"detail": message}, status=503)
    else:
        response = error_page(
            request,
            status=503,
            title=_("Temporarily unavailable"),
            message=message,
            without_database=True,
            retry=True,
        )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


class InvalidDateInputMiddleware:
    """A date or period a page cannot use answers the styled 400 page (`salesmarketing.views.bad_request`) with
    DEBUG on too: it is the user's input, not a bug, so the developer's technical page is not what they need."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        return bad_request(request, exception) if isinstance(exception, InvalidDateInput) else None
