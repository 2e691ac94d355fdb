from __future__ import annotations

import logging

import redis
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django.views.i18n import set_language

from salesmarketing.dates import InvalidDateInput
from salesmarketing.errors import error_page
from salesmarketing.htmx import HtmxHttpRequest
from salesmarketing.security import ThrottledAuthenticationForm
from salesmarketing.services import notifications_mark_read, user_language_set

logger = logging.getLogger(__name__)


@vary_on_headers("HX-Request")
def notifications(request: HtmxHttpRequest) -> HttpResponse:
    if request.htmx and request.GET.get("part") == "bell":
        return render(request, "notifications.html#bell")  # unread_count comes from the layout context
    items = list(request.user.notifications.all()[:50])
    return render(request, "notifications.html", {"items": items})


@require_POST
def notifications_read(request: HtmxHttpRequest) -> HttpResponse:
    notifications_mark_read(recipient=request.user)
    return render(request, "notifications.html#bell", {"unread_count": 0})


@login_not_required
@require_POST
def language_switch(request: HtmxHttpRequest) -> HttpResponse:
    """Django's set_language (the cookie), remembered on a signed-in user for the e-mails the app sends them."""
    response = set_language(request)
    language = request.POST.get("language", "")
    if request.user.is_authenticated and language in dict(settings.LANGUAGES):
        user_language_set(user=request.user, language=language)
    return response


class LoginView(auth_views.LoginView):
    """The login page. A language chosen on it (the cookie) becomes the user's; without one, the user's language
    becomes the browser's cookie."""

    redirect_authenticated_user = True
    authentication_form = ThrottledAuthenticationForm

    def form_valid(self, form):
        response = super().form_valid(form)
        user, chosen = form.get_user(), self.request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        if chosen in dict(settings.LANGUAGES):
            user_language_set(user=user, language=chosen)
        else:
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME,
                user.language,
                max_age=settings.LANGUAGE_COOKIE_AGE,
                path=settings.LANGUAGE_COOKIE_PATH,
                domain=settings.LANGUAGE_COOKIE_DOMAIN,
                secure=settings.LANGUAGE_COOKIE_SECURE,
                httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
                samesite=settings.LANGUAGE_COOKIE_SAMESITE,
            )
        return response


@login_not_required
@never_cache
@require_GET
def healthz(request: HtmxHttpRequest) -> JsonResponse:
    """Can the app serve? 503 when the database does not answer; the broker is reported, not required."""
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        checks["database"] = "ok"
    except Exception as exc:  # any driver error means "down"
        logger.warning("healthz: database check failed: %s", exc)
        checks["database"] = "error"

    if settings.REDIS_URL:
        try:
            redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1).ping()
            checks["broker"] = "ok"
        except Exception as exc:
            logger.warning("healthz: broker check failed: %s", exc)
            checks["broker"] = "error"
    else:
        checks["broker"] = "in-process"

    healthy = checks["database"] == "ok"
    return JsonResponse(
        {"status": "ok" if healthy else "error", "checks": checks}, status=200 if healthy else 503
    )


def bad_request(request: HtmxHttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler400. A date or period a page cannot use (InvalidDateInput: unreadable, or outside the dates the app
    accepts) answers 400 in the normal layout, navigation included, with what was wrong. Any other bad request
    (a suspicious operation, a bad host) keeps Django's bare page: its message is not for users, and the request
    may not have been through the session and auth middleware."""
    if not isinstance(exception, InvalidDateInput):
        return defaults.bad_request(request, exception)
    return error_page(
        request,
        status=400,
        title=_("This page cannot show that date"),
        message=str(exception),
        show_default_view=True,
    )


def permission_denied(request: HtmxHttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler403: the normal layout, navigation included, in the viewer's language."""
    return error_page(
        request,
        status=403,
        title=_("You cannot open this page"),
        message=_("Your role does not allow this. Ask an administrator if you need it."),
    )


def page_not_found(request: HtmxHttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler404: the normal layout. Also what a record a viewer may not see answers."""
    return error_page(
        request,
        status=404,
        title=_("Page not found"),
        message=_("There is no such page, or it is not yours to see."),
    )


def server_error(request: HtmxHttpRequest) -> HttpResponse:
    """handler500: rendered without the database, which may be what failed."""
    return error_page(
        request,
        status=500,
        title=_("Something went wrong"),
        message=_("The error has been logged. Please try again; if it happens again, tell an administrator."),
        without_database=True,
        retry=True,
    )
