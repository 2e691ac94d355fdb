"""The JSON API under /api/v1/: one NinjaAPI, routers from each app, API-key (Bearer) authentication.

Every error is JSON with a 4xx status: 401 without a valid key, 403 without the scope, 404 for an unknown path or
record, 405 for a method the path does not serve, 409 when a write conflicts, 422 for invalid input (a value the
database cannot store included). tests/reliability/test_api_fuzz.py holds the API to this from its own schema.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import json
import logging
import re
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError, InterfaceError, OperationalError
from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import re_path
from django.utils import timezone
from django.utils.module_loading import import_string
from django.views.decorators.csrf import csrf_exempt
from ninja import Field, NinjaAPI, Schema
from ninja.errors import HttpError
from ninja.errors import ValidationError as ApiValidationError
from ninja.security import HttpBearer

from salesmarketing.dates import in_range
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


def acting_user(key: ApiKey):
    """The user whose view limits what the key reaches; None for an integration's key, which reaches all."""
    return None if key.is_integration else key.user


def error_loc(name: str, fields: dict[str, str]) -> list[str]:
    """Where a service's error key points in the body: `custom.budget` (a custom field) is ["body", "custom",
    "budget"]; other keys by name, renamed by `fields`."""
    if name == "__all__":
        return ["body"]
    if name.startswith("custom."):
        return ["body", "custom", name.removeprefix("custom.")]
    return ["body", fields.get(name, name)]


def service_invalid(error: DjangoValidationError, fields: dict[str, str] | None = None) -> ApiValidationError:
    """A service's ValidationError as the API's 422: one entry per message, located at its body field (renamed
    by `fields`, e.g. the service's `parent` is the API's `parent_id`)."""
    fields = fields or {}
    if hasattr(error, "error_dict"):
        return ApiValidationError(
            [
                {
                    "loc": error_loc(name, fields),
                    "msg": message,
                    "type": "value_error",
                }
                for name, messages in error.message_dict.items()
                for message in messages
            ]
        )
    return ApiValidationError([{"loc": ["body"], "msg": m, "type": "value_error"} for m in error.messages])


def field_invalid(field: str, message: str, where: str = "body") -> ApiValidationError:
    return ApiValidationError([{"loc": [where, field], "msg": message, "type": "value_error"}])


def require_scope(request: HttpRequest, scope: str) -> ApiKey:
    """The request's key, or a 403 when it lacks `scope`."""
    key: ApiKey = request.auth
    if not key.has_scope(scope):
        raise HttpError(403, f"This API key lacks the '{scope}' scope.")
    return key


def _docs_access(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The schema (and the docs page) for a logged-in user, or for a client sending any valid API key: an
    integration reads /api/v1/openapi.json with the key it calls the API with. Anyone else goes to the login page."""
    login_view = login_required(view)

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        scheme, _space, token = (request.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() == "bearer" and token and api_key_authenticate(token.strip()) is not None:
            return view(request, *args, **kwargs)
        return login_view(request, *args, **kwargs)

    return wrapper


api = NinjaAPI(
    title="salesmarketing API",
    version="1",
    urls_namespace="api",
    auth=ApiKeyAuth(),
    docs_decorator=_docs_access,
    description="Leads, companies, events, handoffs, deals, activities, campaigns and KPIs. Authenticate with "
    "`Authorization: Bearer <key>` (create keys with `python manage.py create_api_key NAME` or in the admin). "
    "Lists answer `{items, next_cursor}`, newest first: pass `next_cursor` back as `cursor` for the next page.",
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
    "campaigns.api.router",
    "salesmarketing.api_lookups.router",
)


# --- Cursor pagination ----------------------------------------------------------------------------------
# Every list endpoint answers {"items": [...], "next_cursor": "…" | null}, newest first, in a fixed order that
# ends with the id (so rows with the same time never repeat or vanish between pages). The cursor is opaque: the
# last row's sort values, base64-encoded; pass it back as `cursor` for the next page. Each page is one query
# (plus its select_related joins), whatever the page or the table's size.

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
BIGINT = 2**63 - 1


class PageQuery(Schema):
    cursor: str | None = Field(
        None, max_length=200, description="The `next_cursor` of the previous page; omit for the first page."
    )
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description=f"Rows per page, at most {MAX_LIMIT}.")


T = TypeVar("T")
M = TypeVar("M", bound=Model)


_SINCE_HELP = "ISO 8601 with its time zone, e.g. 2026-12-01T09:00:00+09:00 or 2026-12-01T00:00:00Z"


class SinceQuery(PageQuery):
    """A list's date filters (what a sync asks for: the rows changed since its last run). Strings here, read by
    `since_filtered`, so that a value without its time zone answers 422 instead of being taken as UTC."""

    updated_since: str | None = Field(
        None, max_length=64, description=f"Only rows changed at or after this moment ({_SINCE_HELP})."
    )
    created_since: str | None = Field(
        None, max_length=64, description=f"Only rows created at or after this moment ({_SINCE_HELP})."
    )


def _since(name: str, value: str) -> dt.datetime:
    # A "+09:00" sent unencoded arrives as " 09:00" (a "+" in a query string is a space): taken as meant.
    value = re.sub(r" (\d{2}(:?\d{2})?)$", r"+\1", value.strip())
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is None or timezone.is_naive(moment) or not in_range(moment):
        raise field_invalid(name, f"Give a date and time in {_SINCE_HELP}.", where="query")
    return moment


def since_filtered(
    qs: QuerySet[M], filters: SinceQuery, *, created: str = "created_at", updated: str = "updated_at"
) -> QuerySet[M]:
    """`qs` with the rows created and/or updated at or after the filters' moments (422 naming the parameter for a
    value that is not an ISO 8601 date-time with its time zone)."""
    if filters.created_since is not None:
        qs = qs.filter(**{f"{created}__gte": _since("created_since", filters.created_since)})
    if filters.updated_since is not None:
        qs = qs.filter(**{f"{updated}__gte": _since("updated_since", filters.updated_since)})
    return qs


class Page(Schema, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


def _bad_cursor() -> ApiValidationError:
    return ApiValidationError(
        [
            {
                "loc": ["query", "cursor"],
                "msg": "Invalid cursor; use a next_cursor as given.",
                "type": "value_error",
            }
        ]
    )


def _cursor_encode(values: Sequence[Any]) -> str:
    plain = [v.isoformat() if isinstance(v, dt.datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain, separators=(",", ":")).encode()).decode().rstrip("=")


def _cursor_decode(cursor: str, keys: Sequence[str]) -> list[Any]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise _bad_cursor() from None
    if not isinstance(values, list) or len(values) != len(keys):
        raise _bad_cursor()
    decoded: list[Any] = []
    for key, value in zip(keys, values, strict=True):
        if key == "pk":
            if type(value) is not int or not 0 < value <= BIGINT:
                raise _bad_cursor()
            decoded.append(value)
            continue
        try:
            moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            moment = None
        if moment is None or timezone.is_naive(moment) or not in_range(moment):
            raise _bad_cursor()
        decoded.append(moment)
    return decoded


def _after(keys: Sequence[str], values: Sequence[Any]) -> Q:
    """Rows after the cursor in descending (keys…) order: (a < va) or (a = va and b < vb) …"""
    condition = Q()
    equal: dict[str, Any] = {}
    for key, value in zip(keys, values, strict=True):
        condition |= Q(**equal, **{f"{key}__lt": value})
        equal[key] = value
    return condition


def cursor_page(
    qs: QuerySet[M], page: PageQuery, *, keys: Sequence[str] = ("created_at", "pk")
) -> tuple[list[M], str | None]:
    """One page of `qs`, newest first by `keys` (the last is "pk"), and the cursor of the next page (None when
    this one is the last). One query."""
    qs = qs.order_by(*(f"-{key}" for key in keys))
    if page.cursor:
        qs = qs.filter(_after(keys, _cursor_decode(page.cursor, keys)))
    rows = list(qs[: page.limit + 1])
    if len(rows) <= page.limit:
        return rows, None
    rows = rows[: page.limit]
    return rows, _cursor_encode([getattr(rows[-1], key) for key in keys])


def page_out(qs: QuerySet[M], page: PageQuery, **kwargs: Any) -> dict[str, Any]:
    items, next_cursor = cursor_page(qs, page, **kwargs)
    return {"items": items, "next_cursor": next_cursor}


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
