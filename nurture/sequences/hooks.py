"""What nurture's sequences register at salesmarketing.hooks (in NurtureConfig.ready())."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from leads.bulk_actions.extra import ExtraAction
from leads.models import BulkAction, Lead
from nurture.models import Sequence
from nurture.sequences.selectors import active_sequences, can_manage_sequences
from nurture.sequences.services import enrol_rejected_handoff, enrol_selection, lead_replied
from salesmarketing.inbound import addresses, forwarded_message, is_automatic


def lead_page_actions(*, user, lead) -> list[tuple[str, str]]:
    """The lead page's "enrol in a sequence" link, for those who manage sequences."""
    if not can_manage_sequences(user):
        return []
    return [(_("Enrol in a sequence"), reverse("nurture:sequence_enrol_lead", args=[lead.pk]))]


def lead_list_actions(*, user) -> list[tuple[str, str]]:
    """The lead list's bulk bar: "enrol the selected leads in a sequence"."""
    if not can_manage_sequences(user):
        return []
    return [(_("Enrol in a sequence"), reverse("nurture:sequence_enrol_selection"))]


def handoff_rejected(*, handoff, by) -> int:
    """A handoff rejected as too early / no budget: its lead enters the sequences that ask for that reason. Only
    database rows are written (in the rejection's transaction); sending waits for the beat's run."""
    return enrol_rejected_handoff(handoff=handoff, by=by)


def inbound_email_received(*, message, inbound) -> str:
    """INBOUND_EMAIL_RECEIVED: an e-mail a lead wrote (received at the BCC / forwarding address, or forwarded as an
    attachment) ends the lead's active sequences as "replied"; auto-replies (out of office) do not."""
    message = forwarded_message(message) or message
    if is_automatic(message):
        return ""
    sender = next(iter(addresses(message, "From")), "")
    lead_id = Lead.objects.filter(email=sender).values_list("pk", flat=True).first() if sender else None
    return "reply" if lead_id and lead_replied(lead_id=lead_id) else ""


def _enrol_checked(*, target_id: int) -> Sequence:
    """The sequence, refused (ValidationError) when it has no step to start with."""
    sequence = Sequence.objects.get(pk=target_id)
    if not sequence.steps.exists():
        raise ValidationError(_("Add a step to the sequence before enrolling leads."), code="no_steps")
    return sequence


def _enrol_batch(*, target_id: int, lead_ids: list[int], by) -> int:
    return enrol_selection(sequence=Sequence.objects.get(pk=target_id), lead_ids=lead_ids, viewer=by)


def lead_bulk_actions(*, user) -> list[ExtraAction]:
    """The lead list's bulk jobs: "enrol in a sequence", for those who manage sequences. Only eligible leads go in
    (emailable, not yet MQL), once (one active enrolment per lead and sequence), so a retried batch adds none."""
    if not can_manage_sequences(user):
        return []
    return [
        ExtraAction(
            key=BulkAction.SEQUENCE,
            label=BulkAction.SEQUENCE.label,
            target_label=gettext_lazy("Sequence"),
            targets=lambda: [(s.pk, s.name) for s in active_sequences()],
            check=_enrol_checked,
            apply=_enrol_batch,
        )
    ]
