"""Pipeline fixtures: the default pipeline with its stages, an owner's deal, an admin, API keys."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from pipeline.models import Stage
from pipeline.services import pipeline_ensure_default
from salesmarketing.models import User
from salesmarketing.services import api_key_create
from tests.nurture.mail_fixtures import smtp_sink  # noqa: F401  (a real SMTP server on loopback)
from tests.pipeline.factories import make_deal
from tests.salesmarketing.factories import UserFactory


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The board keeps the usual time in stage in the cache for a few minutes; each test starts without it."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def pipeline(db):
    return pipeline_ensure_default()


@pytest.fixture
def stages(pipeline) -> dict[str, Stage]:
    """The default stages by English name: Initial contact, Discovery, Proposal, Quote & negotiation, Won, Lost."""
    return {stage.name_en: stage for stage in pipeline.stages.all()}


@pytest.fixture
def deal(owner, stages):
    return make_deal(owner=owner, name="山田製作所 勤怠管理クラウド導入", amount=2_400_000)


@pytest.fixture
def admin_user():
    return UserFactory(username="admin", display_name="管理者", role=User.Role.ADMIN, team=None)


@pytest.fixture
def api_key_for():
    """An API key with the deals scope (or the given scopes) acting as `user` (None: no user)."""

    def _make(user=None, scopes=("deals:write",)):
        _key, plain = api_key_create(name="CRM sync", source="crm", scopes=list(scopes), user=user)
        return {"HTTP_AUTHORIZATION": f"Bearer {plain}"}

    return _make
