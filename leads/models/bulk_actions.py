"""Saved views of the lead list and bulk jobs over its leads (leads.bulk_actions)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class SavedView(models.Model):
    """A named filter of the lead list (its query string), the owner's alone or shared with their team or everyone."""

    class Sharing(models.TextChoices):
        PRIVATE = "private", _("Only me")
        TEAM = "team", _("My team")
        EVERYONE = "everyone", _("Everyone")

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("owner"), on_delete=models.CASCADE, related_name="+"
    )
    name = models.CharField(_("name"), max_length=100)
    # The lead list's query string without the page (q=…&lifecycle=…&sort=…): the list's own form reads it, so a
    # view keeps every filter the list offers, now and later.
    query = models.CharField(_("filters"), max_length=2000, blank=True)
    sharing = models.CharField(
        _("shared with"), max_length=10, choices=Sharing.choices, default=Sharing.PRIVATE
    )
    # The team a TEAM view is shared with: the owner's team when they shared it.
    team = models.ForeignKey(
        "salesmarketing.Team", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("saved view")
        verbose_name_plural = _("saved views")
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="savedview_owner_name_unique"),
            models.CheckConstraint(
                condition=Q(sharing__in=["private", "team", "everyone"]), name="savedview_sharing_known"
            ),
            models.CheckConstraint(
                condition=~Q(sharing="team") | Q(team__isnull=False), name="savedview_team_has_team"
            ),
        ]
        indexes = [models.Index(fields=["sharing", "team"], name="savedview_sharing_idx")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("leads:list") + (f"?{self.query}" if self.query else "")


class BulkAction(models.TextChoices):
    ASSIGN = "assign", _("Assign owner")
    LIFECYCLE = "lifecycle", _("Set lifecycle stage")
    CONSENT = "consent", _("Set email consent")
    ERASE = "erase", _("Erase")
    # Offered by the higher apps (salesmarketing.hooks.LEAD_BULK_ACTIONS): nurture's static lists and sequences.
    SEGMENT = "segment", _("Add to a static list")
    SEQUENCE = "sequence", _("Enrol in a sequence")


class BulkJob(models.Model):
    """One bulk action over a set of leads, run by the bulk queue in batches; also its audit row (who, what, which
    leads — the filter or the picked ids, never a list of a million —, how many, when). Kept after it finishes."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        FINISHED = "finished", _("Finished")
        FAILED = "failed", _("Failed")

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(_("action"), max_length=20, choices=BulkAction.choices)
    # What the action needs: {"owner": id|None, "reason": …}, {"stage": …}, {"grant": bool, "method": …}, {"target": id}
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    # Which leads: every lead the list's filter matches ("all matching": the query string, re-run by the worker
    # as the job's author sees the list) or the rows picked on the page (`lead_ids`, at most a page's worth).
    all_matching = models.BooleanField(_("all matching"), default=False)
    query = models.CharField(_("filters"), max_length=2000, blank=True)
    lead_ids = models.JSONField(_("picked leads"), default=list, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(_("total"), null=True, blank=True)  # counted when the worker starts
    done = models.PositiveIntegerField(_("done"), default=0)  # leads handled (changed or already so)
    changed = models.PositiveIntegerField(_("changed"), default=0)
    failed = models.PositiveIntegerField(
        _("failed"), default=0
    )  # leads the action refused (e.g. unsubscribed)
    # Keyset cursor: the highest lead id handled. A batch moves it in the same transaction as its writes, so a
    # retried batch starts after what committed and redoes nothing.
    cursor = models.BigIntegerField(default=0)
    error = models.CharField(_("error"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    # The heartbeat: when the job was queued, started, moved on a batch or was queued again by the sweeper. A job
    # not over whose heartbeat is older than SWEEP_STALE_SECONDS lost its worker or its message (the sweeper).
    progressed_at = models.DateTimeField(_("last progress"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("bulk job")
        verbose_name_plural = _("bulk jobs")
        constraints = [
            models.CheckConstraint(condition=Q(action__in=BulkAction.values), name="bulkjob_action_known"),
            models.CheckConstraint(
                condition=Q(status__in=["queued", "running", "finished", "failed"]),
                name="bulkjob_status_known",
            ),
        ]
        indexes = [
            models.Index(fields=["created_by", "-created_at"], name="bulkjob_by_idx"),
            # the sweeper's look for stalled jobs: only the few not over
            models.Index(
                fields=["progressed_at"],
                condition=Q(status__in=["queued", "running"]),
                name="bulkjob_unfinished_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} #{self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("leads:bulk_job", args=[self.pk])

    @property
    def is_over(self) -> bool:
        return self.status in (self.Status.FINISHED, self.Status.FAILED)

    @property
    def percent(self) -> int:
        if not self.total:
            return 100 if self.is_over else 0
        return min(100, round(100 * (self.done + self.failed) / self.total))
