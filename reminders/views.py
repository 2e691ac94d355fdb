"""The "my tasks" page, one item's reminder page (where a reminder links), snooze and done (HTMX posts), and the
user's notification settings. A user sees and acts on their own items only: anyone else's answers 404."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from reminders import selectors, services
from reminders.forms import NotificationSettingsForm
from reminders.models import DigestSetting
from reminders.schedule import SNOOZE_CHOICES
from reminders.selectors import Item
from salesmarketing.htmx import HtmxHttpRequest
from salesmarketing.services import notification_preferences, notification_preferences_set

PAGE = "reminders/my_tasks.html"


def _get_item_for_user(request: HtmxHttpRequest, kind: str, pk: int) -> Item:
    item = selectors.user_item(user=request.user, kind=kind, pk=pk)
    if item is None:
        raise Http404
    return item


@require_GET
def my_tasks(request: HtmxHttpRequest) -> HttpResponse:
    now = timezone.now()
    return render(request, PAGE, {"page": selectors.my_tasks(user=request.user, now=now), "now": now})


@require_GET
def item(request: HtmxHttpRequest, kind: str, pk: int) -> HttpResponse:
    """Where a reminder links: the item with its snooze and done buttons."""
    found = _get_item_for_user(request, kind, pk)
    selectors.set_state(found, now=timezone.now())
    return render(request, "reminders/item.html", {"item": found})


@require_POST
@vary_on_headers("HX-Request")
def item_snooze(request: HtmxHttpRequest, kind: str, pk: int) -> HttpResponse:
    found = _get_item_for_user(request, kind, pk)
    choice = request.POST.get("until", "")
    if choice not in SNOOZE_CHOICES:
        return HttpResponse(status=400)
    now = timezone.now()
    services.item_snooze(item=found, choice=choice, now=now)
    if not request.htmx:
        messages.success(request, _("Snoozed."))
        return redirect("reminders:my_tasks")
    return render(request, f"{PAGE}#item", {"item": selectors.set_state(found, now=now)})


@require_POST
@vary_on_headers("HX-Request")
def item_done(request: HtmxHttpRequest, kind: str, pk: int) -> HttpResponse:
    found = _get_item_for_user(request, kind, pk)
    services.item_done(item=found, by=request.user)
    if not request.htmx:
        messages.success(request, _("Marked as done."))
        return redirect("reminders:my_tasks")
    return render(request, f"{PAGE}#item_done", {"item": found})


@require_http_methods(["GET", "POST"])
def notification_settings(request: HtmxHttpRequest) -> HttpResponse:
    user = request.user
    digest = DigestSetting.objects.filter(user=user).first() or DigestSetting(user=user)
    initial = {"digest_enabled": digest.enabled, "digest_at": digest.send_at}
    preferences = notification_preferences(user=user)
    form = NotificationSettingsForm(
        request.POST if request.method == "POST" else None, initial=initial, preferences=preferences
    )
    if request.method == "POST" and form.is_valid():
        notification_preferences_set(user=user, choices=form.choices())
        services.digest_setting_set(
            user=user, enabled=form.cleaned_data["digest_enabled"], send_at=form.digest_time
        )
        messages.success(request, _("Notification settings saved."))
        return redirect("reminders:notification_settings")
    return render(
        request, "reminders/notification_settings.html", {"form": form, "has_email": bool(user.email)}
    )
