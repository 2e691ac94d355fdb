"""Segments: named sets of leads, dynamic (rules compiled to one SQL query) or static (a list of leads)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

__all__ = ["Segment", "SegmentKind", "SegmentMember"]


class SegmentKind(models.TextChoices):
    DYNAMIC = "dynamic", _("Dynamic (rules)")
    STATIC = "static", _("Static (a list)")


class Segment(models.Model):
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(
        _("kind"), max_length=10, choices=SegmentKind.choices, default=SegmentKind.DYNAMIC
    )
    # Dynamic segments: {"op": "and"|"or", "rules": [...]} as nurture.segments compiles it; {} for static ones.
    rules = models.JSONField(_("rules"), default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=SegmentKind.values), name="nurture_segment_kind_known"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("nurture:segment_detail", args=[self.pk])

    @property
    def is_static(self) -> bool:
        return self.kind == SegmentKind.STATIC


class SegmentMember(models.Model):
    """A lead on a static segment's list."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="members")
    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="+")
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["segment", "lead"], name="nurture_segment_member_unique")
        ]

    def __str__(self) -> str:
        return f"{self.segment_id}:{self.lead_id}"
