"""Companies over the JSON API: list, read, create and update, through the records feature's services.

Reads need `leads:read`, writes `leads:write`. A key acting as a user reaches the companies that user sees on the
company pages (a rep: those their team owns, those with a lead or deal they see, and the unowned ones nobody
works with yet; 404 for the rest) and sets the owners that user may choose there; an integration's key reaches every company. What
the services refuse (a taken domain or corporate number, a parent that would make a loop, an owner change without
a reason) answers 422 naming the field.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import HttpError
from pydantic import ConfigDict, StrictInt, field_validator

from leads.choices import Industry
from leads.custom_fields.api import custom_in, custom_out
from leads.ingest import Domain, Text
from leads.models import Company, CustomObject
from leads.owners.selectors import owner_candidates, owner_choices, owner_may_be_nobody
from leads.records import services
from leads.records.forms import PREFECTURES
from leads.records.selectors import companies_visible_to
from salesmarketing.api import (
    Page,
    SinceQuery,
    acting_user,
    field_invalid,
    page_out,
    require_scope,
    service_invalid,
    since_filtered,
)
from salesmarketing.models import ApiKey, User

router = Router(tags=["companies"])

Id = StrictInt


class CompanyFields(Schema):
    model_config = ConfigDict(extra="forbid")

    name_kana: Text = Field("", max_length=200)
    domain: Domain = Field("", max_length=200, description="Web domain; unique.", examples=["example.co.jp"])
    corporate_number: Text = Field("", max_length=13, description="法人番号: 13 digits with its check digit.")
    industry: Industry | None = None
    employee_count: StrictInt | None = Field(None, ge=0, le=10_000_000)
    prefecture: Text = Field("", max_length=20, description="e.g. 東京都; sets the region.")
    address: Text = Field("", max_length=300)
    website: Text = Field("", max_length=200, examples=["https://example.co.jp/"])
    parent_id: Id | None = Field(None, description="The parent company (one the key reaches).")
    owner_id: Id | None = Field(
        None,
        description="The owner's user id: an active rep or manager whom the key's user may choose "
        "(as on the company form). Default on create: the key's user if a rep.",
    )
    custom: dict[str, Any] | None = custom_in()

    @field_validator("prefecture")
    @classmethod
    def _known_prefecture(cls, value: str) -> str:
        if value and value not in PREFECTURES:
            raise ValueError("Give a prefecture such as 東京都.")
        return value

    @field_validator("website")
    @classmethod
    def _url(cls, value: str) -> str:
        if value:
            try:
                URLValidator(schemes=["http", "https"])(value)
            except DjangoValidationError:
                raise ValueError("Give an http(s) URL.") from None
        return value


class CompanyIn(CompanyFields):
    name: Text = Field(..., min_length=1, max_length=200, examples=["株式会社サンプル"])


class CompanyPatch(CompanyFields):
    name: Text | None = Field(None, min_length=1, max_length=200)
    owner_reason: Text = Field(
        "", max_length=300, description="Why the owner changes: required with a new owner_id, logged with it."
    )


class CompanyOut(Schema):
    id: int
    name: str
    name_kana: str
    domain: str
    corporate_number: str
    industry: str = Field(description="Industry code ('' when unknown).")
    employee_count: int | None
    prefecture: str
    region: str = Field(description="Region code ('' when unknown).")
    address: str
    website: str
    parent_id: int | None
    owner_id: int | None
    customer_since: dt.datetime | None = Field(description="Set by the company's first won deal.")
    created_at: dt.datetime
    updated_at: dt.datetime
    custom: dict[str, Any] = Field(description="Custom field values by key (the fields offered to the API).")

    @staticmethod
    def resolve_custom(obj: Company, context) -> dict[str, Any]:
        return custom_out(context["request"] if context else None, CustomObject.COMPANY, obj.custom)


class CompanyFilters(SinceQuery):
    q: str | None = Field(
        None, max_length=200, description="Part of the name, kana or domain; or a 法人番号."
    )
    domain: str | None = Field(None, max_length=200, description="Exactly this domain (case-insensitive).")
    industry: Industry | None = None
    prefecture: str | None = Field(None, max_length=20)
    customer: bool | None = Field(None, description="true: customers only; false: not yet customers.")
    owner: int | None = Field(None, ge=1, le=2**63 - 1, description="The owner's user id.")


class ErrorOut(Schema):
    detail: str


def _companies(key: ApiKey) -> QuerySet[Company]:
    user = acting_user(key)
    return Company.objects.all() if user is None else companies_visible_to(user)


def _company(key: ApiKey, company_id: int) -> Company:
    company = _companies(key).filter(pk=company_id).first()
    if company is None:
        raise HttpError(404, "Company not found.")
    return company


def _owner(key: ApiKey, company: Company, owner_id: int | None) -> User | None:
    """The owner the body names, if the key's user may choose them for the company (as on the company form;
    an integration's key any active rep or manager); 422 on `owner_id` otherwise."""
    user = acting_user(key)
    if owner_id is None:
        if user is None or owner_may_be_nobody(user):
            return None
        raise field_invalid("owner_id", "The key's user cannot leave a company without an owner.")
    people = owner_candidates() if user is None else owner_choices(viewer=user, record=company)
    if people is None:
        raise field_invalid("owner_id", "The key's user cannot change this company's owner.")
    owner = people.filter(pk=owner_id).first()
    if owner is None:
        if not owner_candidates().filter(pk=owner_id).exists():
            raise field_invalid("owner_id", "No active rep or manager has this id.")
        raise field_invalid("owner_id", "The key's user cannot make this user the owner.")
    return owner


def _fields(key: ApiKey, data: dict[str, Any], company: Company) -> dict[str, Any]:
    """The service's keyword arguments from the body's fields; the parent must be a company the key reaches, the
    owner one the key's user may choose."""
    if "owner_id" in data:
        owner_id = data.pop("owner_id")
        if owner_id != company.owner_id:
            data["owner"] = _owner(key, company, owner_id)
    if "parent_id" in data:
        parent_id = data.pop("parent_id")
        parent = None
        if parent_id is not None:
            parent = _companies(key).filter(pk=parent_id).first()
            if parent is None:
                raise field_invalid("parent_id", "No company has this id.")
        data["parent"] = parent
    if "industry" in data:
        data["industry"] = data["industry"] or ""
    return data


@router.get("/companies", response=Page[CompanyOut], summary="List companies, newest first")
def companies_list(request: HttpRequest, filters: Query[CompanyFilters]):
    qs = _companies(require_scope(request, ApiKey.Scope.LEADS_READ))
    if filters.q:
        qs = qs.filter(
            Q(name__icontains=filters.q)
            | Q(name_kana__icontains=filters.q)
            | Q(domain__icontains=filters.q)
            | Q(corporate_number=filters.q)
        )
    if filters.domain is not None:
        qs = qs.filter(domain__iexact=filters.domain.strip())
    if filters.industry:
        qs = qs.filter(industry=filters.industry)
    if filters.prefecture:
        qs = qs.filter(prefecture=filters.prefecture)
    if filters.customer is not None:
        qs = qs.filter(customer_since__isnull=not filters.customer)
    if filters.owner is not None:
        qs = qs.filter(owner_id=filters.owner)
    return page_out(since_filtered(qs, filters), filters, keys=("pk",))


@router.get(
    "/companies/{int:company_id}", response={200: CompanyOut, 404: ErrorOut}, summary="Read a company"
)
def company_read(request: HttpRequest, company_id: int):
    return _company(require_scope(request, ApiKey.Scope.LEADS_READ), company_id)


@router.post("/companies", response={201: CompanyOut}, summary="Create a company")
def company_create(request: HttpRequest, payload: CompanyIn):
    """Needs `leads:write`. A domain or corporate number another company has, or an owner the key's user may not
    choose, answers 422 naming the field."""
    key = require_scope(request, ApiKey.Scope.LEADS_WRITE)
    user = acting_user(key)
    data = payload.model_dump()
    if "owner_id" not in payload.model_fields_set:
        del data["owner_id"]  # the default owner stays
    data["custom"] = data["custom"] or {}  # a new company must have its required fields
    new = Company(owner=user if user is not None and user.role == User.Role.SALES else None)
    fields = _fields(key, data, new)
    try:
        company = services.company_create(
            by=key.user, custom_place="in_api", **{"owner": new.owner, **fields}
        )
    except DjangoValidationError as error:
        raise service_invalid(error, {"parent": "parent_id"}) from None
    return Status(201, company)


@router.patch(
    "/companies/{int:company_id}",
    response={200: CompanyOut, 404: ErrorOut},
    summary="Update a company",
)
def company_update(request: HttpRequest, company_id: int, payload: CompanyPatch):
    """Changes the fields sent (others stay). Needs `leads:write`; 404 for a company the key does not reach."""
    key = require_scope(request, ApiKey.Scope.LEADS_WRITE)
    company = _company(key, company_id)
    data = payload.model_dump(exclude_unset=True)
    if "name" in data and data["name"] is None:
        raise field_invalid("name", "This field cannot be null.")
    for name in ("name_kana", "domain", "corporate_number", "prefecture", "address", "website"):
        if name in data and data[name] is None:
            data[name] = ""
    try:
        company = services.company_edit(
            company=company, by=key.user, custom_place="in_api", **_fields(key, data, company)
        )
    except DjangoValidationError as error:
        raise service_invalid(error, {"parent": "parent_id"}) from None
    return company
