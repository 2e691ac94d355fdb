"""seed_capture: demo form endpoints and a demo API key, idempotent."""

from __future__ import annotations

import io

import pytest

from leads.demo_capture import DEMO_KEY_SOURCE, seed_capture
from leads.models import FormEndpoint
from salesmarketing.demo import seed_users
from salesmarketing.models import ApiKey
from salesmarketing.services import api_key_authenticate

pytestmark = pytest.mark.django_db


def test_seed_capture_twice_gives_the_same_rows_and_prints_the_key_once():
    users = seed_users()
    first, second = io.StringIO(), io.StringIO()
    seed_capture(users=users, stdout=first)
    counts = (FormEndpoint.objects.count(), ApiKey.objects.count())
    seed_capture(users=users, stdout=second)

    assert counts == (FormEndpoint.objects.count(), ApiKey.objects.count()) == (3, 1)
    plain = first.getvalue().strip().rsplit(" ", 1)[-1]
    assert api_key_authenticate(plain).source == DEMO_KEY_SOURCE
    assert second.getvalue() == ""
