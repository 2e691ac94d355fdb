"""Settings → Integrations: webhook subscriptions with their delivery logs and team chat channels (admins only),
and each user's own IMAP mailbox."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from integrations import imap, selectors
from integrations.forms import ChannelForm, MailboxForm, SubscriptionForm
from integrations.models import ImapMailbox, TeamChannel, WebhookDelivery, WebhookSubscription
from integrations.services import (
    channel_save,
    delivery_redeliver,
    subscription_create,
    subscription_set_active,
    webhook_send_test,
)
from salesmarketing.htmx import HtmxHttpRequest, partial_or_page
from salesmarketing.models import Team, User


def _require_admin(request: HtmxHttpRequest) -> None:
    user = request.user
    if not (user.is_superuser or getattr(user, "role", "") == User.Role.ADMIN):
        raise PermissionDenied


def _add_errors(form, error: ValidationError) -> None:
    for field, errors in error.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


@never_cache
@require_http_methods(["GET", "POST"])
def webhook_list(request: HtmxHttpRequest) -> HttpResponse:
    _require_admin(request)
    created_secret, created = "", None
    form = SubscriptionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            created, created_secret = subscription_create(
                name=data["name"], url=data["url"], kinds=data["events"], by=request.user
            )
            form = SubscriptionForm()
        except ValidationError as error:
            _add_errors(form, error)
    context = {
        "form": form,
        "subscriptions": selectors.webhook_list(),
        "created": created,
        "created_secret": created_secret,
    }
    # The secret appears in this response only: it must not be cached anywhere (never_cache).
    return render(request, "integrations/webhooks.html", context, status=201 if created_secret else 200)


def _subscription(request: HtmxHttpRequest, pk: int) -> WebhookSubscription:
    _require_admin(request)
    return get_object_or_404(WebhookSubscription, pk=pk)


@vary_on_headers("HX-Request")
def webhook_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    subscription = _subscription(request, pk)
    context = {"subscription": subscription, "deliveries": selectors.delivery_log(subscription=subscription)}
    return render(request, partial_or_page(request, "integrations/webhook_detail.html", "log"), context)


@require_POST
def webhook_toggle(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    subscription = _subscription(request, pk)
    subscription_set_active(subscription=subscription, active=not subscription.is_active)
    return redirect("integrations:webhook_detail", pk=pk)


@require_POST
def webhook_test(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    subscription = _subscription(request, pk)
    webhook_send_test(subscription=subscription)
    messages.success(request, gettext("A test event is on its way; its delivery shows below."))
    return redirect("integrations:webhook_detail", pk=pk)


@require_POST
@vary_on_headers("HX-Request")
def delivery_redeliver_view(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    _require_admin(request)
    delivery = get_object_or_404(WebhookDelivery.objects.select_related("event", "channel"), pk=pk)
    delivery = delivery_redeliver(delivery=delivery)
    if request.htmx:
        return render(request, "integrations/_delivery_row.html", {"delivery": delivery})
    if delivery.channel is not None:
        return redirect("integrations:chat_edit", team_pk=delivery.channel.team_id)
    return redirect("integrations:webhook_detail", pk=delivery.subscription_id)


def chat_list(request: HtmxHttpRequest) -> HttpResponse:
    _require_admin(request)
    return render(request, "integrations/chat.html", {"teams": selectors.teams_with_channels()})


@require_http_methods(["GET", "POST"])
def chat_edit(request: HtmxHttpRequest, team_pk: int) -> HttpResponse:
    _require_admin(request)
    team = get_object_or_404(Team, pk=team_pk)
    channel = TeamChannel.objects.filter(team=team).first()
    initial = (
        {
            "provider": channel.provider,
            "url": channel.url,
            "room_id": channel.room_id,
            "language": channel.language,
            "events": channel.events,
            "is_active": channel.is_active,
        }
        if channel
        else {"language": request.LANGUAGE_CODE, "events": list(TeamChannel.KINDS), "is_active": True}
    )
    form = ChannelForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            channel_save(
                team=team,
                provider=data["provider"],
                language=data["language"],
                kinds=data["events"],
                url=data["url"],
                room_id=data["room_id"],
                token=data["token"] or (channel.token if channel else ""),
                is_active=data["is_active"],
            )
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, gettext("The chat channel of %(team)s is saved.") % {"team": team})
            return redirect("integrations:chat")
    deliveries = selectors.delivery_log(channel=channel) if channel else []
    return render(
        request,
        "integrations/chat_edit.html",
        {"team": team, "channel": channel, "form": form, "deliveries": deliveries},
    )


@never_cache
@require_http_methods(["GET", "POST"])
def mailbox_settings(request: HtmxHttpRequest) -> HttpResponse:
    """The user's own IMAP mailbox (anyone may connect theirs): test the connection, connect, see how it reads."""
    mailbox = ImapMailbox.objects.filter(user=request.user).first()
    initial = (
        {
            "host": mailbox.host,
            "port": mailbox.port,
            "security": mailbox.security,
            "username": mailbox.username,
        }
        if mailbox
        else None
    )
    form = MailboxForm(request.POST or None, initial=initial, has_password=mailbox is not None)
    checked = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            password = data["password"]
            if not password and mailbox is not None:  # kept: the form allows an empty one only then
                password = imap.mailbox_account(mailbox).password
            account = imap.Account(data["host"], data["port"], data["security"], data["username"], password)
            if request.POST.get("action") == "test":
                checked = imap.imap_check(account)
            else:
                imap.mailbox_connect(user=request.user, account=account)
                messages.success(
                    request, gettext("Your mailbox is connected; new messages are read every few minutes.")
                )
                return redirect("integrations:mailbox")
        except imap.ImapError as error:
            form.add_error(None, str(error))
    return render(
        request, "integrations/mailbox.html", {"form": form, "mailbox": mailbox, "checked": checked}
    )


@require_POST
def mailbox_disconnect_view(request: HtmxHttpRequest) -> HttpResponse:
    if imap.mailbox_disconnect(user=request.user):
        messages.success(request, gettext("Your mailbox is disconnected and its password deleted."))
    return redirect("integrations:mailbox")
