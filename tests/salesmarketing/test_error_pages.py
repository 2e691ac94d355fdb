"""Every error page has the app's look, the navigation and the viewer's language; 500 and 503 need no database."""

from __future__ import annotations

import pytest
from django.db import OperationalError
from django.test import RequestFactory
from django.utils import translation

from salesmarketing.middleware import DatabaseUnavailableMiddleware
from salesmarketing.models import User
from salesmarketing.views import server_error
from tests.salesmarketing.factories import UserFactory


def _assert_styled(html: str, *texts: str) -> None:
    assert "/static/css/app.css" in html
    assert 'id="mainnav"' in html  # the navigation
    for text in texts:
        assert text in html


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("lang", "title", "nav"),
    [
        ("ja", "このページを開く権限がありません", "パイプライン"),
        ("en", "You cannot open this page", "Pipeline"),
    ],
)
def test_403_is_styled_with_the_navigation_in_the_viewers_language(client, owner, lang, title, nav):
    client.force_login(owner)
    response = client.get("/settings/api-keys/", HTTP_ACCEPT_LANGUAGE=lang)  # admins only
    assert response.status_code == 403
    _assert_styled(response.content.decode(), title, nav, "usermenu")


@pytest.mark.django_db
@pytest.mark.parametrize(("lang", "title"), [("ja", "ページが見つかりません"), ("en", "Page not found")])
def test_404_is_styled_with_the_navigation(client, owner, lang, title):
    client.force_login(owner)
    response = client.get("/leads/987654321/", HTTP_ACCEPT_LANGUAGE=lang)
    assert response.status_code == 404
    _assert_styled(response.content.decode(), title)


@pytest.mark.parametrize(("lang", "title"), [("ja", "エラーが発生しました"), ("en", "Something went wrong")])
def test_500_renders_without_the_database(lang, title):
    """No `db` fixture: pytest-django fails any query, so the page provably needs no database."""
    request = RequestFactory().get("/leads/")
    with translation.override(lang):
        response = server_error(request)
    assert response.status_code == 500
    html = response.content.decode()
    _assert_styled(html, title, 'aria-current="page"')  # Leads is marked as where the user was
    assert "usermenu" not in html  # no user menu: that would need the session


@pytest.mark.parametrize(
    ("lang", "title"), [("ja", "一時的にご利用いただけません"), ("en", "Temporarily unavailable")]
)
def test_503_when_the_database_is_down_is_styled_without_the_database(lang, title):
    request = RequestFactory().get("/pipeline/")
    middleware = DatabaseUnavailableMiddleware(lambda r: None)
    with translation.override(lang):
        response = middleware.process_exception(request, OperationalError("connection refused"))
    assert response is not None and response.status_code == 503
    assert response["Retry-After"].isdigit()
    _assert_styled(response.content.decode(), title)


@pytest.mark.django_db
def test_400_for_a_bad_period_keeps_its_page_in_both_languages(client, manager):
    client.force_login(manager)
    ja = client.get("/?period=9999-12", HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    en = client.get("/?period=9999-12", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    _assert_styled(en, "This page cannot show that date", "Show the default view of this page")
    _assert_styled(ja, "パイプライン")
    assert "This page cannot show that date" not in ja


@pytest.mark.django_db
def test_admin_and_api_docs_are_named_in_japanese_and_lead_back_to_the_app(client):
    admin = UserFactory(username="root", role=User.Role.ADMIN, is_staff=True, is_superuser=True, team=None)
    client.force_login(admin)
    html = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert "salesmarketing 管理" in html and "Django 管理サイト" not in html
    docs = client.get("/api/v1/docs", HTTP_ACCEPT_LANGUAGE="ja")
    assert docs.status_code == 200
    assert 'href="/"' in docs.content.decode() and "アプリに戻る" in docs.content.decode()
