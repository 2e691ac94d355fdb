"""Every page needs login: walk every URL pattern as an anonymous visitor."""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

# Pages that must answer without a session, and why.
PUBLIC = {
    "login",  # the way in
    "set_language",  # the login page has a language switch
    "healthz",  # load balancers and monitors
    "api-root",  # the bare /api/v1/ prefix serves nothing (404); endpoints under it are checked
    "api-not-found",  # any other path under /api/v1/: a JSON 404, with or without a key
    # What a customer's website calls: the public form endpoint and the tracking snippet's collector, email
    # open pixel and click redirect (signed tokens, rate limited; tests/leads/test_public_urls.py pins them).
    "form_submit",
    "collect",
    "email_open",
    "email_click",
    "unsubscribe",  # the signed link in marketing email: a lead has no login (a bad token answers 400)
}


def _walk(patterns, prefix=""):
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            yield route, entry


def _concrete(route: str) -> str:
    """Turn a route or regex into a path a client can request, with 1 for every parameter."""
    path = re.sub(r"<(?:int:|str:|slug:|uuid:|path:)?\w+>", "1", route)
    path = re.sub(r"\(\?P<\w+>[^)]*\)", "1", path)
    path = path.replace("^", "").replace("$", "").replace("\\Z", "").replace("\\", "")
    return "/" + path


@pytest.mark.django_db
def test_every_page_redirects_anonymous_visitors_to_login(client):
    checked = 0
    for route, pattern in _walk(get_resolver().url_patterns):
        if pattern.name in PUBLIC or route.startswith("admin/") or route.startswith("static/"):
            continue
        path = _concrete(route)
        response = client.get(path)
        if route.startswith("email/esp/"):
            # Email providers' webhooks (salesmarketing.esp) carry their own auth, and are not there at all until
            # ANYMAIL_WEBHOOK_SECRET is set (tests/nurture/test_mail_bounces.py checks them configured).
            assert response.status_code == 404, f"{path} answered {response.status_code}"
            checked += 1
            continue
        if route.startswith("book/"):
            # A rep's or a team's public booking page (pipeline.booking): no login, like the capture form; an
            # address no page has answers 404 (tests/pipeline/test_booking.py covers the pages themselves).
            assert response.status_code == 404, f"{path} answered {response.status_code}"
            checked += 1
            continue
        if route.startswith("api/"):
            # Endpoints answer 401 without a key (405 for a GET on a POST-only one); the docs need a login.
            if pattern.name in ("openapi-json", "openapi-view"):
                assert response.status_code == 302, f"{path} answered {response.status_code}"
            else:
                assert response.status_code in (401, 405), f"{path} answered {response.status_code}"
            checked += 1
            continue
        assert response.status_code in (302, 401), (
            f"{path} answered {response.status_code} to an anonymous visitor"
        )
        if response.status_code == 302:
            assert response["Location"].startswith("/accounts/login/"), (
                f"{path} redirected to {response['Location']}"
            )
        checked += 1
    assert checked >= 8


@pytest.mark.django_db
def test_admin_needs_staff_login(client):
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


@pytest.mark.django_db
def test_logged_in_user_sees_the_dashboard_with_navigation(owner_client, owner):
    response = owner_client.get("/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    html = response.content.decode()
    for label in ("Dashboard", "Leads", "Campaigns", "Pipeline", "Weekly review"):
        assert label in html
    assert owner.display_name in html
    assert "営業一課" in html  # the team
    assert 'hx-headers=\'{"X-CSRFToken"' in html


@pytest.mark.django_db
def test_logout_is_a_post_and_ends_the_session(owner_client):
    assert owner_client.get("/").status_code == 200
    assert owner_client.post("/accounts/logout/").status_code == 302
    assert owner_client.get("/").status_code == 302


@pytest.mark.django_db
def test_password_change(client, owner):
    client.force_login(owner)
    response = client.post(
        "/accounts/password/",
        {
            "old_password": "pw-for-tests-1",
            "new_password1": "a-new-Passw0rd-26",
            "new_password2": "a-new-Passw0rd-26",
        },
    )
    assert response.status_code == 302
    owner.refresh_from_db()
    assert owner.check_password("a-new-Passw0rd-26")
