"""Sequence pages: the list, create/edit with steps (add, remove, reorder by HTMX), a sequence's page (steps with
their counts, enrolments paginated), pause/resume, enrol by hand (the sequence page, the lead page, the lead
list's selection), remove an enrolment.

Marketing, managers and admins use them (as the other email pages); sales reps get 403. Leads are only ever the
viewer's visible ones (404 otherwise). Thin: parse, one selector or service, render.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from leads.models import Lead
from nurture.models import Enrolment, Sequence, SequenceStatus, SequenceStep
from nurture.sequences import selectors, services
from nurture.sequences.forms import EnrolLeadForm, SequenceForm, StepForm
from salesmarketing.forms import add_service_errors
from salesmarketing.htmx import HtmxHttpRequest, partial_or_page


def _require_manager(request: HtmxHttpRequest) -> None:
    if not selectors.can_manage_sequences(request.user):
        raise PermissionDenied


def _visible_lead(request: HtmxHttpRequest, pk: int) -> Lead:
    lead = Lead.objects.visible_to(request.user).filter(pk=pk).first()
    if lead is None:
        raise Http404
    return lead


@require_GET
def sequence_list(request: HtmxHttpRequest) -> HttpResponse:
    _require_manager(request)
    return render(request, "nurture/sequences/sequence_list.html", {"sequences": selectors.sequence_list()})


@require_http_methods(["GET", "POST"])
def sequence_edit(request: HtmxHttpRequest, pk: int | None = None) -> HttpResponse:
    _require_manager(request)
    sequence = get_object_or_404(Sequence, pk=pk) if pk else None
    form = SequenceForm(request.POST or None, instance=sequence)
    if request.method == "POST" and form.is_valid():
        values = {name: form.cleaned_data[name] for name in services.SEQUENCE_FIELDS}
        try:
            saved = services.sequence_save(sequence=sequence, by=request.user, **values)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("The sequence was saved."))
            return redirect("nurture:sequence_edit", pk=saved.pk)
    context = {"form": form, "sequence": sequence}
    if sequence is not None:
        context.update(_steps_context(sequence))
    return render(request, "nurture/sequences/sequence_form.html", context)


def _steps_context(sequence: Sequence, step_form: StepForm | None = None, error: str = "") -> dict:
    steps = list(
        SequenceStep.objects.filter(sequence=sequence).select_related("template").order_by("position", "id")
    )
    return {"sequence": sequence, "steps": steps, "step_form": step_form or StepForm(), "step_error": error}


def _steps_response(request: HtmxHttpRequest, sequence: Sequence, **kwargs) -> HttpResponse:
    if request.htmx:
        return render(
            request, "nurture/sequences/sequence_form.html#steps", _steps_context(sequence, **kwargs)
        )
    if kwargs.get("error"):
        messages.error(request, kwargs["error"])
    return redirect("nurture:sequence_edit", pk=sequence.pk)


@require_POST
def step_add(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    _require_manager(request)
    sequence = get_object_or_404(Sequence, pk=pk)
    form = StepForm(request.POST)
    if not form.is_valid():
        return _steps_response(request, sequence, step_form=form, error=_("Check the step's fields."))
    services.step_add(sequence=sequence, **form.cleaned_data)
    return _steps_response(request, sequence)


STEP_ACTIONS = ("remove", "up", "down")


@require_POST
def step_action(request: HtmxHttpRequest, pk: int, step_pk: int, action: str) -> HttpResponse:
    _require_manager(request)
    step = get_object_or_404(SequenceStep.objects.select_related("sequence"), pk=step_pk, sequence_id=pk)
    if action not in STEP_ACTIONS:
        raise Http404
    error = ""
    try:
        if action == "remove":
            services.step_remove(step=step)
        else:
            services.step_move(step=step, direction=action)
    except ValidationError as exc:
        error = " ".join(exc.messages)
    return _steps_response(request, step.sequence, error=error)


@require_GET
@vary_on_headers("HX-Request")
def sequence_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    _require_manager(request)
    sequence = get_object_or_404(Sequence.objects.select_related("campaign", "trigger_segment"), pk=pk)
    page = selectors.enrolment_page(
        sequence=sequence, viewer=request.user, page_number=request.GET.get("page", 1)
    )
    if request.htmx:
        return render(
            request,
            "nurture/sequences/sequence_detail.html#enrolments",
            {"sequence": sequence, "page": page},
        )
    context = {
        "sequence": sequence,
        "stats": selectors.step_stats(sequence),
        "page": page,
        "enrol_form": EnrolLeadForm(),
    }
    return render(
        request, partial_or_page(request, "nurture/sequences/sequence_detail.html", "enrolments"), context
    )


@require_POST
def sequence_status(request: HtmxHttpRequest, pk: int, action: str) -> HttpResponse:
    _require_manager(request)
    sequence = get_object_or_404(Sequence, pk=pk)
    status = {"pause": SequenceStatus.PAUSED, "resume": SequenceStatus.ACTIVE}.get(action)
    if status is None:
        raise Http404
    services.sequence_set_status(sequence=sequence, status=status)
    return redirect(sequence)


@require_POST
def sequence_enrol(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Enrol one lead by its id from the sequence's page."""
    _require_manager(request)
    sequence = get_object_or_404(Sequence, pk=pk)
    form = EnrolLeadForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the id of a lead."))
        return redirect(sequence)
    _enrol_one(request, sequence, _visible_lead(request, form.cleaned_data["lead"]))
    return redirect(sequence)


def _enrol_one(request: HtmxHttpRequest, sequence: Sequence, lead: Lead) -> bool:
    try:
        services.enrol_lead(sequence=sequence, lead=lead, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return False
    messages.success(request, _("The lead was enrolled in %(sequence)s.") % {"sequence": sequence.name})
    return True


@require_POST
def enrolment_remove(request: HtmxHttpRequest, pk: int, enrolment_pk: int) -> HttpResponse:
    _require_manager(request)
    enrolment = get_object_or_404(
        Enrolment.objects.select_related("sequence"), pk=enrolment_pk, sequence_id=pk
    )
    _visible_lead(request, enrolment.lead_id)
    if services.enrolment_exit(enrolment=enrolment, by=request.user):
        messages.success(request, _("The lead was removed from the sequence."))
    return redirect(enrolment.sequence)


@require_http_methods(["GET", "POST"])
def sequence_enrol_lead(request: HtmxHttpRequest, lead_pk: int) -> HttpResponse:
    """From the lead's page: choose a sequence for this lead."""
    _require_manager(request)
    lead = _visible_lead(request, lead_pk)
    if request.method == "POST" and request.POST.get("sequence", "").isdigit():
        sequence = get_object_or_404(Sequence, pk=int(request.POST["sequence"]))
        if _enrol_one(request, sequence, lead):
            return redirect(lead)
    context = {
        "lead": lead,
        "sequences": selectors.active_sequences(),
        "enrolments": selectors.lead_enrolments(lead.pk),
    }
    return render(request, "nurture/sequences/sequence_enrol_lead.html", context)


@require_POST
def sequence_enrol_selection(request: HtmxHttpRequest) -> HttpResponse:
    """From the lead list's bulk bar: the selected leads (`lead`, repeated) into a sequence, asked for first."""
    _require_manager(request)
    lead_ids = [int(value) for value in request.POST.getlist("lead") if value.isdigit()][:10_000]
    sequence_id = request.POST.get("sequence", "")
    if not lead_ids or not sequence_id.isdigit():
        context = {"lead_ids": lead_ids, "sequences": selectors.active_sequences()}
        return render(request, "nurture/sequences/sequence_enrol_selection.html", context)
    sequence = get_object_or_404(Sequence, pk=int(sequence_id))
    try:
        enrolled = services.enrol_selection(sequence=sequence, lead_ids=lead_ids, viewer=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("leads:list")
    messages.success(request, _("%(n)d leads were enrolled.") % {"n": enrolled})
    return redirect(sequence)
