"""The meeting invitation as an iCalendar object (RFC 5545): METHOD:REQUEST, one VEVENT with a stable UID, times
in UTC (the "Z" form needs no VTIMEZONE; calendars show them in the reader's zone, Asia/Tokyo here), the rep as
organizer and both people as attendees. Text is escaped and lines are folded at 75 octets, as the RFC asks."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

PRODID = "-//salesmarketing//meeting booking//EN"


@dataclass(frozen=True)
class Invitation:
    uid: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    stamp: dt.datetime
    summary: str
    description: str
    organizer_name: str
    organizer_email: str
    attendee_name: str
    attendee_email: str


def _utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def _text(value: str) -> str:
    """An RFC 5545 TEXT value: backslash, semicolon, comma and newlines escaped."""
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return value.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")


def _param(value: str) -> str:
    """A parameter value (CN): quoted, without the characters a quoted value cannot hold."""
    return '"' + "".join(c for c in value if c not in '"\r\n' and (c >= " " or c == "\t")) + '"'


def _fold(line: str) -> str:
    """Lines longer than 75 octets are split (CRLF and a space), never inside a UTF-8 character."""
    out, current = [], b""
    for char in line:
        encoded = char.encode("utf-8")
        limit = 75 if not out else 74  # a continuation line starts with the space
        if len(current) + len(encoded) > limit:
            out.append(current)
            current = b""
        current += encoded
    out.append(current)
    return "\r\n ".join(part.decode("utf-8") for part in out)


def invitation_ics(invitation: Invitation) -> str:
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:REQUEST",
        "BEGIN:VEVENT",
        f"UID:{invitation.uid}",
        f"DTSTAMP:{_utc(invitation.stamp)}",
        f"DTSTART:{_utc(invitation.starts_at)}",
        f"DTEND:{_utc(invitation.ends_at)}",
        "SEQUENCE:0",
        "STATUS:CONFIRMED",
        f"SUMMARY:{_text(invitation.summary)}",
        f"DESCRIPTION:{_text(invitation.description)}",
        f"ORGANIZER;CN={_param(invitation.organizer_name)}:mailto:{invitation.organizer_email}",
        f"ATTENDEE;CN={_param(invitation.organizer_name)};ROLE=CHAIR;PARTSTAT=ACCEPTED:"
        f"mailto:{invitation.organizer_email}",
        f"ATTENDEE;CN={_param(invitation.attendee_name)};ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:"
        f"mailto:{invitation.attendee_email}",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "".join(_fold(line) + "\r\n" for line in lines)
