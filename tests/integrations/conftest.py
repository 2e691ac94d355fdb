"""Integrations fixtures: a loopback receiver (allowed as a target only here), the pipeline, an admin."""

from __future__ import annotations

import pytest

from pipeline.services import pipeline_ensure_default
from salesmarketing.models import User
from tests.integrations.receiver import start_receiver, stop_receiver
from tests.salesmarketing.factories import UserFactory


@pytest.fixture
def allow_loopback(settings):
    """The tests' receivers listen on 127.0.0.1, which production refuses (SSRF); these tests allow it."""
    settings.INTEGRATIONS_ALLOW_PRIVATE_TARGETS = True
    settings.SITE_URL = "https://sm.example.jp"


@pytest.fixture
def receiver(allow_loopback):
    server = start_receiver()
    yield server
    stop_receiver(server)


@pytest.fixture
def stages(db):
    return {stage.name_en: stage for stage in pipeline_ensure_default().stages.all()}


@pytest.fixture
def admin(db):
    return UserFactory(
        username="admin", display_name="管理 者", role=User.Role.ADMIN, is_staff=True, is_superuser=True
    )
