"""Public capture endpoints: web forms posted from customers' sites, the tracking snippet's page views, and the
email open pixel and click redirect. No login, no CSRF token (other sites post here), rate limited per IP.

The views check the request (method, origin, rate, size) and answer; the writes are leads.capture.services, over
leads.ingest.events_ingest, so replays, visitor stitching and campaign links behave exactly as in the API.
"""

from __future__ import annotations

import base64
import json
import uuid
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse, QueryDict
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from leads.capture.forms import HONEYPOT_FIELD, PublicLeadForm
from leads.capture.services import (
    email_click_record,
    email_open_record,
    form_submission_record,
    page_view_record,
)
from leads.models import FormEndpoint
from leads.tracking import CLICK_SALT, OPEN_SALT, is_http_url, read_token, url_hash
from salesmarketing.forms import add_service_errors
from salesmarketing.security import rate_limited

GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
COLLECT_MAX_BYTES = 16 * 1024


def _limit(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def _rate_limited(request: HttpRequest, scope: str, per_minute: int) -> bool:
    return rate_limited(request, scope, per_minute)


def _wants_json(request: HttpRequest) -> bool:
    if request.GET.get("format") == "json" or request.content_type == "application/json":
        return True
    return request.get_preferred_type(["text/html", "application/json"]) == "application/json"


def _origin_of(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


# --- Web forms ------------------------------------------------------------------------------------------


def _form_answer(
    request: HttpRequest, endpoint: FormEndpoint | None, *, status: int, errors=None, form=None, message=""
) -> HttpResponse:
    if _wants_json(request):
        body: dict = {"ok": status < 400}
        if message:
            body["detail"] = message
        if errors:
            body["errors"] = errors
        return JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})
    context = {
        "endpoint": endpoint,
        "form": form,
        "errors": errors or {},
        "message": message,
        "status": status,
    }
    response = render(request, "leads/public_form.html", context, status=status)
    redirect_origin = _origin_of(endpoint.redirect_url) if endpoint is not None else ""
    if form is not None and redirect_origin:
        # The corrected form is posted from this page and redirected to the customer's site; browsers check that
        # redirect against our Content-Security-Policy's form-action too.
        response._csp_update = {"form-action": [redirect_origin]}
    return response


def _cors(response: HttpResponse, origin: str) -> HttpResponse:
    if origin:
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response["Access-Control-Allow-Headers"] = "Content-Type, Accept"
        response["Access-Control-Max-Age"] = "3600"
        response["Vary"] = "Origin"
    return response


def _form_refusal(
    request: HttpRequest, endpoint: FormEndpoint | None, *, origin: str, allowed: bool, cors_origin: str
) -> HttpResponse | None:
    """The answer for a request the form does not take (preflight, wrong method, unknown form, foreign site,
    too many posts), or None."""
    if request.method == "OPTIONS":
        return _cors(HttpResponse(status=204 if allowed else 403), cors_origin)
    if request.method != "POST":
        response = _form_answer(request, endpoint, status=405, message=_("Send the form with POST."))
        response["Allow"] = "POST, OPTIONS"
        return response
    if endpoint is None:
        return _form_answer(request, None, status=404, message=_("This form does not exist or is closed."))
    if endpoint.origins and not (origin and allowed):
        return _form_answer(request, endpoint, status=403, message=_("This site may not send this form."))
    if _rate_limited(request, "form", _limit("LEADS_FORM_RATE_PER_MINUTE", 20)):
        response = _form_answer(
            request,
            endpoint,
            status=429,
            message=_("Too many submissions from your network; try again in a minute."),
        )
        response["Retry-After"] = "60"
        return _cors(response, cors_origin)

    return None


@csrf_exempt
@login_not_required
@never_cache
def form_submit(request: HttpRequest, site_key: str) -> HttpResponse:
    """`POST /f/<site key>`: create or update the lead and record the submission, then redirect (303) or
    answer JSON. Invalid input gets a 400 that shows every value sent, so nothing typed is lost."""
    endpoint = FormEndpoint.objects.filter(site_key=site_key, is_active=True).first()
    origin = request.headers.get("Origin") or _origin_of(request.headers.get("Referer", ""))
    own_origin = f"{request.scheme}://{request.get_host()}"
    allowed = endpoint is not None and (not origin or origin == own_origin or endpoint.allows_origin(origin))
    cors_origin = origin if allowed and origin and origin != own_origin else ""

    refusal = _form_refusal(request, endpoint, origin=origin, allowed=allowed, cors_origin=cors_origin)
    if refusal is not None:
        return refusal
    try:
        data = _submitted_data(request)
    except (RequestDataTooBig, TooManyFieldsSent):
        return _cors(
            _form_answer(request, endpoint, status=413, message=_("The form is too large.")), cors_origin
        )
    except ValueError:
        return _cors(
            _form_answer(request, endpoint, status=400, message=_("The form data could not be read.")),
            cors_origin,
        )

    if data.get(HONEYPOT_FIELD):  # a bot filled the hidden field: look successful, store nothing
        return _cors(_form_success(request, endpoint), cors_origin)

    form = PublicLeadForm(data)
    if form.is_valid():
        try:
            duplicate = form_submission_record(
                endpoint=endpoint,
                form=form,
                submission_id=form.cleaned_data["sm_sid"] or uuid.uuid4().hex,
                referer=request.headers.get("Referer", ""),
                cookie_visitor_id=request.COOKIES.get("sm_vid", ""),
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            return _cors(_form_success(request, endpoint, duplicate=duplicate), cors_origin)
    return _cors(_form_answer(request, endpoint, status=400, errors=_plain(form), form=form), cors_origin)


def _plain(form: PublicLeadForm) -> dict[str, list[str]]:
    return {
        field: [str(e["message"]) for e in errors] for field, errors in form.errors.get_json_data().items()
    }


def _submitted_data(request: HttpRequest):
    if request.content_type == "application/json":
        payload = _json_object(request.body)
        data = QueryDict(mutable=True)
        for key, value in payload.items():
            for item in value if isinstance(value, list) else [value]:
                data.appendlist(
                    str(key),
                    "" if item is None else str(item).lower() if isinstance(item, bool) else str(item),
                )
        return data
    return request.POST


def _json_object(body: bytes) -> dict:
    """The body as a JSON object; ValueError for anything else (bad UTF-8, bad JSON, nesting too deep)."""
    try:
        payload = json.loads(body.decode("utf-8") or "{}")
    except RecursionError as exc:
        raise ValueError("nested too deeply") from exc
    if not isinstance(payload, dict):
        raise ValueError("not an object")
    return payload


def _form_success(request: HttpRequest, endpoint: FormEndpoint, *, duplicate: bool = False) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"ok": True, "duplicate": duplicate}, status=200 if duplicate else 201)
    if endpoint.redirect_url:
        return HttpResponseRedirect(endpoint.redirect_url, status=303)
    return render(request, "leads/public_form.html", {"endpoint": endpoint, "thanks": True})


# --- Tracking snippet -------------------------------------------------------------------------------------


@csrf_exempt
@login_not_required
@never_cache
def collect(request: HttpRequest) -> HttpResponse:
    """`GET|POST /t/collect`: one page view from the tracking snippet (t.js). Only page views are accepted here:
    a browser cannot be trusted to say who someone is or what else they did."""
    if request.method not in ("GET", "POST"):
        response = JsonResponse({"detail": _("Use GET or POST.")}, status=405)
        response["Allow"] = "GET, POST"
        return response
    if _rate_limited(request, "collect", _limit("LEADS_COLLECT_RATE_PER_MINUTE", 240)):
        return JsonResponse({"detail": _("Too many requests.")}, status=429, headers={"Retry-After": "60"})
    try:
        data = _collected_data(request)
    except RequestDataTooBig:
        return JsonResponse({"detail": _("The request is too large.")}, status=413)
    except ValueError:
        return JsonResponse({"detail": _("The request body is not a JSON object.")}, status=400)

    try:
        page_view_record(data=data)
    except ValidationError as exc:
        return JsonResponse(
            {"errors": exc.message_dict}, status=400, json_dumps_params={"ensure_ascii": False}
        )
    if request.method == "GET":
        return HttpResponse(GIF, content_type="image/gif")
    return HttpResponse(status=204)


def _collected_data(request: HttpRequest) -> dict:
    if request.method == "GET":
        return request.GET.dict()
    if int(request.META.get("CONTENT_LENGTH") or 0) > COLLECT_MAX_BYTES:
        raise RequestDataTooBig
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return request.POST.dict()
    # sendBeacon sends text/plain (no CORS preflight); fetch may send application/json.
    return _json_object(request.body)


# --- Email open pixel and click redirect -----------------------------------------------------------------


@login_not_required
@never_cache
def email_open(request: HttpRequest, token: str) -> HttpResponse:
    """`/t/o/<token>.gif`: a 1×1 GIF, whatever happens; a valid token records the first open of that email."""
    # No rate limit: a signed token records at most one open however often it is fetched, and mail providers
    # fetch images for many recipients from a few proxy addresses.
    payload = read_token(token, salt=OPEN_SALT)
    if payload is not None:
        email_open_record(token=payload)
    response = HttpResponse(GIF, content_type="image/gif")
    response["Cache-Control"] = "no-store, private"
    return response


@login_not_required
@never_cache
def email_click(request: HttpRequest, token: str) -> HttpResponse:
    """`/t/c/<token>?u=<url>`: record the click and redirect to the URL the token was signed for; anything
    else is a 400, never a redirect."""
    target = request.GET.get("u", "")
    payload = read_token(token, salt=CLICK_SALT)
    if payload is None or not is_http_url(target) or payload.url_hash != url_hash(target):
        return render(request, "leads/public_form.html", {"bad_link": True}, status=400)
    # Like the pixel, no rate limit: a signed link records at most one click per hour.
    email_click_record(token=payload, url=target)
    return HttpResponseRedirect(target)
