"""Team chat: an event as a message in the team's language, and each chat service's request shape.

The event's payload has ids only; the names a team needs (the lead, the rep, the deal) are read when the message
is sent, so an erased lead shows as its erased self. Nothing beyond what the team works with is sent: no e-mail
address, phone or note.

Request shapes (each service's documented one):
- Slack incoming webhook: POST JSON `{"text": …}` to the webhook URL.
- Microsoft Teams (Workflows / incoming webhook): POST JSON, a message with one Adaptive Card attachment.
- LINE WORKS incoming webhook: POST JSON `{"title": …, "body": {"text": …}}` to the webhook URL.
  Checked (Dec 2026) against LINE WORKS' "Incoming Webhook アプリ" page
  (https://developers.worksmobile.com/jp/docs/webhook): a talk room's Webhook URL
  (https://webhook.worksmobile.com/message/…) takes an HTTP request in a fixed format ("リクエスト形式"), with no
  token or Bot API set-up. The format section itself could not be read in full here; public senders to that URL
  post exactly this shape (`title`, and `body.text`), so nothing was changed. The Bot API's message format
  (`{"content": {"type": "text", "text": …}}` to https://www.worksapis.com/v1.0/bots/{botId}/channels/{channelId}/
  messages with an OAuth access token) is a different service that this app does not use.
- Chatwork API v2: POST form `body=…` to `{CHATWORK_API_BASE}/rooms/{room_id}/messages` with the header
  `X-ChatWorkToken: <API token>`; the message uses Chatwork's `[info][title]…[/title]…[/info]` notation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from integrations.models import TeamChannel
from leads.models import Handoff, Lead
from pipeline.models import Deal
from salesmarketing import events
from salesmarketing.models import DomainEvent, User
from salesmarketing.templatetags.sm import yen


@dataclass(frozen=True)
class ChatMessage:
    title: str
    text: str
    link: str


@dataclass(frozen=True)
class ChatRequest:
    url: str
    body: bytes
    headers: dict[str, str]


def _lead_name(lead_id: Any) -> str:
    lead = Lead.objects.filter(pk=lead_id).only("name", "email").first()
    # The name, as the team sees it in the app; a lead without one shows as "a lead", never by its e-mail.
    return (lead.name if lead is not None else "") or _("a lead")


def _user_name(user_id: Any) -> str:
    user = User.objects.filter(pk=user_id).first() if user_id else None
    return str(user) if user is not None else _("nobody")


def _link(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def _handoff_message(event: DomainEvent) -> ChatMessage:
    data = event.payload
    lead, rep = _lead_name(data.get("lead_id")), _user_name(data.get("owner_id"))
    link = _link(reverse("leads:detail", args=[data.get("lead_id")]))
    if event.kind == events.HANDOFF_ASSIGNED:
        return ChatMessage(
            _("New handoff: %(lead)s") % {"lead": lead},
            _("%(lead)s was handed to %(rep)s. Make the first call before the SLA is due.")
            % {"lead": lead, "rep": rep},
            link,
        )
    if event.kind == events.HANDOFF_SLA_BREACHED:
        return ChatMessage(
            _("SLA breached: %(lead)s") % {"lead": lead},
            _("%(rep)s has not contacted %(lead)s in time.") % {"lead": lead, "rep": rep},
            link,
        )
    reason = str(dict(Handoff.RejectReason.choices).get(data.get("reason"), data.get("reason") or ""))
    return ChatMessage(
        _("Handoff rejected: %(lead)s") % {"lead": lead},
        _("%(rep)s rejected %(lead)s: %(reason)s") % {"lead": lead, "rep": rep, "reason": reason},
        link,
    )


def _deal_message(event: DomainEvent) -> ChatMessage:
    data = event.payload
    deal = Deal.objects.filter(pk=data.get("deal_id")).only("name").first()
    name = deal.name if deal is not None else _("a deal")
    return ChatMessage(
        _("Deal won: %(deal)s") % {"deal": name},
        _("%(rep)s won %(deal)s for %(amount)s.")
        % {"rep": _user_name(data.get("owner_id")), "deal": name, "amount": yen(data.get("amount"))},
        _link(reverse("pipeline:deal_detail", args=[data.get("deal_id")])),
    )


def message_for(event: DomainEvent, *, language: str) -> ChatMessage:
    """The event as the team's channel shows it, in `language`."""
    with translation.override(language):
        if event.kind == events.DEAL_WON:
            return _deal_message(event)
        if event.kind in (events.HANDOFF_ASSIGNED, events.HANDOFF_SLA_BREACHED, events.HANDOFF_REJECTED):
            return _handoff_message(event)
        return ChatMessage(str(events.KINDS.get(event.kind, event.kind)), "", _link("/"))


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


JSON = {"Content-Type": "application/json; charset=utf-8"}


def chat_request(channel: TeamChannel, message: ChatMessage) -> ChatRequest:
    """The HTTP request that posts `message` to `channel`, in its service's shape."""
    provider = channel.provider
    if provider == TeamChannel.Provider.SLACK:
        text = f"*{message.title}*\n{message.text}\n<{message.link}>"
        return ChatRequest(channel.url, _json({"text": text}), JSON)
    if provider == TeamChannel.Provider.TEAMS:
        card = {
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard",
            "version": "1.4",
            "body": [
                {
                    "type": "TextBlock",
                    "text": message.title,
                    "weight": "Bolder",
                    "size": "Medium",
                    "wrap": True,
                },
                {"type": "TextBlock", "text": message.text, "wrap": True},
            ],
            "actions": [{"type": "Action.OpenUrl", "title": _("Open in the app"), "url": message.link}],
        }
        body = {
            "type": "message",
            "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}],
        }
        return ChatRequest(channel.url, _json(body), JSON)
    if provider == TeamChannel.Provider.LINE_WORKS:
        body = {"title": message.title, "body": {"text": f"{message.text}\n{message.link}"}}
        return ChatRequest(channel.url, _json(body), JSON)
    text = f"[info][title]{message.title}[/title]{message.text}\n{message.link}[/info]"
    return ChatRequest(
        f"{settings.CHATWORK_API_BASE.rstrip('/')}/rooms/{channel.room_id}/messages",
        urlencode({"body": text}).encode(),
        {"Content-Type": "application/x-www-form-urlencoded", "X-ChatWorkToken": channel.token},
    )


def chat_request_for(channel: TeamChannel, event: DomainEvent) -> ChatRequest:
    with translation.override(channel.language):
        return chat_request(channel, message_for(event, language=channel.language))
