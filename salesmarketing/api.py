"""The JSON API under /api/v1/: one NinjaAPI, routers from each app, API-key (Bearer) authentication.

Every error is JSON with a 4xx status: 401 without a valid key, 403 without the scope, 404 for an unknown path or
record, 405 for a method the path does not serve, 409 when a write conflicts, 422 for invalid input (a value the
database cannot store included). tests/reliability/test_api_fuzz.py holds the API to this from its own schema.
"""

from __future__ import annotations

import functools
import logging

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import re_path
from django.utils.module_loading import import_string
from django.views.decorators.csrf import csrf_exempt
from ninja import NinjaAPI
from ninja.errors import HttpError
from ninja.security import HttpBearer

from salesmarketing.models import ApiKey
from salesmarketing.services import api_key_authenticate

logger = logging.getLogger("django.request")


class ApiKeyAuth(HttpBearer):
    """`Authorization: Bearer sm_<prefix>_<secret>`; sets request.api_key."""

    def authenticate(self, request: HttpRequest, token: str) -> ApiKey | None:
        key = api_key_authenticate(token)
        if key is not None:
            request.api_key = key
        return key


def require_scope(request: HttpRequest, scope: str) -> ApiKey:
    """The request's key, or a 403 when it lacks `scope`."""
    key: ApiKey = request.auth
    if not key.has_scope(scope):
        raise HttpError(403, f"This API key lacks the '{scope}' scope.")
    return key


api = NinjaAPI(
    title="salesmarketing API",
    version="1",
    urls_namespace="api",
    auth=ApiKeyAuth(),
    docs_decorator=login_required,
    description="Leads, events, handoffs, deals and KPIs. Authenticate with `Authorization: Bearer <key>` "
    "(create keys with `python manage.py create_api_key NAME` or in the admin).",
)


# Each app's router, by its import path: mounted when the root URLconf asks for the API's URLs, so this module
# imports no app above it, and an app's api.py may import this one (require_scope) whichever is imported first.
# An app's features add their routers to the app's own (leads.api's router includes leads.handoffs.api's).
ROUTERS = (
    "leads.api.router",
    "pipeline.api.router",
    "nurture.api.router",
    "quotes.api.router",
    "kpis.api.router",
)


# --- API-wide error handling --------------------------------------------------------------------------
# Found by fuzzing the API from its schema (tests/reliability/test_api_fuzz.py): whatever a client sends, the
# answer is JSON with a 4xx status. Endpoints validate what they can; these catch what slips through.


def _conflict(request: HttpRequest, exc: IntegrityError) -> HttpResponse:
    """A unique or check constraint refused the write (usually a concurrent request won a race)."""
    return api.create_response(
        request,
        {"detail": "The request conflicts with the current data; read it again and retry."},
        status=409,
    )


def _unstorable(request: HttpRequest, exc: DataError | OverflowError) -> HttpResponse:
    """The database refused a value: a number out of range (SQLite's driver raises OverflowError for it), a NUL
    character, a malformed date."""
    return api.create_response(
        request,
        {
            "detail": [
                {"loc": [], "msg": "A value is out of range or cannot be stored.", "type": "value_error"}
            ]
        },
        status=422,
    )


def _gone(request: HttpRequest, exc: ObjectDoesNotExist) -> HttpResponse:
    """The record went away while the request ran (deleted or erased by a concurrent request)."""
    return api.create_response(request, {"detail": "Not found."}, status=404)


def _invalid(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
    return api.create_response(
        request,
        {"detail": [{"loc": [], "msg": message, "type": "value_error"} for message in exc.messages]},
        status=422,
    )


def _server_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    """A bug: logged with its traceback like Django's own 500, but answered in JSON like every other error.
    Database outages are left to DatabaseUnavailableMiddleware, which answers 503 with Retry-After."""
    if isinstance(exc, OperationalError | InterfaceError):
        raise exc
    logger.error("API error: %s %s", request.method, request.path, exc_info=exc)
    return api.create_response(request, {"detail": "Internal error; it has been logged."}, status=500)


def _too_large(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    """Without this, Django answers an oversized body with its HTML 400 page (or a traceback under DEBUG)."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return api.create_response(
        request,
        {"detail": f"The request body is larger than {limit:,} bytes; send fewer events per call."},
        status=413,
    )


api.add_exception_handler(IntegrityError, _conflict)
api.add_exception_handler(DataError, _unstorable)
api.add_exception_handler(OverflowError, _unstorable)
api.add_exception_handler(ObjectDoesNotExist, _gone)
api.add_exception_handler(DjangoValidationError, _invalid)
api.add_exception_handler(RequestDataTooBig, _too_large)
api.add_exception_handler(Exception, _server_error)


@csrf_exempt  # like every API view: a DELETE to an unknown path is a 404, not Django's HTML CSRF page
def _not_found(request: HttpRequest, rest: str = "") -> JsonResponse:
    """Any path under /api/v1/ that no operation serves (e.g. /leads/-1, which the int converter refuses)."""
    return JsonResponse({"detail": "Not found."}, status=404)


def urls():
    """The API's URL patterns, exempt from the login redirect: the API answers 401 in JSON instead.

    A last catch-all answers JSON 404 for unknown paths, where Django would answer its HTML page."""
    mounted = {router for _prefix, router in api._routers}
    for path in ROUTERS:  # once: a URLconf loaded again (override_settings) finds them mounted
        if import_string(path) not in mounted:
            api.add_router("/", path)
    patterns, app_name, namespace = api.urls
    patterns = [*patterns, re_path(r"^(?P<rest>[\s\S]*)$", _not_found, name="api-not-found")]  # newlines too
    for pattern in patterns:
        pattern.callback = _json_method_not_allowed(pattern.callback)
        pattern.callback.login_required = False
    return patterns, app_name, namespace


def _json_method_not_allowed(view):
    """Ninja answers a method that a path does not serve with an empty text/html 405; this makes it JSON."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        response = view(request, *args, **kwargs)
        if response.status_code == 405 and not response.get("Content-Type", "").startswith(
            "application/json"
        ):
            allowed = response.get("Allow", "")
            response = JsonResponse({"detail": f"Method not allowed; use {allowed}."}, status=405)
            response["Allow"] = allowed
        return response

    return wrapper
