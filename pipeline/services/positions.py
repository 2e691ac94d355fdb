"""Where a card sits in its column. Cards sit at multiples of GAP, so a drop between two cards usually writes
one row only; a column is spread out again when two neighbours have no gap left."""

from __future__ import annotations

from django.db.models import Q

from pipeline.models import Deal, Stage

GAP = 1 << 20


def _column(stage: Stage, *, exclude_pk: int | None):
    qs = Deal.objects.filter(stage=stage)
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    return qs.order_by("position", "id").values_list("position", flat=True)


def _renumber(stage: Stage) -> None:
    """Spread a column out again once two neighbours have no gap left between them (rare)."""
    ids = list(
        Deal.objects.select_for_update()
        .filter(stage=stage)
        .order_by("position", "id")
        .values_list("pk", flat=True)
    )
    Deal.objects.bulk_update(
        [Deal(pk=pk, position=index * GAP) for index, pk in enumerate(ids)], ["position"], batch_size=1000
    )


def slot(*, stage: Stage, index: int, exclude_pk: int | None) -> int:
    """A position value that puts a card at `index` (0 = top) of the column, other cards keeping theirs."""
    column = _column(stage, exclude_pk=exclude_pk)
    if index <= 0:
        first = column.first()
        return 0 if first is None else first - GAP
    neighbours = list(column[index - 1 : index + 1])
    if not neighbours:
        last = column.last()
        return 0 if last is None else last + GAP
    if len(neighbours) == 1:
        return neighbours[0] + GAP
    before, after = neighbours
    if after - before >= 2:
        return (before + after) // 2
    _renumber(stage)
    return slot(stage=stage, index=index, exclude_pk=exclude_pk)


def column_index(*, deal: Deal) -> int:
    """Where the deal sits in its column (0 = top)."""
    return (
        Deal.objects.filter(stage_id=deal.stage_id)
        .filter(Q(position__lt=deal.position) | Q(position=deal.position, pk__lt=deal.pk))
        .count()
    )


def drop_index(*, deal: Deal, stage: Stage, before_id: int | None, after_id: int | None) -> int | None:
    """The column index for a card dropped between two cards the viewer saw (their ids; either may be missing
    at the ends of the list). None when neither neighbour is in that column: the default place applies."""
    neighbour_id = before_id or after_id
    if not neighbour_id or neighbour_id == deal.pk:
        return None
    neighbour = Deal.objects.filter(pk=neighbour_id, stage=stage).only("pk", "position", "stage_id").first()
    if neighbour is None:
        return None
    index = column_index(deal=neighbour)
    if deal.stage_id == stage.pk and (deal.position, deal.pk) < (neighbour.position, neighbour.pk):
        index -= 1  # the moving card itself no longer counts above its neighbour
    return index if before_id else index + 1
