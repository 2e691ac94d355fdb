"""What an event is: the schema every capture path's events are validated against, one event at a time.

Strings are checked for what PostgreSQL cannot store (NUL, lone surrogates), properties for what JSON should not
hold (NaN, deep nesting, megabytes), times for a sane range; errors come back per field, in Django's shape.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.translation import gettext as _
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from leads.choices import Industry, Region, TouchType

MAX_EVENTS_PER_BATCH = 1000
FUTURE_TOLERANCE = dt.timedelta(hours=1)  # clients' clocks drift; a day-ahead timestamp is a bug, not drift
EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MAX_PROPERTIES_CHARS = 16_000
MAX_PROPERTIES_DEPTH = 8
LEAD_PROFILE_FIELDS = ("name", "name_kana", "title", "department", "phone")
PROFILE_FIELDS = frozenset(
    (
        *LEAD_PROFILE_FIELDS,
        "company",
        "company_domain",
        "industry",
        "employee_count",
        "prefecture",
        "consent_email",
        "custom",
    )
)
COMPANY_FILL_FIELDS = ("industry", "employee_count", "prefecture", "region")

PREFECTURE_REGION: dict[str, str] = {
    "北海道": Region.HOKKAIDO,
    **dict.fromkeys(("青森", "岩手", "宮城", "秋田", "山形", "福島"), Region.TOHOKU),
    **dict.fromkeys(("茨城", "栃木", "群馬", "埼玉", "千葉", "東京", "神奈川"), Region.KANTO),
    **dict.fromkeys(("新潟", "富山", "石川", "福井", "山梨", "長野", "岐阜", "静岡", "愛知"), Region.CHUBU),
    **dict.fromkeys(("三重", "滋賀", "京都", "大阪", "兵庫", "奈良", "和歌山"), Region.KINKI),
    **dict.fromkeys(("鳥取", "島根", "岡山", "広島", "山口"), Region.CHUGOKU),
    **dict.fromkeys(("徳島", "香川", "愛媛", "高知"), Region.SHIKOKU),
    **dict.fromkeys(("福岡", "佐賀", "長崎", "熊本", "大分", "宮崎", "鹿児島", "沖縄"), Region.KYUSHU),
}


def prefecture_region(prefecture: str) -> str:
    """The region of a Japanese prefecture written with or without its suffix (東京都, 大阪府, 愛知県, 東京)."""
    name = prefecture.strip()
    if name in PREFECTURE_REGION:
        return PREFECTURE_REGION[name]
    if name[-1:] in ("都", "府", "県"):
        return PREFECTURE_REGION.get(name[:-1], "")
    return ""


# --- Validation ---------------------------------------------------------------------------------------


def _clean_text(value: str) -> str:
    # PostgreSQL text cannot hold NUL, and a lone surrogate (legal in JSON's \ud800) cannot be encoded:
    # both would otherwise surface as a 500 deep in the driver.
    if "\x00" in value:
        raise PydanticCustomError("text_nul", _("Must not contain NUL characters."))
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise PydanticCustomError("text_unicode", _("Must be valid Unicode text.")) from None
    return value


def _clean_email(value: str) -> str:
    value = unicodedata.normalize("NFKC", _clean_text(value)).strip().lower()
    try:
        validate_email(value)
    except DjangoValidationError:
        raise PydanticCustomError("email", _("Enter a valid email address.")) from None
    return value


def _clean_domain(value: str) -> str:
    return normalize_domain(_clean_text(value))


def normalize_domain(value: str) -> str:
    """`https://www.Example.co.jp/about` → `example.co.jp`; raises when what is left is not a host name."""
    value = unicodedata.normalize("NFKC", value).strip().lower()
    if not value:
        return ""
    host = urlsplit(value if "//" in value else f"//{value}").hostname or ""
    host = host.removeprefix("www.")
    labels = host.split(".")
    if (
        len(host) > 200
        or len(labels) < 2
        or not all(
            label and len(label) <= 63 and all(c.isalnum() or c == "-" for c in label) for label in labels
        )
    ):
        raise PydanticCustomError("domain", _("Enter a domain name such as example.co.jp."))
    return host


_VISITOR_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def _clean_visitor_id(value: str) -> str:
    if not _VISITOR_ID.fullmatch(value):
        raise PydanticCustomError(
            "visitor_id", _("Use 1–64 characters: letters, digits, dot, underscore, colon or hyphen.")
        )
    return value


Text = Annotated[str, AfterValidator(_clean_text)]
Email = Annotated[str, AfterValidator(_clean_email)]
Domain = Annotated[str, AfterValidator(_clean_domain)]
VisitorId = Annotated[str, AfterValidator(_clean_visitor_id)]


def _check_json(value: Any, depth: int = 0) -> None:
    if depth > MAX_PROPERTIES_DEPTH:
        raise PydanticCustomError(
            "json_depth", _("Nest at most {depth} levels deep."), {"depth": MAX_PROPERTIES_DEPTH}
        )
    if isinstance(value, str):
        _clean_text(value)
    elif isinstance(value, float) and not math.isfinite(value):
        raise PydanticCustomError("json_number", _("Numbers must be finite (no NaN or Infinity)."))
    elif isinstance(value, dict):
        for key, item in value.items():
            _clean_text(key)
            _check_json(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_json(item, depth + 1)


class EventIn(BaseModel):
    """One event. Name the person with `email` or `lead_id`, or only an anonymous `visitor_id`; an event with
    both an email (or lead id) and a visitor id identifies that visitor: their earlier anonymous touches move to
    the lead."""

    model_config = ConfigDict(extra="forbid", use_enum_values=True)

    id: Text = Field(
        min_length=1,
        max_length=128,
        description="Your unique id for this event (idempotency key). Sending the same id again from the same "
        "integration (API key source) is counted as a duplicate and changes nothing.",
        examples=["evt_01HZX3K4"],
    )
    type: TouchType = Field(description="What happened.", examples=["form_submit"])
    email: Email | None = Field(
        None,
        max_length=254,
        description="The person's email; creates the lead when new.",
        examples=["taro@example.co.jp"],
    )
    # Strict numbers and booleans: JSON's true is not lead 1, nor "1" a head count; every capture path already
    # sends real ints and bools.
    lead_id: int | None = Field(
        None, gt=0, strict=True, description="An existing lead's id (instead of email)."
    )
    visitor_id: VisitorId | None = Field(
        None,
        description="The first-party visitor id (cookie `sm_vid`) of the browser.",
        examples=["v1.8f3c2a"],
    )
    occurred_at: dt.datetime | None = Field(
        None,
        description="When it happened, ISO 8601. Without an offset it is read as Asia/Tokyo. Default: now. "
        "At most one hour in the future.",
        examples=["2026-04-01T10:30:00+09:00"],
    )
    url: Text = Field("", max_length=2048, description="The page or link, if any.")
    utm_source: Text = Field("", max_length=100)
    utm_medium: Text = Field("", max_length=100)
    utm_campaign: Text = Field(
        "", max_length=100, description="Links the touch to the campaign with this UTM campaign code."
    )
    utm_content: Text = Field("", max_length=100)
    utm_term: Text = Field("", max_length=100)
    properties: dict[str, Any] = Field(
        default_factory=dict,
        description="Anything else worth keeping (a JSON object, up to 16,000 characters).",
    )
    # Lead profile: only with an email or lead_id. An empty value never erases a known one.
    name: Text = Field("", max_length=200, description="Full name, e.g. 山田 太郎.")
    name_kana: Text = Field("", max_length=200, description="Name in kana, e.g. ヤマダ タロウ.")
    title: Text = Field("", max_length=200, description="Job title.")
    department: Text = Field("", max_length=200)
    phone: Text = Field("", max_length=50)
    company: Text = Field("", max_length=200, description="Company name.")
    company_domain: Domain = Field("", max_length=200, description="Company web domain, e.g. example.co.jp.")
    industry: Industry | None = Field(None, description="The company's industry.")
    employee_count: int | None = Field(
        None, ge=0, le=10_000_000, strict=True, description="The company's head count."
    )
    prefecture: Text = Field("", max_length=20, description="The company's prefecture, e.g. 東京都.")
    consent_email: bool | None = Field(None, strict=True, description="Whether they agreed to receive email.")
    custom: dict[str, Any] = Field(
        default_factory=dict,
        description="The lead's custom fields by key (text, number, date YYYY-MM-DD, choice, a list for multiple "
        "choice, true/false), checked by type; only with an email or a lead_id.",
        examples=[{"budget": 5000000}],
    )

    @field_validator("occurred_at")
    @classmethod
    def _occurred_at_in_range(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is None:
            return None
        if timezone.is_naive(value):
            try:
                value = timezone.make_aware(value, timezone.get_default_timezone())
            except (OverflowError, ValueError):
                raise PydanticCustomError("occurred_at", _("Enter a date after 1970.")) from None
        if value < EARLIEST:
            raise PydanticCustomError("occurred_at", _("Enter a date after 1970."))
        if value > timezone.now() + FUTURE_TOLERANCE:
            raise PydanticCustomError("occurred_at", _("Must not be in the future."))
        return value

    @field_validator("custom")
    @classmethod
    def _custom_is_plain_json(cls, value: dict[str, Any]) -> dict[str, Any]:
        _check_json(value)
        return value

    @field_validator("properties")
    @classmethod
    def _properties_are_plain_json(cls, value: dict[str, Any]) -> dict[str, Any]:
        _check_json(value)
        if len(_dumps(value)) > MAX_PROPERTIES_CHARS:
            raise PydanticCustomError(
                "properties_size",
                _("Keep properties under {size} characters."),
                {"size": MAX_PROPERTIES_CHARS},
            )
        return value

    @model_validator(mode="after")
    def _names_one_person(self) -> EventIn:
        if self.email and self.lead_id:
            raise PydanticCustomError("identity", _("Give either an email or a lead_id, not both."))
        if not (self.email or self.lead_id or self.visitor_id):
            raise PydanticCustomError("identity", _("Give an email, a lead_id or a visitor_id."))
        if not (self.email or self.lead_id) and self.has_profile:
            raise PydanticCustomError(
                "identity", _("Profile fields (name, company, …) need an email or a lead_id.")
            )
        return self

    @property
    def has_profile(self) -> bool:
        # Only fields the sender set can hold a value (the rest are defaults): usually none, so this is cheap.
        return any(
            getattr(self, name) not in (None, "", {}) for name in self.model_fields_set & PROFILE_FIELDS
        )


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


_MESSAGES = {
    "missing": lambda ctx: _("This field is required."),
    "string_too_long": lambda ctx: (
        _("Ensure this value has at most %(n)s characters.") % {"n": ctx["max_length"]}
    ),
    "string_too_short": lambda ctx: _("This field cannot be empty."),
    "string_type": lambda ctx: _("Enter text (a JSON string)."),
    "enum": lambda ctx: _("Not an allowed value. Allowed: %(values)s.") % {"values": ctx["expected"]},
    "extra_forbidden": lambda ctx: _("Unknown field."),
    "int_parsing": lambda ctx: _("Enter a whole number."),
    "int_type": lambda ctx: _("Enter a whole number."),
    "int_from_float": lambda ctx: _("Enter a whole number."),
    "bool_parsing": lambda ctx: _("Enter true or false."),
    "bool_type": lambda ctx: _("Enter true or false."),
    "dict_type": lambda ctx: _("Enter a JSON object."),
    "model_type": lambda ctx: _("An event must be a JSON object."),
    "model_attributes_type": lambda ctx: _("An event must be a JSON object."),
    "datetime_parsing": lambda ctx: _("Enter a date and time in ISO 8601, e.g. 2026-04-01T10:30:00+09:00."),
    "datetime_from_date_parsing": lambda ctx: _(
        "Enter a date and time in ISO 8601, e.g. 2026-04-01T10:30:00+09:00."
    ),
    "datetime_type": lambda ctx: _("Enter a date and time in ISO 8601, e.g. 2026-04-01T10:30:00+09:00."),
    "datetime_object_invalid": lambda ctx: _(
        "Enter a date and time in ISO 8601, e.g. 2026-04-01T10:30:00+09:00."
    ),
}


def validation_errors(exc: ValidationError) -> dict[str, list[str]]:
    """Pydantic's errors as `{field: [message, …]}` (Django's shape); `__all__` for the event as a whole."""
    errors: dict[str, list[str]] = {}
    for error in exc.errors(include_url=False, include_input=False):
        loc = [str(part) for part in error["loc"]]
        name = ".".join(loc) if loc else "__all__"
        make = _MESSAGES.get(error["type"])
        try:
            message = make(error.get("ctx") or {}) if make else error["msg"]
        except (KeyError, TypeError):
            message = error["msg"]
        errors.setdefault(name, [])
        if message not in errors[name]:
            errors[name].append(str(message))
    return errors


@dataclass
class Rejected:
    index: int
    errors: dict[str, list[str]]


def events_validate(events: Sequence[Any]) -> tuple[list[tuple[int, EventIn]], list[Rejected]]:
    """Each raw event (a dict, or an already valid EventIn) validated on its own."""
    valid: list[tuple[int, EventIn]] = []
    rejected: list[Rejected] = []
    for index, raw in enumerate(events):
        if isinstance(raw, EventIn):
            valid.append((index, raw))
            continue
        try:
            valid.append((index, EventIn.model_validate(raw)))
        except ValidationError as exc:
            rejected.append(Rejected(index=index, errors=validation_errors(exc)))
    return valid, rejected
