"""The JSON API under /api/v1/: one NinjaAPI, routers from each app, API-key (Bearer) authentication.

Every error is JSON with a 4xx status: 401 without a valid key, 403 without the scope, 422 for invalid input.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest
from ninja import NinjaAPI
from ninja.errors import HttpError
from ninja.security import HttpBearer

from salesmarketing.models import ApiKey
from salesmarketing.services import api_key_authenticate


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


def _register_routers() -> None:
    """Each app adds its router in its own `api.py`; this is the one place they are mounted."""
    import importlib

    for module_name, prefix in (
        ("leads.api", "/"),
        ("leads.api_handoffs", "/"),
        ("pipeline.api", "/"),
        ("kpis.api", "/"),
    ):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        api.add_router(prefix, module.router)


_register_routers()


def urls():
    """The API's URL patterns, exempt from the login redirect: the API answers 401 in JSON instead."""
    patterns, app_name, namespace = api.urls
    for pattern in patterns:
        pattern.callback.login_required = False
    return patterns, app_name, namespace
