"""The capture endpoints are the only leads URLs a visitor reaches without logging in."""

from __future__ import annotations

import pytest
from django.urls import get_resolver

PUBLIC_CAPTURE = {"form_submit", "collect", "email_open", "email_click", "unsubscribe"}


def test_exactly_the_capture_endpoints_skip_the_login():
    resolver = get_resolver()
    capture = resolver.namespace_dict["capture"][1]
    names = {pattern.name for pattern in capture.url_patterns}
    assert names == PUBLIC_CAPTURE
    for pattern in capture.url_patterns:
        assert getattr(pattern.callback, "login_required", True) is False, pattern.name
        assert getattr(pattern.callback, "csrf_exempt", False) or pattern.name in (
            "email_open",
            "email_click",
            "unsubscribe",  # a page of our own with a form: it keeps its CSRF token
        )


@pytest.mark.django_db
def test_the_import_and_api_key_pages_need_a_login(client):
    for path in ("/leads/import/", "/leads/import/1/", "/settings/api-keys/"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), path
