"""The scoring model page: rules (data, edited by marketers), thresholds, versions with rescore progress, and the
calibration table that tells sales whether the score deserves trust."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from leads.models import ScoringConfig, ScoringGroup, ScoringRule
from leads.scoring.forms import GroupCapForm, RuleForm, ThresholdForm
from leads.scoring.selectors import calibration, scoring_overview
from leads.scoring.services import (
    rescore_progress,
    scoring_group_save,
    scoring_rule_save,
    scoring_thresholds_save,
)
from salesmarketing.htmx import HtmxHttpRequest
from salesmarketing.models import User

TEMPLATE = "leads/scoring.html"


def _require_editor(user: User) -> None:
    if user.role == User.Role.SALES:
        raise PermissionDenied


@require_GET
def scoring_page(request: HtmxHttpRequest) -> HttpResponse:
    context = {
        **scoring_overview(),
        "threshold_form": ThresholdForm(instance=ScoringConfig.get()),
        "progress": rescore_progress(),
        "calibration": calibration(),
        "can_edit": request.user.role != User.Role.SALES,
    }
    return render(request, TEMPLATE, context)


@require_GET
def rescore_progress_view(request: HtmxHttpRequest) -> HttpResponse:
    return render(request, f"{TEMPLATE}#progress", {"progress": rescore_progress()})


@require_POST
def thresholds_update(request: HtmxHttpRequest) -> HttpResponse:
    _require_editor(request.user)
    form = ThresholdForm(request.POST, instance=ScoringConfig.get())
    if form.is_valid():
        scoring_thresholds_save(config=form.save(commit=False), by=request.user)
        messages.success(request, _("Thresholds saved; leads are being rescored."))
        return redirect("leads:scoring")
    context = {
        **scoring_overview(),
        "threshold_form": form,
        "progress": rescore_progress(),
        "calibration": calibration(),
        "can_edit": True,
    }
    return render(request, TEMPLATE, context, status=422)


@require_http_methods(["GET", "POST"])
def rule_edit(request: HtmxHttpRequest, pk: int | None = None) -> HttpResponse:
    _require_editor(request.user)
    rule = get_object_or_404(ScoringRule, pk=pk) if pk else None
    initial = {"kind": request.GET.get("kind", "engagement")} if rule is None else {}
    form = RuleForm(request.POST or None, instance=rule, initial=initial)
    if request.method == "POST" and form.is_valid():
        scoring_rule_save(rule=form.save(commit=False), by=request.user)
        messages.success(request, _("Rule saved; leads are being rescored."))
        return redirect("leads:scoring")
    return render(
        request, "leads/scoring_rule.html", {"form": form, "rule": rule}, status=422 if form.errors else 200
    )


@require_POST
def group_update(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    _require_editor(request.user)
    group = get_object_or_404(ScoringGroup, pk=pk)
    form = GroupCapForm(request.POST, instance=group)
    if form.is_valid():
        scoring_group_save(group=form.save(commit=False), by=request.user)
        messages.success(request, _("Group saved; leads are being rescored."))
    else:
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
    return redirect("leads:scoring")
