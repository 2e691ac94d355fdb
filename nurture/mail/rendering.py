"""Rendering an email template for a lead, in a sandbox, into a MIME message with the legal footer and tracking.

The sandbox: two `django.template.Engine`s of their own (HTML autoescaped, text and subject not), with no loaders
and one builtin library (nurture.mail.sandbox_tags: `if`, `for`, a few filters; no `include`, `load`, `url`,
`debug`…). The context is built from plain dicts and strings of the fields offered (`MERGE_FIELDS`), never model
instances, so a template reaches nothing else.

Every marketing message ends with the sender profile (name, postal address, contact for complaints) and the
signed opt-out link, whatever the template says (特定電子メール法), carries RFC 8058 one-click List-Unsubscribe
headers, a Message-ID of its own (one per ledger row), and in its HTML part an open pixel and click-tracking links.
"""

from __future__ import annotations

import functools
import html
import re
from dataclasses import dataclass
from email.utils import formataddr

from django.conf import settings
from django.template import Context, Engine, Template, TemplateSyntaxError
from django.utils.translation import gettext as _
from django.utils.translation import override

from leads.privacy import unsubscribe_path
from leads.tracking import email_click_path, email_open_path, is_http_url
from nurture.mail.mime import PreparedEmail
from nurture.models import EmailTemplate, SenderProfile

MERGE_FIELDS = (
    "{{ lead.name }}",
    "{{ lead.company }}",
    "{{ owner.name }}",
    "{{ owner.signature }}",
    "{{ unsubscribe_url }}",
)


class SandboxEngine(Engine):
    default_builtins = ["nurture.mail.sandbox_tags"]


def _engine(*, autoescape: bool) -> Engine:
    # debug=True only annotates syntax errors with their line (TemplateSyntaxError.template_debug).
    return SandboxEngine(loaders=[], libraries={}, autoescape=autoescape, debug=True, string_if_invalid="")


HTML_ENGINE = _engine(autoescape=True)
TEXT_ENGINE = _engine(autoescape=False)


@dataclass(frozen=True)
class TemplateError:
    field: str
    line: int
    message: str


def check_syntax(source: str, *, html_part: bool, field: str = "") -> TemplateError | None:
    """The first syntax error in `source`, with its line, or None."""
    try:
        (HTML_ENGINE if html_part else TEXT_ENGINE).from_string(source)
    except TemplateSyntaxError as exc:
        debug = getattr(exc, "template_debug", None) or {}
        return TemplateError(field=field, line=int(debug.get("line", 1)), message=str(exc))
    return None


def template_errors(template: EmailTemplate) -> list[TemplateError]:
    """Syntax errors of every part of every language."""
    errors = []
    for language in ("ja", "en"):
        for part in ("subject", "html", "text"):
            name = f"{part}_{language}"
            error = check_syntax(getattr(template, name), html_part=part == "html", field=name)
            if error:
                errors.append(error)
    return errors


# --- Context ---------------------------------------------------------------------------------------------------


def owner_signature(owner) -> str:
    if owner is None:
        return ""
    return "\n".join(part for part in (str(owner), owner.email) if part)


def merge_context(*, lead, unsubscribe_url: str) -> dict:
    """Plain values only: the template sees these strings and nothing of the models behind them."""
    owner = lead.owner if lead.owner_id else None
    return {
        "lead": {
            "name": lead.name or "",
            "company": lead.company.name if lead.company_id else "",
            "email": "",
        },
        "owner": {"name": str(owner) if owner else "", "signature": owner_signature(owner)},
        "unsubscribe_url": unsubscribe_url,
    }


def absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


# --- Rendering -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str


def render_parts(template: EmailTemplate, *, language: str, context: dict) -> Rendered:
    """The template's three parts for `context` (raises TemplateSyntaxError on a broken part)."""
    subject, html_source, text_source = template.parts(language)
    return Rendered(
        subject=" ".join(_render(TEXT_ENGINE, subject, context).split()),  # a header is one line
        html=_render(HTML_ENGINE, html_source, context) if html_source.strip() else "",
        text=_render(TEXT_ENGINE, text_source, context),
    )


@functools.lru_cache(maxsize=64)
def _compiled(html_part: bool, source: str) -> Template:
    """A broadcast renders the same three sources for every lead: compile them once."""
    return (HTML_ENGINE if html_part else TEXT_ENGINE).from_string(source)


def _render(engine: Engine, source: str, context: dict) -> str:
    # A Context escapes unless told otherwise, whatever the engine says: pass the engine's choice.
    template = _compiled(engine is HTML_ENGINE, source)
    return template.render(Context(context, autoescape=engine.autoescape))


def footer_text(profile: SenderProfile, *, unsubscribe_url: str) -> str:
    return "\n".join(
        [
            "",
            "-- ",
            _("Sender: %(name)s") % {"name": profile.sender_name},
            _("Address: %(address)s") % {"address": " ".join(profile.postal_address.split())},
            _("Contact for complaints: %(contact)s") % {"contact": profile.complaints_contact},
            _("To stop receiving these emails: %(url)s") % {"url": unsubscribe_url},
            "",
        ]
    )


def footer_html(profile: SenderProfile, *, unsubscribe_url: str) -> str:
    esc = html.escape
    return (
        '<hr><div style="font-size:12px;color:#555">'
        f"<p>{esc(_('Sender: %(name)s') % {'name': profile.sender_name})}<br>"
        f"{esc(_('Address: %(address)s') % {'address': ' '.join(profile.postal_address.split())})}<br>"
        f"{esc(_('Contact for complaints: %(contact)s') % {'contact': profile.complaints_contact})}</p>"
        f'<p><a href="{esc(unsubscribe_url)}">{esc(_("Unsubscribe"))}</a></p></div>'
    )


_HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class Tracking:
    lead_id: int
    message_id: str  # leads.tracking's message id (≤ 64 characters)
    campaign_id: int | None


def add_tracking(body: str, *, tracking: Tracking, keep: str) -> str:
    """Links rewritten to signed click links (except `keep`, the opt-out link) and an open pixel appended."""

    def rewrite(match: re.Match) -> str:
        url = html.unescape(match.group(3)).strip()
        if url == keep or not is_http_url(url):
            return match.group(0)
        tracked = email_click_path(
            lead_id=tracking.lead_id,
            url=url,
            message_id=tracking.message_id,
            campaign_id=tracking.campaign_id,
        )
        return f"{match.group(1)}{match.group(2)}{html.escape(absolute(tracked))}{match.group(2)}"

    body = _HREF.sub(rewrite, body)
    pixel_path = email_open_path(
        lead_id=tracking.lead_id, message_id=tracking.message_id, campaign_id=tracking.campaign_id
    )
    pixel = (
        f'<img src="{html.escape(absolute(pixel_path))}" width="1" height="1" alt="" style="display:none">'
    )
    if re.search(r"</body>", body, re.IGNORECASE):
        return re.sub(r"</body>", lambda _m: pixel + "</body>", body, count=1, flags=re.IGNORECASE)
    return body + pixel


@dataclass(frozen=True)
class Envelope:
    """What makes one message unique: its lead, its Message-ID and its tracking ids."""

    lead: object
    message_id: str  # the Message-ID header, <…@…>
    tracking: Tracking | None


def sender_address(profile: SenderProfile) -> str:
    return formataddr((profile.sender_name, profile.from_email))


_URL = "\ue000"  # where the opt-out link goes in a footer translated once (a private-use character: never escaped)


class Renderer:
    """One template, language and sender for many messages (a broadcast's chunk): the parts are compiled once
    (`_compiled`) and the legal footer translated once; each message costs only its lead's fields and links."""

    def __init__(self, template: EmailTemplate, *, language: str, profile: SenderProfile) -> None:
        self.template, self.language, self.profile = template, language, profile
        with override(language):
            self.footer_text = footer_text(profile, unsubscribe_url=_URL)
            self.footer_html = footer_html(profile, unsubscribe_url=_URL)
        self.from_email = sender_address(profile)

    def build(self, envelope: Envelope, *, to: str | None = None) -> PreparedEmail:
        """The message for one lead (to `to` instead of the lead's address for a test send)."""
        lead = envelope.lead
        unsubscribe_url = absolute(unsubscribe_path(lead_id=lead.pk))
        context = merge_context(lead=lead, unsubscribe_url=unsubscribe_url)
        parts = render_parts(self.template, language=self.language, context=context)
        text = parts.text.rstrip("\n") + "\n" + self.footer_text.replace(_URL, unsubscribe_url)
        html_body = parts.html
        if html_body:
            footer = self.footer_html.replace(_URL, html.escape(unsubscribe_url))
            if re.search(r"</body>", html_body, re.IGNORECASE):
                html_body = re.sub(r"</body>", lambda _m: footer + "</body>", html_body, count=1, flags=re.I)
            else:
                html_body += footer
            if envelope.tracking is not None:
                html_body = add_tracking(html_body, tracking=envelope.tracking, keep=unsubscribe_url)
        message = PreparedEmail(
            subject=parts.subject,
            body=text,
            from_email=self.from_email,
            to=[to or lead.email],
            headers={"Message-ID": envelope.message_id, **unsubscribe_headers(unsubscribe_url)},
        )
        if html_body:
            message.attach_alternative(html_body, "text/html")
        # An email provider echoes the metadata in its bounce and complaint reports (nurture.mail.bounces).
        message.metadata = {"sm_ref": envelope.message_id.strip("<>").partition("@")[0]}  # type: ignore[attr-defined]
        if settings.EMAIL_RETURN_PATH and not settings.EMAIL_ESP:
            # Over SMTP, bounces go to the envelope sender: our return path, read by `manage.py receive_mail`.
            message.extra_headers["From"] = message.from_email
            message.from_email = settings.EMAIL_RETURN_PATH
        return message


def build_message(
    template: EmailTemplate,
    *,
    language: str,
    profile: SenderProfile,
    envelope: Envelope,
    to: str | None = None,
) -> PreparedEmail:
    """The message for one lead (to `to` instead of the lead's address for a test send)."""
    return Renderer(template, language=language, profile=profile).build(envelope, to=to)


def unsubscribe_headers(unsubscribe_url: str) -> dict[str, str]:
    """RFC 2369 List-Unsubscribe (the signed https link, and a mailto: when configured) and RFC 8058 one-click."""
    targets = [f"<{unsubscribe_url}>"]
    if settings.EMAIL_UNSUBSCRIBE_MAILTO:
        targets.append(f"<mailto:{settings.EMAIL_UNSUBSCRIBE_MAILTO}?subject=unsubscribe>")
    return {"List-Unsubscribe": ", ".join(targets), "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
