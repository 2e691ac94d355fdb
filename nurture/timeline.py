"""A lead's nurture history on its timeline (hooks.LEAD_TIMELINE, registered in NurtureConfig.ready()).

Four kinds of rows, each read by the lead page's timeline statement among the touches: enrolled in a sequence
(how — for a rejected handoff, its rejection reason —, by whom), each step e-mail sent (opened, clicked), the
enrolment's end (completed, or exited with the reason, and who removed the lead by hand), and each broadcast sent. Opened and clicked are the open and click touches carrying the message's tracking
id (nurture.mail.outcomes), read in the same statement.
"""

from __future__ import annotations

from django.db.models import F

from leads.choices import TouchType
from leads.detail.selectors import TimelineSource, user_fields
from leads.models import Lead
from nurture.mail.outcomes import broadcast_message, message_touched, step_message
from nurture.mail.selectors import can_manage_mail
from nurture.models import BroadcastSend, Enrolment, SendStatus, StepSend
from salesmarketing.models import User

TEMPLATE = "nurture/includes/timeline_entry.html"


def lead_timeline(*, lead: Lead, viewer: User) -> list[TimelineSource]:
    """The lead's enrolments, step e-mails sent, enrolment ends and broadcasts sent; names link to the sequence's
    or broadcast's page for those who may open it (sales reps see the history, not the pages)."""
    context = {"links": can_manage_mail(viewer)}
    enrolments = Enrolment.objects.filter(lead_id=lead.pk)

    def opened_clicked(message) -> dict:
        return {
            "opened": message_touched(TouchType.EMAIL_OPEN, lead_id=lead.pk, message=message),
            "clicked": message_touched(TouchType.EMAIL_CLICK, lead_id=lead.pk, message=message),
        }

    return [
        TimelineSource(
            "nurture_enrolled",
            enrolments,
            "enrolled_at",
            ("source", "sequence__name", "handoff__reject_reason", *user_fields("enrolled_by")),
            TEMPLATE,
            context={**context, "kind": "enrolled"},
        ),
        TimelineSource(
            "nurture_step",
            StepSend.objects.filter(enrolment__lead_id=lead.pk, status=SendStatus.SENT),
            "sent_at",
            (),
            TEMPLATE,
            extra={
                "sequence_id": F("step__sequence_id"),
                "sequence_name": F("step__sequence__name"),
                "position": F("step__position"),
                **opened_clicked(step_message()),
            },
            context={**context, "kind": "step"},
        ),
        TimelineSource(
            "nurture_ended",
            enrolments.filter(ended_at__isnull=False),
            "ended_at",
            ("state", "exit_reason", "sequence__name", *user_fields("ended_by")),
            TEMPLATE,
            context={**context, "kind": "ended"},
        ),
        TimelineSource(
            "nurture_broadcast",
            BroadcastSend.objects.filter(lead_id=lead.pk, status=SendStatus.SENT),
            "sent_at",
            ("broadcast__name",),
            TEMPLATE,
            extra=opened_clicked(broadcast_message()),
            context={**context, "kind": "broadcast"},
        ),
    ]
