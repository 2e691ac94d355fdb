"""Pipelines and their stages: the standard set-up, created on first use."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from pipeline.models import Pipeline, Stage


@dataclass(frozen=True)
class StageSpec:
    name_ja: str
    name_en: str
    probability: int
    is_won: bool = False
    is_lost: bool = False
    stale_after_days: int | None = None


DEFAULT_PIPELINE_NAME = "新規営業"
DEFAULT_STAGES = (
    StageSpec("初回接触", "Initial contact", 10, stale_after_days=14),
    StageSpec("ヒアリング", "Discovery", 20),
    StageSpec("提案", "Proposal", 40),
    StageSpec("見積・交渉", "Quote & negotiation", 70),
    StageSpec("受注", "Won", 100, is_won=True),
    StageSpec("失注", "Lost", 0, is_lost=True),
)


def pipeline_create(
    *, name: str, stages: tuple[StageSpec, ...] | list[StageSpec], is_default: bool = False
) -> Pipeline:
    if sum(s.is_won for s in stages) != 1 or sum(s.is_lost for s in stages) != 1:
        raise ValidationError(_("A pipeline needs exactly one won stage and one lost stage."))
    with transaction.atomic():
        pipeline = Pipeline.objects.create(name=name, is_default=is_default)
        Stage.objects.bulk_create(
            Stage(
                pipeline=pipeline,
                order=index,
                name_ja=spec.name_ja,
                name_en=spec.name_en,
                probability=spec.probability,
                is_won=spec.is_won,
                is_lost=spec.is_lost,
                stale_after_days=spec.stale_after_days,
            )
            for index, spec in enumerate(stages, start=1)
        )
    return pipeline


def pipeline_ensure_default() -> Pipeline:
    """The default pipeline, created with the standard stages on first use (the demo, the board and tests)."""
    pipeline = Pipeline.objects.filter(is_default=True).first()
    if pipeline is not None:
        return pipeline
    try:
        with transaction.atomic():
            return pipeline_create(name=DEFAULT_PIPELINE_NAME, stages=DEFAULT_STAGES, is_default=True)
    except IntegrityError:  # another request created it a moment ago
        return Pipeline.objects.get(is_default=True)


def first_open_stage(pipeline: Pipeline) -> Stage | None:
    """The pipeline's first open stage; None for a pipeline made of closing stages only."""
    return Stage.objects.filter(pipeline=pipeline, is_won=False, is_lost=False).order_by("order").first()


def closing_stage(pipeline_id: int, *, won: bool) -> Stage:
    return Stage.objects.get(pipeline_id=pipeline_id, **({"is_won": True} if won else {"is_lost": True}))
