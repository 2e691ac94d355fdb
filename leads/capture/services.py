"""Writes behind the public capture endpoints: a web-form submission, a page view from the tracking snippet, an
email open and a click.

Both go through leads.ingest.events_ingest, so replays, visitor stitching and campaign links behave exactly as in
the API. Invalid input raises `ValidationError` keyed by field (the views answer 400 with it).
"""

from __future__ import annotations

import hashlib
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.translation import gettext as _

from leads.capture.forms import PublicLeadForm
from leads.choices import LeadSource, LifecycleStage, TouchType
from leads.ingest import IngestResult, events_ingest
from leads.lifecycle import lead_lifecycle_change
from leads.models import FormEndpoint
from leads.tracking import EmailToken, is_http_url

UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")


# --- Web forms ------------------------------------------------------------------------------------------


def form_submission_record(
    *,
    endpoint: FormEndpoint,
    form: PublicLeadForm,
    submission_id: str,
    referer: str = "",
    cookie_visitor_id: str = "",
) -> bool:
    """Store one valid public-form submission as a touch of the endpoint's type (the lead created or updated).

    `cookie_visitor_id` is the tracking cookie when the form lives on our own domain. Returns whether it was a
    replay of a submission already stored; raises ValidationError (keyed by field) when ingest rejects it."""
    if not form.cleaned_data["sm_vid"] and cookie_visitor_id:
        form.cleaned_data["sm_vid"] = cookie_visitor_id[:64]
    event = form.to_event(
        event_id=f"submission:{submission_id}", touch_type=endpoint.touch_type, referer=referer
    )
    if form.cleaned_data["sm_vid"] and "visitor_id" not in event:
        event["visitor_id"] = form.cleaned_data["sm_vid"]
    result = _form_event_ingest(endpoint, event)
    if result.rejected and "visitor_id" in result.rejected[0].errors:
        event.pop("visitor_id")  # a mangled cookie is no reason to lose the submission
        result = _form_event_ingest(endpoint, event)
    if result.rejected:
        raise ValidationError(result.rejected[0].errors)
    if endpoint.is_newsletter and result.leads_created:
        # Someone new who only signed up for the newsletter is a subscriber, not yet a lead.
        with translation.override(settings.LANGUAGE_CODE):
            reason = _("Newsletter sign-up: %(form)s") % {"form": endpoint.name}
        for lead_id in result.lead_ids:
            lead_lifecycle_change(
                lead=lead_id, to=LifecycleStage.SUBSCRIBER, reason=reason, only_from=(LifecycleStage.LEAD,)
            )
    return result.duplicates > 0


def _form_event_ingest(endpoint: FormEndpoint, event: dict[str, Any]) -> IngestResult:
    return events_ingest(
        events=[event],
        source=f"form:{endpoint.pk}",
        lead_source=endpoint.lead_source,
        campaign_id=endpoint.campaign_id,
    )


# --- Tracking snippet -------------------------------------------------------------------------------------


def page_view_record(*, data: dict[str, Any], now: float | None = None) -> None:
    """Store one page view the tracking snippet (t.js) sent: `url`, `vid` (visitor id), optional `eid` (event
    id), `ref`, `title` and utm fields. Only page views are accepted: a browser cannot be trusted to say who
    someone is or what else they did. Raises ValidationError keyed by field."""
    url = str(data.get("url") or "")
    event_id = str(data.get("eid") or "")
    _page_view_check(data, url, event_id)
    visitor_id = str(data.get("vid") or "")
    # A random id from the snippet makes a reload a new view; without one, repeats within a minute are one view.
    minute = int((time.time() if now is None else now) // 60)
    key = event_id or f"{hashlib.sha256(url.encode()).hexdigest()[:16]}:{minute}"
    properties = {
        name: str(data.get(field))[:limit]
        for name, field, limit in (("referrer", "ref", 2048), ("title", "title", 300))
        if data.get(field)
    }
    event = {
        "id": f"{visitor_id}:{key}",
        "type": TouchType.PAGE_VIEW,
        "visitor_id": visitor_id,
        "url": url,
        "properties": properties,
        **_utm(data, url),
    }
    result = events_ingest(events=[event], source="web", lead_source=LeadSource.TRACKING)
    if result.rejected:
        raise ValidationError(result.rejected[0].errors)


def _page_view_check(data: dict[str, Any], url: str, event_id: str) -> None:
    errors: dict[str, list[str]] = {}
    if data.get("type", TouchType.PAGE_VIEW) != TouchType.PAGE_VIEW:
        errors["type"] = [_("Only page views are collected from browsers.")]
    if not is_http_url(url):
        errors["url"] = [_("Send the page's http(s) URL.")]
    if event_id and (len(event_id) > 40 or not all(c.isalnum() or c in "-_" for c in event_id)):
        errors["eid"] = [_("Not a valid event id.")]
    if errors:
        raise ValidationError(errors)


def _utm(data: dict[str, Any], url: str) -> dict[str, str]:
    """The utm fields sent, else those of the page's URL (at most 100 characters each)."""
    utm = {name: str(data.get(name) or "")[:100] for name in UTM_FIELDS}
    query = parse_qs(urlsplit(url).query)
    for name in UTM_FIELDS:
        if not utm[name] and query.get(name):
            utm[name] = query[name][0][:100]
    return {name: value for name, value in utm.items() if value}


# --- Email open pixel and click redirect -----------------------------------------------------------------


def email_open_record(*, token: EmailToken) -> None:
    """The first open of the email the (verified) token was made for; later fetches change nothing."""
    _email_event_ingest(
        token,
        {
            "id": f"open:{token.lead_id}:{token.message_id}",
            "type": TouchType.EMAIL_OPEN,
            "lead_id": token.lead_id,
            "properties": {"message": token.message_id},
        },
    )


def email_click_record(*, token: EmailToken, url: str, now: float | None = None) -> None:
    """A click on the link the (verified) token was signed for: at most one per link and hour."""
    hour = int((time.time() if now is None else now) // 3600)
    _email_event_ingest(
        token,
        {
            "id": f"click:{token.lead_id}:{token.message_id}:{token.url_hash[:16]}:{hour}",
            "type": TouchType.EMAIL_CLICK,
            "lead_id": token.lead_id,
            "url": url,
            "properties": {"message": token.message_id},
            **_utm({}, url),
        },
    )


def _email_event_ingest(token: EmailToken, event: dict[str, Any]) -> None:
    events_ingest(events=[event], source="email", lead_source=LeadSource.OTHER, campaign_id=token.campaign_id)
