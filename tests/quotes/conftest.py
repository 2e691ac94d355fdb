"""Quotes fixtures: the default pipeline's stages (for deals), the company-wide issuer, an owner's deal."""

from __future__ import annotations

import pytest

from pipeline.services import pipeline_ensure_default
from tests.nurture.mail_fixtures import smtp_sink  # noqa: F401  (a real SMTP server on loopback)
from tests.pipeline.factories import make_deal
from tests.quotes.factories import make_issuer


@pytest.fixture
def stages(db):
    return {stage.name_en: stage for stage in pipeline_ensure_default().stages.all()}


@pytest.fixture
def issuer(db):
    return make_issuer()


@pytest.fixture
def deal(owner, stages):
    return make_deal(owner=owner, name="山田製作所 勤怠管理クラウド導入", amount=2_400_000)
