"""Pages of records people keep: lead and company forms, the business-card entry, the company list and account
page, and the lifecycle stage set by hand. Login is required everywhere (the site's middleware); a record the
viewer may not see answers 404."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from leads import selectors as lead_selectors
from leads.custom_fields.forms import custom_cleaned_pop, custom_values_from
from leads.custom_fields.selectors import custom_fields
from leads.lifecycle import lead_lifecycle_set_by_hand
from leads.merge import selectors as merge_selectors
from leads.models import Company, CustomObject, Lead
from leads.owners.selectors import owner_choices
from leads.records import selectors, services
from leads.records.forms import BusinessCardForm, CompanyFilterForm, CompanyForm, LeadForm, LifecycleForm
from salesmarketing.forms import add_service_errors
from salesmarketing.htmx import HtmxHttpRequest, partial_or_page


def _get_lead_for_user(request: HtmxHttpRequest, pk: int) -> Lead:
    lead = lead_selectors.lead_get_for_viewer(viewer=request.user, pk=pk)
    if lead is None:
        raise Http404
    return lead


def _get_company_for_user(request: HtmxHttpRequest, pk: int) -> Company:
    company = selectors.company_get_for_viewer(viewer=request.user, pk=pk)
    if company is None:
        raise Http404
    return company


def _company_from_name(
    form: LeadForm | CompanyForm, field: str, *, by, owner: Any = None
) -> Company | None | bool:
    """The company a typed name means (matched, or for a lead's company created, owned by `owner`: the lead's);
    False when not found."""
    name = form.cleaned_data.get(field, "").strip()
    if not name:
        return None
    found = services.company_match(name=name)
    if found is not None:
        return found
    if field == "parent_name":
        form.add_error(field, _("No company of this name."))
        return False
    return services.company_create(by=by, owner=owner, name=name)


# --- Leads --------------------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def lead_new(request: HtmxHttpRequest) -> HttpResponse:
    return _lead_form(request, Lead(owner=request.user if request.user.role == "sales" else None))


@require_http_methods(["GET", "POST"])
def lead_edit(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _lead_form(request, _get_lead_for_user(request, pk))


def _lead_form(request: HtmxHttpRequest, lead: Lead) -> HttpResponse:
    form = LeadForm(request.POST or None, instance=lead, viewer=request.user)
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k != "company_name"}
        custom_cleaned_pop(data)
        data["custom"] = custom_values_from(form)
        try:
            saved = _lead_save(request, lead, form, data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("Lead saved."))
            return redirect(saved)
    return render(request, "leads/records/lead_form.html", {"form": form, "lead": lead})


def _lead_save(request: HtmxHttpRequest, lead: Lead, form: LeadForm, data: dict[str, Any]) -> Lead:
    with transaction.atomic():
        owner = data.get("owner", lead.owner)  # the lead's owner as saved: the form's choice (checked there)
        data["company"] = _company_from_name(form, "company_name", by=request.user, owner=owner)
        if lead.pk:
            return services.lead_edit(lead=lead, by=request.user, **data)
        return services.lead_create(by=request.user, **data)


@require_http_methods(["GET", "POST"])
def business_card(request: HtmxHttpRequest) -> HttpResponse:
    """The quick 名刺 entry from the lead list: the company found or made, the lead made, the rep its owner."""
    form = BusinessCardForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            lead = services.business_card_enter(by=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("Business card added: %(lead)s") % {"lead": lead})
            return redirect(lead)
    return render(request, "leads/records/business_card.html", {"form": form})


@require_POST
def lead_lifecycle(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Change the lead's lifecycle stage by hand, with a reason (the lead page's form)."""
    lead = _get_lead_for_user(request, pk)
    form = LifecycleForm(request.POST)
    if form.is_valid():
        try:
            lead_lifecycle_set_by_hand(
                lead=lead, to=form.cleaned_data["stage"], by=request.user, reason=form.cleaned_data["reason"]
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("Lifecycle stage changed."))
            return redirect(lead)
    history = selectors.lead_lifecycle_history(lead=lead)
    return render(request, "leads/records/lifecycle.html", {"lead": lead, "form": form, "history": history})


# --- Companies ----------------------------------------------------------------------------------------------


@require_GET
@vary_on_headers("HX-Request")
def company_list(request: HtmxHttpRequest) -> HttpResponse:
    custom = custom_fields(object_type=CustomObject.COMPANY)  # the filters' and the columns' (one query)
    form = CompanyFilterForm(request.GET or None, custom=custom)
    page = selectors.company_list(
        viewer=request.user, filters=form.filters(), page_number=request.GET.get("page", 1)
    )
    query = request.GET.copy()
    query.pop("page", None)
    # the columns' values come from the company's row: no query per row
    context = {"form": form, "page": page, "query": query.urlencode(), "custom_columns": custom.columns}
    return render(request, partial_or_page(request, "leads/records/company_list.html", "results"), context)


@require_GET
def company_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    company = selectors.company_get_for_viewer(viewer=request.user, pk=pk)
    if company is None:
        # A merged company's page leads to the one it was merged into (if the viewer sees that one).
        survivor = merge_selectors.company_survivor_of(viewer=request.user, pk=pk)
        if survivor is None:
            raise Http404
        return redirect(survivor)
    account = selectors.account_detail(viewer=request.user, company=company)
    context = {
        "d": account,
        "merges": account.merges,
        "may_change_owner": owner_choices(viewer=request.user, record=company) is not None,
    }
    return render(request, "leads/company_detail.html", context)


@require_http_methods(["GET", "POST"])
def company_new(request: HtmxHttpRequest) -> HttpResponse:
    return _company_form(request, Company(owner=request.user if request.user.role == "sales" else None))


@require_http_methods(["GET", "POST"])
def company_edit(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _company_form(request, _get_company_for_user(request, pk))


def _company_form(request: HtmxHttpRequest, company: Company) -> HttpResponse:
    form = CompanyForm(request.POST or None, instance=company, viewer=request.user)
    if request.method == "POST" and form.is_valid():
        parent = _company_from_name(form, "parent_name", by=request.user)
        if parent is not False:
            data = {k: v for k, v in form.cleaned_data.items() if k != "parent_name"}
            custom_cleaned_pop(data)
            data["custom"] = custom_values_from(form)
            data["parent"] = parent
            try:
                if company.pk:
                    saved = services.company_edit(company=company, by=request.user, **data)
                else:
                    saved = services.company_create(by=request.user, **data)
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                messages.success(request, _("Company saved."))
                return redirect(saved)
    return render(request, "leads/records/company_form.html", {"form": form, "company": company})
