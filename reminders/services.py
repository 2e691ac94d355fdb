"""Writes for reminders: snooze an item, mark it done, send the reminders that are due, the daily digest."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from kpis.services import action_item_set_done
from pipeline.services import deal_update
from pipeline.services.activities import task_complete
from reminders import messages, selectors
from reminders.models import DigestSent, DigestSetting, ItemKind, ReminderSent, Snooze
from reminders.schedule import snooze_until, stages
from reminders.selectors import Item
from salesmarketing.models import User
from salesmarketing.services import notification_send

logger = logging.getLogger(__name__)

STAGE_MESSAGES = {
    ReminderSent.Stage.BEFORE: messages.DUE_SOON,
    ReminderSent.Stage.OVERDUE: messages.OVERDUE,
    ReminderSent.Stage.SNOOZED: messages.SNOOZE_OVER,
}


def item_snooze(*, item: Item, choice: str, now: dt.datetime | None = None) -> Snooze:
    """Put an item off (1 hour, tomorrow 9:00, the next business day 9:00): its reminders start again from then,
    since the snooze's end is a new moment in the reminders' ledger."""
    until = snooze_until(choice, now=now or timezone.now())
    snooze, _ = Snooze.objects.update_or_create(
        kind=item.kind, object_id=item.pk, defaults={"user": item.user, "until": until}
    )
    item.snoozed_until = until
    return snooze


@transaction.atomic
def item_done(*, item: Item, by: User) -> None:
    """Mark an item done through its own app's service: a to-do completed, a next step cleared from its deal, an
    action item ticked off. Repeating it changes nothing."""
    if item.kind == ItemKind.TASK:
        task_complete(task=item.record, by=by)
    elif item.kind == ItemKind.NEXT_STEP:
        deal_update(deal=item.record, by=by, next_step="", next_step_date=None)
    elif item.kind == ItemKind.ACTION:
        action_item_set_done(item=item.record, done=True, by=by)
    Snooze.objects.filter(kind=item.kind, object_id=item.pk).delete()


def _claim(item: Item, stage: str, at: dt.datetime) -> bool:
    try:
        with transaction.atomic():
            ReminderSent.objects.create(kind=item.kind, object_id=item.pk, stage=stage, at=at, user=item.user)
    except IntegrityError:
        return False
    return True


def reminders_send(*, now: dt.datetime | None = None) -> int:
    """Run by beat every minute: for every item whose reminder moment has come (within the catch-up window), claim
    the moment in the ledger and notify the item's user (in the app / by e-mail, as they chose), in the same
    transaction. Moments a stopped beat missed are claimed together and reminded of once (the latest). Returns
    the number of reminders sent; a second run sends none."""
    now = now or timezone.now()
    oldest = now - dt.timedelta(hours=settings.TASKS_REMIND_CATCHUP_HOURS)
    items = selectors.items_to_remind(now=now)
    # The moments already claimed, in one read: a run claims only new ones, so its work is the reminders due since
    # the last run, not every item of the catch-up window (thousands of open next steps at a big company).
    claimed_before = set(
        ReminderSent.objects.filter(
            kind__in={item.kind for item in items}, object_id__in={item.pk for item in items}, at__gt=oldest
        ).values_list("kind", "object_id", "stage", "at")
    )
    sent = 0
    for item in items:
        due = [
            (stage, at)
            for stage, at in stages(due=item.due, snoozed_until=item.snoozed_until)
            if oldest < at <= now and (item.kind, item.pk, stage, at) not in claimed_before
        ]
        if not due:
            continue
        with transaction.atomic():
            claimed = [(stage, at) for stage, at in due if _claim(item, stage, at)]
            if not claimed:
                continue
            message = STAGE_MESSAGES[ReminderSent.Stage(claimed[-1][0])]
            notification_send(
                recipient=item.user,
                message=message,
                params=message.params(title=item.title, deal=item.where, due=item.due),
                url=reverse("reminders:item", args=[item.kind, item.pk]),
                email=message.email,
            )
            sent += 1
    return sent


def digest_setting_set(*, user: User, enabled: bool, send_at: dt.time) -> DigestSetting:
    setting, _ = DigestSetting.objects.update_or_create(
        user=user, defaults={"enabled": enabled, "send_at": send_at}
    )
    return setting


def digest_send(*, user_id: int, day: dt.date, now: dt.datetime | None = None) -> bool:
    """Send one user's digest for `day` (Asia/Tokyo) once: the (user, day) ledger row is claimed first and marked
    after. A failed send releases the claim (the caller retries); a crash between the two leaves the claim and
    nothing is sent twice. A user with nothing to report gets no e-mail (the row says the day is done).
    Returns whether an e-mail went out."""
    now = now or timezone.now()
    user = User.objects.filter(pk=user_id, is_active=True).exclude(email="").first()
    if user is None or not DigestSetting.objects.filter(user=user, enabled=True).exists():
        return False
    try:
        with transaction.atomic():
            claim = DigestSent.objects.create(user=user, day=day)
    except IntegrityError:
        return False
    content = selectors.digest(user=user, now=now)
    if content.is_empty:
        DigestSent.objects.filter(pk=claim.pk).update(sent_at=timezone.now())
        return False
    with translation.override(user.language), timezone.override(settings.TIME_ZONE):
        context = {"digest": content, "user": user, "day": day, "site_url": settings.SITE_URL}
        subject = render_to_string("reminders/digest_subject.txt", context).strip()
        body = render_to_string("reminders/digest_email.txt", context)
    try:
        send_mail(subject, body, None, [user.email], fail_silently=False)
    except Exception:
        DigestSent.objects.filter(pk=claim.pk).delete()
        logger.warning("digest: sending to user %s failed; released for a retry", user.pk)
        raise
    DigestSent.objects.filter(pk=claim.pk).update(sent_at=timezone.now())
    return True
