"""What reminders remember: snoozes, the reminders sent (a ledger, so each goes out once per due time), each
user's daily digest setting and the digests sent (a ledger, one per user and day)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ItemKind(models.TextChoices):
    """The kinds of a user's tasks that can be reminded of, snoozed and done."""

    TASK = "task", _("To-do")
    NEXT_STEP = "next_step", _("Next step")
    ACTION = "action", _("Action item")


class Snooze(models.Model):
    """An item put off until `until`: no reminder before then, one at `until` (a new due time for the ledger)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("user")
    )
    kind = models.CharField(_("kind"), max_length=20, choices=ItemKind.choices)
    object_id = models.PositiveBigIntegerField(_("object id"))
    until = models.DateTimeField(_("snoozed until"))
    snoozed_at = models.DateTimeField(_("snoozed at"), auto_now=True)

    class Meta:
        verbose_name = _("snooze")
        verbose_name_plural = _("snoozes")
        constraints = [models.UniqueConstraint(fields=["kind", "object_id"], name="snooze_one_per_item")]
        indexes = [models.Index(fields=["until"], name="snooze_until_idx")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.object_id} → {self.until:%Y-%m-%d %H:%M}"


class ReminderSent(models.Model):
    """One reminder of one item at one moment of its schedule (before due, overdue, end of a snooze). The unique
    row is claimed in the transaction that stores the notification: a second run, or a second beat, sends none."""

    class Stage(models.TextChoices):
        BEFORE = "before", _("Before due")
        OVERDUE = "overdue", _("Overdue")
        SNOOZED = "snoozed", _("End of a snooze")

    kind = models.CharField(_("kind"), max_length=20, choices=ItemKind.choices)
    object_id = models.PositiveBigIntegerField(_("object id"))
    stage = models.CharField(_("stage"), max_length=20, choices=Stage.choices)
    at = models.DateTimeField(_("due moment"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("user")
    )
    sent_at = models.DateTimeField(_("sent at"), auto_now_add=True)

    class Meta:
        verbose_name = _("reminder sent")
        verbose_name_plural = _("reminders sent")
        constraints = [
            models.UniqueConstraint(fields=["kind", "object_id", "stage", "at"], name="remindersent_once")
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.object_id} {self.stage} @ {self.at:%Y-%m-%d %H:%M}"


class DigestSetting(models.Model):
    """A user's daily digest: off unless they opt in, sent at `send_at` (Asia/Tokyo)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="digest_setting",
        verbose_name=_("user"),
    )
    enabled = models.BooleanField(_("send me a daily digest"), default=False)
    send_at = models.TimeField(_("at (Asia/Tokyo)"), default=dt.time(8, 0))

    class Meta:
        verbose_name = _("digest setting")
        verbose_name_plural = _("digest settings")
        indexes = [models.Index(fields=["enabled", "send_at"], name="digestsetting_due_idx")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.send_at:%H:%M}" if self.enabled else f"{self.user_id} off"


class DigestSent(models.Model):
    """The ledger of digests: one row per user and day (Asia/Tokyo), claimed before the e-mail goes out and
    marked after. A claim whose e-mail failed is released so a later run tries again; a claim left unmarked by
    a crash is never sent again (at most once)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("user")
    )
    day = models.DateField(_("day"))
    claimed_at = models.DateTimeField(_("claimed at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("digest sent")
        verbose_name_plural = _("digests sent")
        constraints = [models.UniqueConstraint(fields=["user", "day"], name="digestsent_once_a_day")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.day}"
