"""Email pages: sender profile, templates (preview, test send), broadcasts (progress by HTMX polling).

Marketing, managers and admins use them (nurture.mail.selectors.can_manage_mail); sales reps get 403. The sender
profile is edited by admins and marketing managers. Thin: parse, one selector or service, render.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template import TemplateSyntaxError
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from nurture.mail import rendering, selectors, services
from nurture.mail.forms import BroadcastForm, EmailTemplateForm, PreviewForm, SenderProfileForm
from nurture.models import Broadcast, BroadcastStatus, EmailTemplate
from salesmarketing.forms import add_service_errors
from salesmarketing.htmx import HtmxHttpRequest, partial_or_page


def _require_mail_user(request: HtmxHttpRequest) -> None:
    if not selectors.can_manage_mail(request.user):
        raise PermissionDenied


# --- Sender profile --------------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def sender_profile(request: HtmxHttpRequest) -> HttpResponse:
    _require_mail_user(request)
    profile = selectors.sender_profile()
    can_edit = selectors.can_edit_sender_profile(request.user)
    form = SenderProfileForm(request.POST or None, instance=profile)
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied
        if form.is_valid():
            try:
                services.sender_profile_update(by=request.user, **form.cleaned_data)
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                messages.success(request, _("The sender profile was saved."))
                return redirect("nurture:mail_sender")
    context = {"form": form, "profile": profile, "can_edit": can_edit, "missing": profile.missing_fields()}
    return render(request, "nurture/mail/sender_profile.html", context)


# --- Templates -------------------------------------------------------------------------------------------------


@require_GET
def template_list(request: HtmxHttpRequest) -> HttpResponse:
    _require_mail_user(request)
    return render(request, "nurture/mail/template_list.html", {"templates": selectors.template_list()})


@require_http_methods(["GET", "POST"])
def template_edit(request: HtmxHttpRequest, pk: int | None = None) -> HttpResponse:
    _require_mail_user(request)
    template = get_object_or_404(EmailTemplate, pk=pk) if pk else None
    form = EmailTemplateForm(request.POST or None, instance=template)
    if request.method == "POST" and form.is_valid():
        values = {name: form.cleaned_data[name] for name in services.TEMPLATE_FIELDS}
        try:
            saved = services.email_template_save(template=template, by=request.user, **values)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("The template was saved."))
            return redirect("nurture:mail_template_edit", pk=saved.pk)
    context = {
        "form": form,
        "template_obj": template,
        "merge_fields": rendering.MERGE_FIELDS,
        "preview": _preview(request, template) if template else None,
    }
    return render(request, "nurture/mail/template_form.html", context)


def _preview(request: HtmxHttpRequest, template: EmailTemplate) -> dict:
    form = PreviewForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    language = data.get("language") or (template.languages() or ["ja"])[0]
    lead = selectors.preview_lead(viewer=request.user, lead_id=data.get("lead"))
    preview: dict = {"form": form, "language": language, "lead": lead}
    if lead is None:
        return preview
    profile = selectors.sender_profile()
    envelope = rendering.Envelope(lead=lead, message_id="<preview@localhost>", tracking=None)
    try:
        message = rendering.build_message(template, language=language, profile=profile, envelope=envelope)
    except TemplateSyntaxError as exc:
        preview["error"] = str(exc)
        return preview
    preview["subject"] = message.subject
    preview["text"] = message.body
    preview["html"] = message.alternatives[0][0] if message.alternatives else ""
    return preview


@require_GET
@vary_on_headers("HX-Request")
def template_preview(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    _require_mail_user(request)
    template = get_object_or_404(EmailTemplate, pk=pk)
    context = {"template_obj": template, "preview": _preview(request, template)}
    return render(request, "nurture/mail/template_form.html#preview", context)


@require_POST
def template_test_send(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    _require_mail_user(request)
    template = get_object_or_404(EmailTemplate, pk=pk)
    form = PreviewForm(request.POST)
    data = form.cleaned_data if form.is_valid() else {}
    lead = selectors.preview_lead(viewer=request.user, lead_id=data.get("lead"))
    language = data.get("language") or "ja"
    if lead is None:
        messages.error(request, _("Choose a lead you can see to fill in the merge fields."))
    else:
        try:
            services.email_test_send(template=template, language=language, lead=lead, to_user=request.user)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        except OSError:
            messages.error(request, _("The mail server could not be reached; the test was not sent."))
        else:
            messages.success(request, _("A test was sent to %(email)s.") % {"email": request.user.email})
    return redirect("nurture:mail_template_edit", pk=template.pk)


# --- Broadcasts ------------------------------------------------------------------------------------------------


@require_GET
def broadcast_list(request: HtmxHttpRequest) -> HttpResponse:
    _require_mail_user(request)
    return render(request, "nurture/mail/broadcast_list.html", {"broadcasts": selectors.broadcast_list()})


@require_http_methods(["GET", "POST"])
def broadcast_create(request: HtmxHttpRequest) -> HttpResponse:
    _require_mail_user(request)
    form = BroadcastForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            broadcast = services.broadcast_create(by=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            return redirect("nurture:mail_broadcast_detail", pk=broadcast.pk)
    return render(request, "nurture/mail/broadcast_form.html", {"form": form})


def _detail_context(broadcast: Broadcast) -> dict:
    progress = selectors.broadcast_progress(broadcast)
    polling = broadcast.status in (BroadcastStatus.SCHEDULED, BroadcastStatus.SENDING)
    outcomes = selectors.broadcast_outcomes(broadcast) if progress.sent else None
    return {"broadcast": broadcast, "progress": progress, "polling": polling, "outcomes": outcomes}


@require_GET
@vary_on_headers("HX-Request")
def broadcast_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    _require_mail_user(request)
    broadcast = get_object_or_404(selectors.broadcast_list(), pk=pk)
    template = partial_or_page(request, "nurture/mail/broadcast_detail.html", "progress")
    return render(request, template, _detail_context(broadcast))


BROADCAST_ACTIONS = {
    "schedule": services.broadcast_schedule,
    "pause": services.broadcast_pause,
    "resume": services.broadcast_resume,
    "cancel": services.broadcast_cancel,
}


@require_POST
def broadcast_action(request: HtmxHttpRequest, pk: int, action: str) -> HttpResponse:
    _require_mail_user(request)
    broadcast = get_object_or_404(selectors.broadcast_list(), pk=pk)
    service = BROADCAST_ACTIONS.get(action)
    if service is None:
        raise PermissionDenied
    error_text = ""
    try:
        service(broadcast=broadcast)
    except ValidationError as error:
        error_text = " ".join(error.messages)
    if request.htmx:
        broadcast.refresh_from_db()
        context = {**_detail_context(broadcast), "action_error": error_text}
        return render(request, "nurture/mail/broadcast_detail.html#progress", context)
    if error_text:
        messages.error(request, error_text)
    return redirect("nurture:mail_broadcast_detail", pk=broadcast.pk)
