"""Fixtures for the campaigns tests: users of every role, logged-in clients, and a fixed time zone."""

from __future__ import annotations

import pytest

from salesmarketing.models import User
from tests.salesmarketing.factories import TeamFactory, UserFactory


@pytest.fixture(autouse=True)
def _tokyo(settings):
    settings.TIME_ZONE = "Asia/Tokyo"


@pytest.fixture
def rep():
    return UserFactory(
        username="rep", display_name="営業 太郎", role=User.Role.SALES, team=TeamFactory(name="営業一課")
    )


@pytest.fixture
def marketer_client(client, marketer):
    client.force_login(marketer)
    return client


@pytest.fixture
def rep_client(client, rep):
    client.force_login(rep)
    return client
