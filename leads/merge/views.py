"""Pages of duplicates and merge: the queue (managers, marketing, admins), "not a duplicate", and the merge
screens of two leads or two companies (anyone who sees both records; 404 otherwise)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from leads.merge import selectors, services
from leads.models import Company, Lead, RecordKind
from salesmarketing.htmx import HtmxHttpRequest, partial_or_page


def _kind(value: str) -> str:
    return value if value in RecordKind.values else RecordKind.LEAD


@require_GET
@vary_on_headers("HX-Request")
def duplicates(request: HtmxHttpRequest) -> HttpResponse:
    if not selectors.can_use_queue(request.user):
        raise PermissionDenied
    kind = _kind(request.GET.get("kind", ""))
    page = selectors.duplicates_queue(kind=kind, page_number=request.GET.get("page", 1))
    context = {"page": page, "kind": kind, "kinds": RecordKind.choices}
    return render(request, partial_or_page(request, "leads/merge/duplicates.html", "results"), context)


@require_POST
def duplicate_dismiss(request: HtmxHttpRequest) -> HttpResponse:
    """'Not a duplicate': the pair leaves the queue; an HTMX request gets an empty row back (it swaps itself out)."""
    if not selectors.can_use_queue(request.user):
        raise PermissionDenied
    kind = _kind(request.POST.get("kind", ""))
    try:
        first, second = int(request.POST.get("low", "")), int(request.POST.get("high", ""))
        services.duplicate_dismiss(kind=kind, first_id=first, second_id=second, by=request.user)
    except (ValueError, ValidationError) as exc:
        raise Http404 from exc
    if request.htmx:
        return HttpResponse("")
    messages.success(request, _("Marked as not a duplicate."))
    return redirect(f"{request.path.rsplit('/dismiss', 1)[0]}/?kind={kind}")


def _display(record: Any, fields: tuple[str, ...]) -> str:
    """A field's value as the merge screen shows it."""
    first = fields[0]
    if first == "consent_email":
        if not record.consent_email:
            return _("No")
        parts = [str(_("Yes")), record.get_consent_method_display()]
        if record.consent_at:
            parts.append(f"{record.consent_at:%Y-%m-%d}")
        return " · ".join(p for p in parts if p)
    value = getattr(record, first)
    display = getattr(record, f"get_{first}_display", None)
    if callable(display) and value:
        return str(display())
    return "" if value in (None, "") else str(value)


def _rows(model, choices: dict[str, tuple[str, ...]], survivor, merged, taken: dict[str, str]) -> list[dict]:
    labels = {"consent": _("Consent to email")}
    rows = []
    for name, fields in choices.items():
        label = labels.get(name) or str(model._meta.get_field(fields[0]).verbose_name)
        rows.append(
            {
                "name": name,
                "label": label,
                "survivor": _display(survivor, fields),
                "merged": _display(merged, fields),
                "taken": taken[name],
            }
        )
    return rows


@require_http_methods(["GET", "POST"])
def lead_merge(request: HtmxHttpRequest, pk: int, other: int) -> HttpResponse:
    """Merge lead `other` into lead `pk` (the URL's order; the page links to the other way round)."""
    pair = selectors.leads_for_merge(viewer=request.user, first_id=pk, second_id=other)
    if pair is None:
        raise Http404
    survivor, merged = pair
    return _merge_page(request, Lead, services.LEAD_CHOICES, survivor, merged)


@require_http_methods(["GET", "POST"])
def company_merge(request: HtmxHttpRequest, pk: int, other: int) -> HttpResponse:
    pair = selectors.companies_for_merge(viewer=request.user, first_id=pk, second_id=other)
    if pair is None:
        raise Http404
    survivor, merged = pair
    return _merge_page(request, Company, services.COMPANY_CHOICES, survivor, merged)


def _merge_page(request: HtmxHttpRequest, model, choices, survivor, merged) -> HttpResponse:
    taken = services.default_choices(survivor, merged, choices)
    error, status = "", 200
    if request.method == "POST":
        taken = {name: request.POST.get(name, services.SURVIVOR) for name in choices}
        merge = services.lead_merge if model is Lead else services.company_merge
        try:
            kept = merge(survivor_id=survivor.pk, merged_id=merged.pk, taken=taken, by=request.user)
        except ValidationError as exc:
            error, status = " ".join(exc.messages), 409
        else:
            messages.success(request, _("Merged: %(record)s") % {"record": kept})
            return redirect(kept)
    context = {
        "kind": RecordKind.LEAD if model is Lead else RecordKind.COMPANY,
        "survivor": survivor,
        "merged": merged,
        "rows": _rows(model, choices, survivor, merged, taken),
        "error": error,
    }
    return render(request, "leads/merge/merge.html", context, status=status)
