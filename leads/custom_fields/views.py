"""The custom-fields settings page (/settings/custom-fields/): admins list, add, edit, archive and restore the
fields of leads, companies and deals. Everyone else gets 403; everyone sees the values on the record pages."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from leads.custom_fields import selectors, services
from leads.custom_fields.forms import FieldDefinitionForm
from leads.models import CustomObject, FieldDefinition
from leads.models.custom_fields import PLACES
from salesmarketing.forms import add_service_errors
from salesmarketing.htmx import HtmxHttpRequest
from salesmarketing.models import User


def can_define_fields(user) -> bool:
    return bool(user.is_superuser or getattr(user, "role", "") == User.Role.ADMIN)


def _require_admin(request: HtmxHttpRequest) -> None:
    if not can_define_fields(request.user):
        raise PermissionDenied


def _definition(pk: int) -> FieldDefinition:
    definition = FieldDefinition.objects.filter(pk=pk).first()
    if definition is None:
        raise Http404
    return definition


@require_GET
def definition_list(request: HtmxHttpRequest) -> HttpResponse:
    _require_admin(request)
    definitions = selectors.definitions_all()
    groups = [
        (label, [d for d in definitions if d.object_type == value]) for value, label in CustomObject.choices
    ]
    return render(request, "leads/custom_fields/list.html", {"groups": groups, "places": PLACES})


@require_http_methods(["GET", "POST"])
def definition_new(request: HtmxHttpRequest) -> HttpResponse:
    _require_admin(request)
    initial = {"object_type": request.GET.get("object_type") or CustomObject.LEAD}
    form = FieldDefinitionForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.definition_data()
        try:
            services.field_definition_create(by=request.user, **data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("Custom field added."))
            return redirect("custom_fields:list")
    return render(request, "leads/custom_fields/form.html", {"form": form, "definition": None})


@require_http_methods(["GET", "POST"])
def definition_edit(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    _require_admin(request)
    definition = _definition(pk)
    in_use = services.custom_field_in_use(definition)
    form = FieldDefinitionForm(request.POST or None, instance=definition, key_fixed=in_use)
    if request.method == "POST" and form.is_valid():
        data = form.definition_data()
        data.pop("object_type", None)
        try:
            services.field_definition_edit(definition=definition, by=request.user, **data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("Custom field saved."))
            return redirect("custom_fields:list")
    return render(
        request, "leads/custom_fields/form.html", {"form": form, "definition": definition, "in_use": in_use}
    )


@require_POST
def definition_archive(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    _require_admin(request)
    definition = _definition(pk)
    archived = request.POST.get("restore") != "1"
    services.field_definition_archive(definition=definition, by=request.user, archived=archived)
    messages.success(request, _("Custom field archived.") if archived else _("Custom field restored."))
    return redirect("custom_fields:list")
