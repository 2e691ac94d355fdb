"""Personal data out of the logs: query strings that carry a search, an email or a name are redacted in every
line the web server and the app write (gunicorn's access log, runserver's request log, and any app log line).

Why redact rather than move every such search to POST: the lead list keeps its filters, free-text search
included, in the URL, so a search can be bookmarked, shared with a colleague, reloaded, paged and exported
(the CSV link carries the same filters) and the back button and HTMX history work. Searching by POST would give
up all of that, and still leave the same class of URLs elsewhere: the Django admin's search (`?q=`), the tracking
collector's `?url=` (a landing page's own query may hold an email), the click redirect's `?u=`. So every line we
log goes through one filter instead: the values of `SENSITIVE_PARAMS`, and of any parameter whose value holds
an email (an `@`, also percent-encoded), become `[redacted]`; other filters (lifecycle, owner, page…) stay
readable. The Referer of a same-origin request (gunicorn's `%(f)s`) is the previous page's URL, so it is redacted
the same way; `SECURE_REFERRER_POLICY = "same-origin"` keeps it from other sites. A proxy in front of the app
keeps its own log: configure it the same way (e.g. nginx: log `$uri`, not `$request`).

This module imports no Django, so gunicorn's master can load it (`--logger-class` in the Dockerfile's command).
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_plus

from gunicorn.glogging import Logger as _GunicornLogger

REDACTED = "[redacted]"
# Query parameters whose value is typed by a person or names one: searches, emails, names, phones.
SENSITIVE_PARAMS = frozenset({"q", "query", "search", "email", "lead.email", "name", "phone", "term"})
_PARAM = re.compile(r"(?P<sep>[?&;])(?P<key>[^=&;#\s\"]*)=(?P<value>[^&;#\s\"]*)")
_EMAIL = re.compile(r"[^\s\"'<>(),;:/?&=]+@[^\s\"'<>(),;:/?&=]+\.[^\s\"'<>(),;:/?&=]+")


def _holds_email(value: str) -> bool:
    for _round in range(3):  # a URL inside a parameter is encoded once more (…%253Femail%253D…%2540…)
        if "@" in value:
            return True
        decoded = unquote_plus(value)
        if decoded == value:
            return False
        value = decoded
    return "@" in value


def _redact_param(match: re.Match) -> str:
    key, value = unquote_plus(match["key"]).lower(), match["value"]
    if value and (key in SENSITIVE_PARAMS or _holds_email(value)):
        value = REDACTED
    return f"{match['sep']}{match['key']}={value}"


def redact(text: str) -> str:
    """The text with sensitive query-string values and bare email addresses replaced by `[redacted]`. Works on a
    URL, a request line (`GET /leads/?q=… HTTP/1.1`) or a whole log message."""
    if not text or ("=" not in text and "@" not in text):
        return text
    return _EMAIL.sub(REDACTED, _PARAM.sub(_redact_param, text))


def redact_query(query: str) -> str:
    """A bare query string (`q=…&page=2`, gunicorn's `%(q)s`) redacted the same way."""
    return redact("?" + query)[1:] if query else query


class RedactFilter(logging.Filter):
    """Redacts the message and its string arguments of every record (installed on the handlers in LOGGING)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()}
        return True


class GunicornLogger(_GunicornLogger):
    """gunicorn's logger with the request line, query string and Referer of each access-log line redacted."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "f", "{referer}i", "{raw_uri}e", "{http_referer}e"):
            if isinstance(atoms.get(key), str):
                atoms[key] = redact(atoms[key])
        for key in ("q", "{query_string}e"):
            if isinstance(atoms.get(key), str):
                atoms[key] = redact_query(atoms[key])
        return atoms
