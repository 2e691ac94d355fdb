"""Notification messages, rendered when they are read, in the reader's language.

A notification stores a message's kind and its parameters, never its text: the bell and the notifications page
render it in the language of whoever reads it, an e-mail in the recipient's (`User.language`). The app that
sends a message declares it once, at module level, with its text marked for translation:

    NEW_DEAL = notifications.Message(
        "deal_assigned", title=gettext_noop("New deal for you: %(name)s"), dates=("due",), labels={...}
    )
    notification_send(recipient=rep, message=NEW_DEAL, params={"name": deal.name}, url=...)

Parameters are stored as JSON: text as it is (names people typed are never translated), date-times as ISO
strings named in `dates` (shown in the reader's date-time style and time zone, or `times`: the time only),
and codes named in `labels`, shown through their choices' translated labels. Declaring a message registers
its kind, so a stored kind finds its message for as long as the module that declares it is imported (each app's
AppConfig.ready() imports it). A row whose kind is unknown, or that has no kind (free text, and rows written
before kinds existed), shows its stored title and body.

Each user chooses, per message kind with a `label`, whether it reaches them in the app (the bell) and by e-mail
(`NotificationPreference`, the settings page); without a choice a message comes as its sender asks (in the app,
and by e-mail when the sender says `email=True`), as it always did.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.utils import formats, timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext

_messages: dict[str, Message] = {}


@dataclass(frozen=True)
class Message:
    kind: str
    title: str  # a msgid (gettext_noop) with %(name)s placeholders
    body: str = ""
    dates: tuple[str, ...] = ()  # parameters holding ISO date-times, shown as date and time
    times: tuple[str, ...] = ()  # parameters holding ISO date-times, shown as the time only
    labels: Mapping[str, Any] = field(default_factory=dict)  # parameter → its choices (code → lazy label)
    # Shown in each user's notification settings (a msgid, gettext_noop) under `group`; a message without a label
    # is not offered there (it is always delivered as its sender asks).
    label: str = ""
    group: str = ""
    # Whether it is e-mailed by default (before the user chose): the sender's `email=` decides, as it always
    # did; this is what the settings page shows as the default for the e-mail column.
    email: bool = False

    def __post_init__(self) -> None:
        known = _messages.get(self.kind)
        if known is not None and known != self:
            raise ValueError(f"two notification messages share the kind {self.kind!r}")
        _messages[self.kind] = self

    def params(self, **values: Any) -> dict[str, Any]:
        """The values as stored: date-times as ISO strings, the rest as given (text, numbers, codes)."""
        return {k: v.isoformat() if isinstance(v, dt.datetime) else v for k, v in values.items()}

    def render(self, params: Mapping[str, Any]) -> tuple[str, str]:
        """(title, body) in the active language."""
        shown = {key: self._show(key, value) for key, value in params.items()}
        return gettext(self.title) % shown, (gettext(self.body) % shown if self.body else "")

    def _show(self, key: str, value: Any) -> Any:
        if key in self.dates or key in self.times:
            moment = parse_datetime(value) if isinstance(value, str) else None
            if moment is None:
                return value
            style = "TIME_FORMAT" if key in self.times else "SHORT_DATETIME_FORMAT"
            return formats.date_format(timezone.localtime(moment), style)
        if key in self.labels:
            return str(dict(self.labels[key]).get(value, value))
        return value


def preferable() -> list[Message]:
    """The messages a user may switch on or off per channel (those with a label), in group and label order."""
    return sorted((m for m in _messages.values() if m.label), key=lambda m: (m.group, m.kind))


def lookup(kind: str) -> Message | None:
    return _messages.get(kind)


def render(*, kind: str, params: Mapping[str, Any], title: str, body: str) -> tuple[str, str]:
    """A stored notification's (title, body) in the active language."""
    declared = _messages.get(kind) if kind else None
    if declared is None:
        return title, body
    try:
        return declared.render(params)
    except (KeyError, TypeError, ValueError):  # a row stored before its message changed shape
        return title or declared.kind, body
