"""Campaign, persona and dashboard pages. Thin: parse, one selector or service, render.

Everyone logged in may look; marketing, managers and admins may change things (sales reps get 403 there)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from campaigns import selectors, services
from campaigns.costs_import import CostFileError, costs_import
from campaigns.forms import (
    SORTS,
    CampaignFilterForm,
    CampaignForm,
    CostForm,
    CostImportForm,
    DashboardForm,
    LeadPersonaForm,
    PeriodForm,
    PersonaForm,
    PersonaRuleForm,
)
from campaigns.models import AttributionModel, CampaignCost, Dimension, PersonaRule
from campaigns.personas import lead_persona_set
from leads.models import Campaign, Lead, Persona
from nurture.mail.selectors import campaign_email, can_manage_mail, email_totals
from salesmarketing.forms import add_service_errors
from salesmarketing.htmx import HtmxHttpRequest, partial_or_page


def _require_editor(request: HtmxHttpRequest) -> None:
    if not selectors.can_edit(request.user):
        raise PermissionDenied


def _query_without(request: HtmxHttpRequest, *keys: str) -> str:
    query = request.GET.copy()
    for key in keys:
        query.pop(key, None)
    return query.urlencode()


# --- Campaigns -----------------------------------------------------------------------------------------------


@require_GET
@vary_on_headers("HX-Request")
def campaign_list(request: HtmxHttpRequest) -> HttpResponse:
    form = CampaignFilterForm(request.GET or None)
    period, model, sort = form.get_period(), form.get_model(), form.get_sort()
    data = form.cleaned_data if form.is_bound else {}
    table = selectors.campaign_table(
        period=period,
        model=model,
        sort=sort,
        channel=data.get("channel", ""),
        status=data.get("status", ""),
        q=data.get("q", ""),
        page_number=request.GET.get("page", 1),
    )
    context = {
        "form": form,
        "table": table,
        "period": period,
        "model": model,
        "model_label": AttributionModel(model).label,
        "models": AttributionModel.choices,
        "sorts": SORTS,
        "query": _query_without(request, "page"),
        "sort_query": _query_without(request, "page", "sort"),
        "can_edit": selectors.can_edit(request.user),
        "state": selectors.attribution_state(),
    }
    return render(request, partial_or_page(request, "campaigns/campaign_list.html", "results"), context)


@require_http_methods(["GET", "POST"])
def campaign_create(request: HtmxHttpRequest) -> HttpResponse:
    _require_editor(request)
    form = CampaignForm(
        request.POST or None, initial={"owner": request.user, "status": Campaign.Status.PLANNED}
    )
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        personas = data.pop("personas")
        try:
            campaign = services.campaign_create(by=request.user, personas=personas, **data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Campaign “%(name)s” created.") % {"name": campaign.name})
            return redirect(campaign)
    return render(request, "campaigns/campaign_form.html", {"form": form, "campaign": None})


@require_http_methods(["GET", "POST"])
def campaign_edit(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    _require_editor(request)
    campaign = get_object_or_404(Campaign, pk=pk)
    form = CampaignForm(request.POST or None, instance=campaign)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        personas = data.pop("personas")
        try:
            services.campaign_update(campaign=campaign, by=request.user, personas=personas, **data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Campaign saved."))
            return redirect(campaign)
    return render(request, "campaigns/campaign_form.html", {"form": form, "campaign": campaign})


@require_GET
@vary_on_headers("HX-Request")
def campaign_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign.objects.select_related("owner").prefetch_related("personas"), pk=pk)
    tab = "touched" if request.GET.get("leads") == "touched" else "first"
    form = PeriodForm(request.GET or None)
    period, model = form.get_period(), form.get_model()
    leads = selectors.campaign_leads(
        campaign=campaign, viewer=request.user, tab=tab, period=period, page_number=request.GET.get("page", 1)
    )
    context = {
        "campaign": campaign,
        "tab": tab,
        "leads": leads,
        "period": period,
        "query": _query_without(request, "page", "leads", "part"),
    }
    if request.htmx and request.GET.get("part") == "leads":
        return render(request, "campaigns/campaign_detail.html#leads", context)
    context |= {
        "form": form,
        "model": model,
        "model_label": AttributionModel(model).label,
        "models": AttributionModel.choices,
        "d": selectors.campaign_detail(campaign=campaign, period=period, model=model),
        "cost_form": CostForm(),
        "can_edit": selectors.can_edit(request.user),
        "state": selectors.attribution_state(),
    }
    template = partial_or_page(request, "campaigns/campaign_detail.html", "report")
    if template == "campaigns/campaign_detail.html" and can_manage_mail(request.user):
        context["email"] = campaign_email(campaign.pk)  # the whole page only: outside the period's report
    return render(request, template, context)


@require_POST
def cost_add(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    _require_editor(request)
    campaign = get_object_or_404(Campaign, pk=pk)
    form = CostForm(request.POST)
    if form.is_valid():
        try:
            services.cost_add(campaign=campaign, **form.cleaned_data)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("Cost added."))
    else:
        messages.error(
            request,
            _("The cost was not added: %(errors)s")
            % {"errors": " ".join(str(e) for errors in form.errors.values() for e in errors)},
        )
    return redirect(f"{campaign.get_absolute_url()}#costs")


@require_POST
def cost_delete(request: HtmxHttpRequest, pk: int, cost_pk: int) -> HttpResponse:
    _require_editor(request)
    cost = get_object_or_404(CampaignCost, pk=cost_pk, campaign_id=pk)
    services.cost_delete(cost=cost)
    messages.success(request, _("Cost line deleted."))
    return redirect(f"{reverse('campaigns:detail', args=[pk])}#costs")


@require_http_methods(["GET", "POST"])
def cost_import(request: HtmxHttpRequest) -> HttpResponse:
    _require_editor(request)
    form = CostImportForm(request.POST or None, request.FILES or None)
    result = None
    if request.method == "POST" and form.is_valid():
        try:
            result = costs_import(content=form.cleaned_data["file"].read())
        except CostFileError as exc:
            form.add_error("file", str(exc))
    return render(request, "campaigns/cost_import.html", {"form": form, "result": result})


# --- Dashboard -----------------------------------------------------------------------------------------------


@require_GET
@vary_on_headers("HX-Request")
def dashboard(request: HtmxHttpRequest) -> HttpResponse:
    form = DashboardForm(request.GET or None)
    period = form.get_period()
    d = selectors.marketing_dashboard(
        viewer=request.user, period=period, model=form.get_model(), dimension=form.get_dimension()
    )
    context = {
        "form": form,
        "d": d,
        "model_label": AttributionModel(d.model).label,
        "models": AttributionModel.choices,
        "dimensions": Dimension.choices,
        "query": _query_without(request, "dimension", "part"),
    }
    partial = "who" if request.GET.get("part") == "who" else "body"
    if partial == "body" and can_manage_mail(request.user):  # what became of the period's marketing e-mail
        context["email"] = email_totals(start=period.start, end=period.end)
    return render(request, partial_or_page(request, "campaigns/dashboard.html", partial), context)


# --- Personas ------------------------------------------------------------------------------------------------


@require_GET
def persona_list(request: HtmxHttpRequest) -> HttpResponse:
    rows, unknown = selectors.persona_list()
    return render(
        request,
        "campaigns/persona_list.html",
        {"rows": rows, "unknown": unknown, "can_edit": selectors.can_edit(request.user)},
    )


@require_http_methods(["GET", "POST"])
def persona_edit(request: HtmxHttpRequest, pk: int | None = None) -> HttpResponse:
    _require_editor(request)
    persona = get_object_or_404(Persona, pk=pk) if pk else None
    form = PersonaForm(request.POST or None, instance=persona)
    if request.method == "POST" and form.is_valid():
        try:
            persona = services.persona_save(persona=form.save(commit=False))
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Persona saved."))
            return redirect(persona)
    return render(request, "campaigns/persona_form.html", {"form": form, "persona": persona})


def _rule_form(rule: PersonaRule | None = None, data=None) -> PersonaRuleForm:
    prefix = f"r{rule.pk}" if rule is not None and rule.pk else "new"
    return PersonaRuleForm(data, instance=rule, prefix=prefix)


def _persona_context(
    request: HtmxHttpRequest, persona: Persona, *, rule_form=None, failed: PersonaRuleForm | None = None
) -> dict:
    d = selectors.persona_detail(persona=persona, viewer=request.user, page_number=request.GET.get("page", 1))
    rule_rows = [
        (rule, failed if failed is not None and failed.instance.pk == rule.pk else _rule_form(rule))
        for rule in d.rules
    ]
    edit = request.GET.get("edit", "")
    return {
        "d": d,
        "rule_rows": rule_rows,
        "editing": failed.instance.pk if failed is not None else (int(edit) if edit.isdigit() else None),
        "can_edit": selectors.can_edit(request.user),
        "rule_form": rule_form or _rule_form(PersonaRule(persona=persona)),
        "lead_form": LeadPersonaForm(),
    }


@require_GET
@vary_on_headers("HX-Request")
def persona_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    persona = get_object_or_404(Persona, pk=pk)
    context = _persona_context(request, persona)
    partial = "rules" if request.GET.get("part") == "rules" else "leads"
    return render(request, partial_or_page(request, "campaigns/persona_detail.html", partial), context)


def _rules_response(request: HtmxHttpRequest, persona: Persona, **failed) -> HttpResponse:
    """HTMX: the rules partial (with the errors when a form failed); otherwise back to the persona page."""
    if request.htmx:
        return render(
            request, "campaigns/persona_detail.html#rules", _persona_context(request, persona, **failed)
        )
    if failed:
        return render(request, "campaigns/persona_detail.html", _persona_context(request, persona, **failed))
    return redirect(f"{persona.get_absolute_url()}#rules")


@require_POST
def rule_add(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    _require_editor(request)
    persona = get_object_or_404(Persona, pk=pk)
    form = _rule_form(PersonaRule(persona=persona), request.POST)
    if form.is_valid():
        try:
            services.rule_save(rule=form.save(commit=False))
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Rule added; leads are being matched again."))
            return _rules_response(request, persona)
    return _rules_response(request, persona, rule_form=form)


@require_POST
def rule_edit(request: HtmxHttpRequest, pk: int, rule_pk: int) -> HttpResponse:
    _require_editor(request)
    rule = get_object_or_404(PersonaRule.objects.select_related("persona"), pk=rule_pk, persona_id=pk)
    form = _rule_form(rule, request.POST)
    if form.is_valid():
        try:
            services.rule_save(rule=form.save(commit=False))
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Rule saved; leads are being matched again."))
            return _rules_response(request, rule.persona)
    return _rules_response(request, rule.persona, failed=form)


@require_POST
def rule_delete(request: HtmxHttpRequest, pk: int, rule_pk: int) -> HttpResponse:
    _require_editor(request)
    rule = get_object_or_404(PersonaRule.objects.select_related("persona"), pk=rule_pk, persona_id=pk)
    services.rule_delete(rule=rule)
    messages.success(request, _("Rule deleted; leads are being matched again."))
    return _rules_response(request, rule.persona)


@require_POST
def persona_lead_add(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Set a lead's persona by hand (by email) from the persona page."""
    _require_editor(request)
    persona = get_object_or_404(Persona, pk=pk)
    form = LeadPersonaForm(request.POST)
    if form.is_valid():
        lead = Lead.objects.filter(email__iexact=form.cleaned_data["email"].strip()).first()
        if lead is None:
            messages.error(request, _("No lead has this email address."))
        else:
            lead_persona_set(lead=lead, persona=persona)
            messages.success(
                request,
                _("%(lead)s is now “%(persona)s” (set by hand).") % {"lead": lead, "persona": persona},
            )
    else:
        messages.error(request, _("Enter a valid email address."))
    return redirect(f"{persona.get_absolute_url()}#leads")


@require_POST
def lead_persona(request: HtmxHttpRequest, lead_pk: int) -> HttpResponse:
    """Set (persona=<id>) or release (persona="") a lead's persona by hand; back to `next` or the lead."""
    _require_editor(request)
    lead = get_object_or_404(Lead, pk=lead_pk)
    raw = request.POST.get("persona", "")
    persona = get_object_or_404(Persona, pk=raw) if raw.isdigit() else None
    lead_persona_set(lead=lead, persona=persona)
    if persona is None:
        messages.success(request, _("%(lead)s follows the matching rules again.") % {"lead": lead})
    else:
        messages.success(
            request, _("%(lead)s is now “%(persona)s” (set by hand).") % {"lead": lead, "persona": persona}
        )
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = lead.get_absolute_url()
    return redirect(target)


@require_POST
def personas_rematch(request: HtmxHttpRequest) -> HttpResponse:
    _require_editor(request)
    services.personas_rematch_all()
    messages.success(request, _("Every lead is being matched to the personas again."))
    return redirect("campaigns:persona_list")
