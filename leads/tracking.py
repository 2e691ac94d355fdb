"""Signed tracking links for email: an open pixel and click redirects that name the lead and cannot be forged.

The email-sending code builds links with `email_open_path` / `email_click_path`; `leads.capture.views` reads
them back. A token is signed with the project's SECRET_KEY (django.core.signing), so a visitor cannot change
the lead, the message or the target. A click token carries a hash of its target URL: the redirect goes only to
the URL it was made for (never an open redirect), and only to http(s).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from django.core import signing
from django.urls import get_script_prefix

from salesmarketing.links import links

OPEN_SALT = "leads.tracking.email-open"
CLICK_SALT = "leads.tracking.email-click"
MAX_MESSAGE_ID = 64


@dataclass(frozen=True)
class EmailToken:
    lead_id: int
    message_id: str
    campaign_id: int | None
    url_hash: str = ""


def is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc) and len(url) <= 2048


def url_hash(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:32]


def _payload(lead_id: int, message_id: str, campaign_id: int | None) -> dict:
    if not message_id or len(message_id) > MAX_MESSAGE_ID:
        raise ValueError(f"message_id must be 1–{MAX_MESSAGE_ID} characters")
    payload: dict = {"l": int(lead_id), "m": message_id}
    if campaign_id:
        payload["c"] = int(campaign_id)
    return payload


def email_open_token(*, lead_id: int, message_id: str, campaign_id: int | None = None) -> str:
    return signing.dumps(_payload(lead_id, message_id, campaign_id), salt=OPEN_SALT, compress=True)


def email_click_token(*, lead_id: int, url: str, message_id: str, campaign_id: int | None = None) -> str:
    if not is_http_url(url):
        raise ValueError("Click tracking only redirects to http(s) URLs")
    payload = _payload(lead_id, message_id, campaign_id)
    payload["h"] = url_hash(url)
    return signing.dumps(payload, salt=CLICK_SALT, compress=True)


@functools.lru_cache(maxsize=16)
def _token_links(name: str, script_prefix: str) -> Callable[[object], str]:
    return links(name, "TOKEN")


def token_path(name: str, token: str) -> str:
    """`reverse(name, args=[token])` for a route whose one argument is a signed token (URL-safe as it is),
    resolved once per process: a broadcast makes three such links per message."""
    return _token_links(name, get_script_prefix())(token)


def email_open_path(*, lead_id: int, message_id: str, campaign_id: int | None = None) -> str:
    """`/t/o/<token>.gif`: put it in an <img> of the email (prefix your site's origin)."""
    token = email_open_token(lead_id=lead_id, message_id=message_id, campaign_id=campaign_id)
    return token_path("capture:email_open", token)


def email_click_path(*, lead_id: int, url: str, message_id: str, campaign_id: int | None = None) -> str:
    """`/t/c/<token>?u=<url>`: the link to put in the email instead of `url`."""
    token = email_click_token(lead_id=lead_id, url=url, message_id=message_id, campaign_id=campaign_id)
    return token_path("capture:email_click", token) + "?" + urlencode({"u": url})


def read_token(token: str, *, salt: str) -> EmailToken | None:
    """The token's content, or None when it is forged, altered or malformed."""
    try:
        payload = signing.loads(token, salt=salt)
        return EmailToken(
            lead_id=int(payload["l"]),
            message_id=str(payload["m"])[:MAX_MESSAGE_ID],
            campaign_id=int(payload["c"]) if payload.get("c") else None,
            url_hash=str(payload.get("h", "")),
        )
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
