"""Settings → API keys: admins list, create (the key is shown once) and revoke keys for integrations."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from salesmarketing.htmx import HtmxHttpRequest
from salesmarketing.models import ApiKey, User
from salesmarketing.services import api_key_create, api_key_revoke


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label=_("Name"), max_length=100, help_text=_("What the key is for, e.g. “Website events”.")
    )
    source = forms.SlugField(
        label=_("Source"),
        max_length=50,
        help_text=_(
            "The integration's slug. Event ids are unique per source: keep it when you replace a key."
        ),
    )
    scopes = forms.MultipleChoiceField(
        label=_("Allowed to"),
        choices=ApiKey.Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=[ApiKey.Scope.EVENTS_WRITE],
    )
    user = forms.ModelChoiceField(
        label=_("Acts as"),
        queryset=User.objects.filter(is_active=True).order_by("username"),
        required=False,
        empty_label=_("No user"),
        help_text=_("Records created through the key are attributed to this user."),
    )


def _require_admin(request: HtmxHttpRequest) -> None:
    user = request.user
    if not (user.is_staff or getattr(user, "role", "") == User.Role.ADMIN):
        raise PermissionDenied


@never_cache
@require_http_methods(["GET", "POST"])
def api_key_list(request: HtmxHttpRequest) -> HttpResponse:
    _require_admin(request)
    created_plain = ""
    form = ApiKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        key, created_plain = api_key_create(
            name=data["name"], source=data["source"], scopes=list(data["scopes"]), user=data["user"]
        )
        form = ApiKeyForm()
    keys = ApiKey.objects.select_related("user").order_by("revoked_at", "-created_at")
    context = {"form": form, "keys": keys, "created_plain": created_plain}
    # The new key appears in this response only: it is not stored and must not be cached anywhere.
    return render(request, "settings/api_keys.html", context, status=201 if created_plain else 200)


@require_POST
def api_key_revoke_view(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    _require_admin(request)
    key = get_object_or_404(ApiKey, pk=pk)
    api_key_revoke(key=key)
    messages.success(
        request, gettext("The key %(name)s is revoked; requests with it now get 401.") % {"name": key}
    )
    return redirect("api_keys:list")


app_name = "api_keys"
urlpatterns = [
    path("", api_key_list, name="list"),
    path("<int:pk>/revoke", api_key_revoke_view, name="revoke"),
]
