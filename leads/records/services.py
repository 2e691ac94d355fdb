"""Writes of records people keep: leads and companies created and edited by hand, and the business-card entry.

Each raises ValidationError keyed by field for what the database or the rules refuse (a taken email, domain or
corporate number, a parent that would make a loop), so the form shows it next to the field."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from leads.choices import ConsentMethod, LeadSource
from leads.custom_fields.services import custom_apply
from leads.ingest.schema import prefecture_region
from leads.models import Company, CustomObject, Lead
from leads.models.companies import validate_corporate_number
from leads.owners.services import owner_change
from leads.records.normalize import company_name_key, work_domain
from leads.services import lead_created_payload, leads_touched, normalize_email
from salesmarketing import events
from salesmarketing.events import event_emit

UNCHANGED: Any = object()  # company_edit's owner when the caller leaves it as it is

COMPANY_EDITABLE = (
    "name",
    "name_kana",
    "domain",
    "corporate_number",
    "industry",
    "employee_count",
    "region",
    "prefecture",
    "address",
    "website",
    "parent",
)
LEAD_EDITABLE = (
    "name",
    "name_kana",
    "company",
    "department",
    "title",
    "email",
    "phone",
    "consent_email",
    "consent_method",
    "consent_at",
    "consent_wording",
    "owner",
)


def _company_check(company: Company) -> None:
    errors: dict[str, str] = {}
    company.domain = company.domain.strip().lower()
    company.corporate_number = company.corporate_number.strip()
    try:
        validate_corporate_number(company.corporate_number)
    except ValidationError as exc:
        errors["corporate_number"] = exc.messages[0]
    others = Company.objects.exclude(pk=company.pk) if company.pk else Company.objects.all()
    if company.domain and others.filter(domain__iexact=company.domain).exists():
        errors["domain"] = _("Another company has this domain.")
    if company.corporate_number and others.filter(corporate_number=company.corporate_number).exists():
        errors["corporate_number"] = _("Another company has this corporate number.")
    parent, seen = company.parent, {company.pk}
    while parent is not None and "parent" not in errors:
        if parent.pk in seen:
            errors["parent"] = _("A company cannot be its own parent, directly or through others.")
        seen.add(parent.pk)
        parent = parent.parent
    if errors:
        raise ValidationError(errors)


def _company_save(company: Company) -> Company:
    _company_check(company)
    if company.prefecture:
        company.region = prefecture_region(company.prefecture) or company.region
    try:
        with transaction.atomic():
            company.save()
    except IntegrityError as exc:  # another request took the domain or number a moment ago
        raise ValidationError({"domain": _("Another company has this domain or corporate number.")}) from exc
    return company


def company_create(
    *,
    by: Any,
    owner: Any = None,
    custom: dict[str, Any] | None = None,
    custom_place: str = "in_form",
    **fields: Any,
) -> Company:
    """A company entered by hand, owned by `owner` (whom the caller checked `by` may choose). `custom`: custom
    field values by key, checked against the fields shown in `custom_place` (the form's, the API's); errors are
    keyed `custom.<key>`."""
    company = Company(owner=owner, **{k: v for k, v in fields.items() if k in COMPANY_EDITABLE})
    if custom is not None:
        company.custom = custom_apply(
            object_type=CustomObject.COMPANY, current={}, values=custom, place=custom_place
        )
    return _company_save(company)


def company_edit(
    *,
    company: Company,
    by: Any,
    owner: Any = UNCHANGED,
    owner_reason: str = "",
    custom: dict[str, Any] | None = None,
    custom_place: str = "in_form",
    **fields: Any,
) -> Company:
    """Change a company's fields (those of COMPANY_EDITABLE) and the custom values given (others stay). A new
    `owner` (None: nobody) is logged with `owner_reason`, required then (leads.owners); the same owner again is
    no change. Whether `by` may choose them is the caller's check."""
    for key, value in fields.items():
        if key in COMPANY_EDITABLE:
            setattr(company, key, value)
    if custom is not None:
        company.custom = custom_apply(
            object_type=CustomObject.COMPANY, current=company.custom, values=custom, place=custom_place
        )
    with transaction.atomic():
        _company_save(company)
        if owner is not UNCHANGED and getattr(owner, "pk", None) != company.owner_id:
            try:
                owner_change(record=company, owner=owner, by=by, reason=owner_reason)
            except ValidationError as exc:
                raise ValidationError({"owner_reason": exc.message_dict["reason"]}) from None
    return company


def company_match(*, name: str = "", domain: str = "") -> Company | None:
    """The existing company a hand-typed name or a domain means: the same domain, else the same name once
    normalised ('（株）監査テスト' is '株式会社監査テスト'). None when nothing matches."""
    domain = domain.strip().lower()
    if domain:
        found = Company.objects.filter(domain__iexact=domain).first()
        if found is not None:
            return found
    key = company_name_key(name)
    if not key:
        return None
    return Company.objects.filter(name_key=key).order_by("pk").first()  # company_name_key_idx


def _lead_check(lead: Lead) -> None:
    errors: dict[str, str] = {}
    lead.email = normalize_email(lead.email)
    others = Lead.all_objects.exclude(pk=lead.pk) if lead.pk else Lead.all_objects.all()
    if others.filter(email__iexact=lead.email).exists():
        errors["email"] = _("A lead with this email already exists.")
    if lead.consent_email and not lead.consent_method:
        errors["consent_method"] = _("Say how the consent was obtained.")
    if lead.consent_email and lead.consent_method != ConsentMethod.BUSINESS_CARD and not lead.consent_wording:
        errors["consent_wording"] = _("Keep the wording the person agreed to.")
    if errors:
        raise ValidationError(errors)
    if lead.consent_email and lead.consent_at is None:
        lead.consent_at = timezone.now()


def _lead_save(lead: Lead) -> Lead:
    _lead_check(lead)
    try:
        with transaction.atomic():
            lead.save()
    except IntegrityError as exc:
        raise ValidationError({"email": _("A lead with this email already exists.")}) from exc
    leads_touched([lead.pk])  # the fit score depends on title and company
    return lead


def lead_create(
    *,
    by: Any,
    email: str,
    source: str = LeadSource.MANUAL,
    custom: dict[str, Any] | None = None,
    custom_place: str = "in_form",
    **fields: Any,
) -> Lead:
    """A lead entered by hand; scored after commit like any other. `custom`: custom field values by key, checked
    against the fields shown in `custom_place`."""
    lead = Lead(email=email, source=source, **{k: v for k, v in fields.items() if k in LEAD_EDITABLE})
    if custom is not None:
        lead.custom = custom_apply(
            object_type=CustomObject.LEAD, current={}, values=custom, place=custom_place
        )
    with transaction.atomic():
        _lead_save(lead)
        event_emit(
            kind=events.LEAD_CREATED, subject=("lead", lead.pk), payload=lead_created_payload(lead.pk, source)
        )
    return lead


def lead_edit(
    *,
    lead: Lead,
    by: Any,
    custom: dict[str, Any] | None = None,
    custom_place: str = "in_form",
    **fields: Any,
) -> Lead:
    """Change a lead's fields (those of LEAD_EDITABLE) and the custom values given (others stay). Consent
    withdrawn by an unsubscribe is not given back here: an unsubscribe is undone only by the person. A new address
    is tried again: its predecessor's bounces no longer count."""
    old_email = lead.email
    for key, value in fields.items():
        if key in LEAD_EDITABLE:
            setattr(lead, key, value)
    if custom is not None:
        lead.custom = custom_apply(
            object_type=CustomObject.LEAD, current=lead.custom, values=custom, place=custom_place
        )
    if normalize_email(lead.email) != old_email:
        lead.email_undeliverable_at = None
    if lead.unsubscribed_at is not None and lead.consent_email:
        raise ValidationError({"consent_email": _("This person unsubscribed; only they can opt in again.")})
    return _lead_save(lead)


def business_card_enter(
    *,
    by: Any,
    name: str,
    email: str,
    company_name: str,
    name_kana: str = "",
    department: str = "",
    title: str = "",
    phone: str = "",
    met_on: dt.date | None = None,
    consent_email: bool = False,
) -> Lead:
    """A rep types in a business card (名刺) after a meeting: the company is the existing one of this name or
    work-email domain, or a new one; the lead is new and the rep's. Exchanging cards is an exemption the email
    law allows, recorded as the consent's proof when the rep ticks it. A company made here is the rep's too: they
    met it, and an owned company is their team's (leads.records.selectors.companies_visible_to)."""
    with transaction.atomic():
        domain = work_domain(email)
        company = company_match(name=company_name, domain=domain)
        if company is None:
            company = company_create(by=by, owner=by, name=company_name.strip(), domain=domain)
        met_at = (
            timezone.make_aware(dt.datetime.combine(met_on, dt.time(12)))
            if met_on is not None
            else timezone.now()
        )
        return lead_create(
            by=by,
            email=email,
            source=LeadSource.BUSINESS_CARD,
            name=name.strip(),
            name_kana=name_kana.strip(),
            company=company,
            department=department.strip(),
            title=title.strip(),
            phone=phone.strip(),
            owner=by,
            consent_email=consent_email,
            consent_method=ConsentMethod.BUSINESS_CARD if consent_email else "",
            consent_at=met_at if consent_email else None,
        )
