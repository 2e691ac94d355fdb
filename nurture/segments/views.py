"""Segment pages: the list, the rule builder (with a live count), a segment's members, a static list's CSV import
and "add the selected leads" from the lead list. Thin: parse, one selector or service, render.

Everyone logged in may look; marketing, managers and admins build and change segments (others get 403 there).
Members are always only the leads the viewer may see."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from leads.importing.files import ImportFileError
from nurture.models import Segment, SegmentKind
from nurture.segments import selectors, services
from nurture.segments.forms import RuleBuilder, SegmentForm, builder_options
from nurture.segments.rules import empty_rules, segment_fields, validate
from salesmarketing.forms import add_service_errors
from salesmarketing.htmx import HtmxHttpRequest, partial_or_page

FORM_TEMPLATE = "nurture/segments/segment_form.html"
DETAIL_TEMPLATE = "nurture/segments/segment_detail.html"
MAX_UPLOAD = 20 * 1024 * 1024


def _require_editor(request: HtmxHttpRequest) -> None:
    if not selectors.can_edit(request.user):
        raise PermissionDenied


def _segment(pk: int) -> Segment:
    return get_object_or_404(Segment, pk=pk)


@require_GET
def segment_list(request: HtmxHttpRequest) -> HttpResponse:
    context = {"segments": selectors.segment_list(), "can_edit": selectors.can_edit(request.user)}
    return render(request, "nurture/segments/segment_list.html", context)


@require_GET
def segment_count(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """A segment's member count (the list loads each row's lazily, so the page itself never counts)."""
    count = selectors.segment_count(segment=_segment(pk), viewer=request.user)
    return render(request, "nurture/segments/segment_list.html#count", {"count": count})


@require_GET
def segment_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    segment = _segment(pk)
    after = request.GET.get("after", "")
    page = selectors.segment_member_page(
        segment=segment, viewer=request.user, after=int(after) if after.isdigit() else None
    )
    context = {
        "segment": segment,
        "page": page,
        "count": selectors.segment_count(segment=segment, viewer=request.user),
        "can_edit": selectors.can_edit(request.user),
    }
    return render(request, DETAIL_TEMPLATE, context)


# --- The rule builder ---------------------------------------------------------------------------------


def _form_context(request: HtmxHttpRequest, *, form: SegmentForm, builder: RuleBuilder, segment=None) -> dict:
    return {
        "form": form,
        "builder": builder,
        "segment": segment,
        "options": builder_options(segment_fields()),  # the custom fields flagged "segment rule" too
        "is_static": (segment.is_static if segment else form["kind"].value() == SegmentKind.STATIC),
        "form_url": reverse("nurture:segment_edit", args=[segment.pk])
        if segment
        else reverse("nurture:segment_create"),
    }


def _render_form(
    request: HtmxHttpRequest, context: dict, *, template: str = FORM_TEMPLATE, status: int = 200
):
    """The form (or its builder): rows are laid out last, after any button changed them."""
    context["groups"] = context["builder"].views(context["options"])
    return render(request, template, context, status=status)


def _rerender_builder(request: HtmxHttpRequest, context: dict, action: str) -> HttpResponse:
    """An add/remove/refresh button: the builder again (an HTMX request gets only the builder), with each row's
    error from the check so far; the live count is asked to refresh."""
    builder: RuleBuilder = context["builder"]
    builder.apply(action)
    if action.startswith("refresh"):
        builder.place_errors(validate(builder.tree(), fields=builder.fields))
    response = _render_form(request, context, template=partial_or_page(request, FORM_TEMPLATE, "builder"))
    response["HX-Trigger-After-Settle"] = "rules-changed"
    return response


@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")
def segment_create(request: HtmxHttpRequest) -> HttpResponse:
    _require_editor(request)
    if request.method == "GET":
        form = SegmentForm(initial={"kind": request.GET.get("kind", SegmentKind.DYNAMIC)})
        builder = RuleBuilder.from_tree(empty_rules())
        builder.apply("add_group")
        return _render_form(request, _form_context(request, form=form, builder=builder))
    form, builder = SegmentForm(request.POST), RuleBuilder.from_post(request.POST)
    context = _form_context(request, form=form, builder=builder)
    action = request.POST.get("action", "save")
    if action != "save":
        return _rerender_builder(request, context, action)
    if form.is_valid():
        kind = form.cleaned_data["kind"]
        try:
            segment = services.segment_create(
                name=form.cleaned_data["name"],
                kind=kind,
                rules=builder.tree() if kind == SegmentKind.DYNAMIC else None,
                by=request.user,
            )
        except services.RulesInvalid as exc:
            builder.place_errors(exc.rule_errors)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("The segment was saved."))
            return redirect(segment)
    return _render_form(request, context, status=422)


@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")
def segment_edit(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    _require_editor(request)
    segment = _segment(pk)
    if request.method == "GET":
        form = SegmentForm(initial={"name": segment.name, "kind": segment.kind})
        builder = RuleBuilder.from_tree(segment.rules or empty_rules())
        context = _form_context(request, form=form, builder=builder, segment=segment)
        return _render_form(request, context)
    data = request.POST.copy()
    data["kind"] = segment.kind  # the kind stays: a static list keeps its members
    form, builder = SegmentForm(data), RuleBuilder.from_post(request.POST)
    context = _form_context(request, form=form, builder=builder, segment=segment)
    action = request.POST.get("action", "save")
    if action != "save":
        return _rerender_builder(request, context, action)
    if form.is_valid():
        try:
            services.segment_update(
                segment=segment,
                name=form.cleaned_data["name"],
                rules=None if segment.is_static else builder.tree(),
            )
        except services.RulesInvalid as exc:
            builder.place_errors(exc.rule_errors)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("The segment was saved."))
            return redirect(segment)
    return _render_form(request, context, status=422)


@require_POST
def segment_live_count(request: HtmxHttpRequest) -> HttpResponse:
    """The builder's live count: the rules as typed so far, checked, then counted in one query; each row's error
    (or none) goes back next to it by out-of-band swap."""
    _require_editor(request)
    builder = RuleBuilder.from_post(request.POST)
    if request.POST.get("kind") == SegmentKind.STATIC:  # a list has no rules to count
        return render(request, f"{FORM_TEMPLATE}#live-count", {"builder": builder, "count": None})
    tree = builder.tree()
    errors = validate(tree, fields=builder.fields)
    builder.place_errors(errors)
    count = None if errors else selectors.leads_count(selectors.rules_leads(tree), request.user)
    return render(request, f"{FORM_TEMPLATE}#live-count", {"builder": builder, "count": count, "oob": True})


@require_POST
def segment_delete(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    _require_editor(request)
    services.segment_delete(segment=_segment(pk))
    messages.success(request, _("The segment was deleted."))
    return redirect("nurture:segment_list")


# --- Static lists -------------------------------------------------------------------------------------


def _static_segment(request: HtmxHttpRequest, pk: int) -> Segment:
    _require_editor(request)
    segment = _segment(pk)
    if not segment.is_static:
        raise PermissionDenied
    return segment


def _lead_ids(request: HtmxHttpRequest) -> list[int]:
    return [int(value) for value in request.POST.getlist("lead") if value.isdigit()][:10_000]


@require_POST
def segment_import(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """A CSV of email addresses onto a static list; the page shows what became of every row."""
    segment = _static_segment(request, pk)
    upload = request.FILES.get("file")
    context: dict = {"segment": segment}
    if upload is None or upload.size > MAX_UPLOAD:
        context["import_error"] = _("Choose a CSV file of at most 20 MB.")
    else:
        try:
            context["report"] = services.segment_import_csv(
                segment=segment, content=upload.read(), viewer=request.user
            )
        except ImportFileError as exc:
            context["import_error"] = str(exc)
    status = 422 if "import_error" in context else 200
    return render(request, "nurture/segments/segment_import.html", context, status=status)


@require_POST
def segment_members_remove(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    segment = _static_segment(request, pk)
    removed = services.segment_members_remove(segment=segment, lead_ids=_lead_ids(request))
    messages.success(request, _("%(n)d leads were removed from the list.") % {"n": removed})
    return redirect(segment)


@require_POST
def segment_add_leads(request: HtmxHttpRequest) -> HttpResponse:
    """From the lead list's bulk bar: the selected leads (`lead`, repeated) onto a static segment. Without a
    segment chosen yet it asks which one (or a new list's name), carrying the selection along."""
    _require_editor(request)
    lead_ids = _lead_ids(request)
    segment_id, new_name = request.POST.get("segment", ""), request.POST.get("new_name", "").strip()
    if not lead_ids or not (segment_id.isdigit() or new_name):
        context = {"lead_ids": lead_ids, "segments": selectors.static_segments()}
        return render(request, "nurture/segments/segment_add_leads.html", context)
    if new_name:
        segment = services.segment_create(name=new_name, kind=SegmentKind.STATIC, by=request.user)
    else:
        segment = get_object_or_404(Segment, pk=int(segment_id), kind=SegmentKind.STATIC)
    added = services.segment_members_add(segment=segment, lead_ids=lead_ids, viewer=request.user)
    messages.success(request, _("%(n)d leads were added to the list.") % {"n": added})
    return redirect(segment)
