"""What nurture's sequences register at salesmarketing.hooks (in NurtureConfig.ready())."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext as _

from leads.models import Lead
from nurture.sequences.selectors import can_manage_sequences
from nurture.sequences.services import enrol_rejected_handoff, lead_replied
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
