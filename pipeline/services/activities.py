"""Activities on deals and leads (with the voice of the customer) and a deal's to-dos."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from leads.choices import TouchType
from leads.models import Lead
from leads.services import touch_record
from pipeline.models import Activity, Deal, Task
from salesmarketing.models import User


@transaction.atomic
def activity_log(
    *,
    by: User | None,
    type: str,
    subject: str,
    deal: Deal | None = None,
    lead: Lead | None = None,
    body: str = "",
    outcome: str = "",
    occurred_at: dt.datetime | None = None,
    is_voice: bool = False,
    voice_text: str = "",
    touch_type: str = TouchType.SALES_ACTIVITY,
    email_message_id: str = "",
    email_direction: str = "",
) -> Activity:
    """Log a call, meeting, email… on a deal and/or a lead. The lead (or the deal's contact) gets a touch, so its
    timeline shows it: `sales_activity` (which stops a waiting handoff's SLA clock), or `touch_type` for what is
    not sales reaching out (an e-mail from the lead); replays of the touch change nothing."""
    errors = {}
    if type not in Activity.Type.values:
        errors["type"] = _("Choose a type.")
    subject = (subject or "").strip()
    if not subject:
        errors["subject"] = _("Enter a subject.")
    voice_text = (voice_text or "").strip()
    if is_voice and not voice_text:
        errors["voice_text"] = _("Write down what the customer said.")
    if deal is None and lead is None:
        errors["__all__"] = _("An activity belongs to a deal or a lead.")
    if errors:
        raise ValidationError(errors)
    if lead is None and deal is not None and deal.contact_id:
        lead = deal.contact
    activity = Activity.objects.create(
        deal=deal,
        lead=lead,
        type=type,
        subject=subject,
        body=body,
        outcome=outcome,
        occurred_at=occurred_at or timezone.now(),
        is_voice=is_voice,
        voice_text=voice_text if is_voice else "",
        created_by=by,
        email_message_id=email_message_id,
        email_direction=email_direction,
    )
    if lead is not None:
        touch_record(
            lead=lead,
            type=touch_type,
            source="pipeline",
            idempotency_key=f"activity:{activity.pk}",
            occurred_at=activity.occurred_at,
            properties={
                "activity_id": activity.pk,
                "activity_type": activity.type,
                "subject": activity.subject,
                "deal_id": deal.pk if deal is not None else None,
            },
        )
    return activity


def task_create(
    *, deal: Deal, title: str, due_date: dt.date | None, by: User | None, assignee: User | None = None
) -> Task:
    errors = {}
    title = (title or "").strip()
    if not title:
        errors["title"] = _("Enter what needs doing.")
    if due_date is None:
        errors["due_date"] = _("Enter a due date.")
    if errors or due_date is None:  # (due_date: for mypy, which cannot follow the errors dict)
        raise ValidationError(errors)
    return Task.objects.create(
        deal=deal, title=title, due_date=due_date, assignee=assignee or deal.owner, created_by=by
    )


def task_complete(*, task: Task, by: User | None) -> Task:
    """Mark a task done. Idempotent: the first completion's time stays."""
    Task.objects.filter(pk=task.pk, done_at__isnull=True).update(done_at=timezone.now())
    task.refresh_from_db(fields=["done_at"])
    return task
