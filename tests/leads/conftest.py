"""Fixtures for the capture tests: API keys and an authenticated JSON client."""

from __future__ import annotations

import json

import pytest

from salesmarketing.services import api_key_create


@pytest.fixture
def api_key():
    """(key, plain secret) for an integration with every scope."""
    return api_key_create(name="CRM sync", source="crm")


class ApiClient:
    """Django's test client speaking JSON with a Bearer key."""

    def __init__(self, client, token: str):
        self.client = client
        self.token = token

    def _headers(self, extra):
        return {"HTTP_AUTHORIZATION": f"Bearer {self.token}", **extra}

    def post(self, path: str, body, **extra):
        data = body if isinstance(body, bytes | str) else json.dumps(body)
        return self.client.post(path, data=data, content_type="application/json", **self._headers(extra))

    def get(self, path: str, **extra):
        return self.client.get(path, **self._headers(extra))


@pytest.fixture
def api(client, api_key):
    return ApiClient(client, api_key[1])


@pytest.fixture
def api_as():
    """An API client for a key with only the given scopes: `api_as(client, ["leads:read"])`."""

    def make(client, scopes: list[str], source: str = "crm"):
        _key, plain = api_key_create(name="limited", source=source, scopes=scopes)
        return ApiClient(client, plain)

    return make


@pytest.fixture
def clear_cache():
    """Rate-limit counters live in Django's cache; each test starts from zero."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
