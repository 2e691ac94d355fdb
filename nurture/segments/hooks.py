"""What nurture's segments register at salesmarketing.hooks (in NurtureConfig.ready())."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext as _

from nurture.segments.selectors import can_edit


def lead_list_actions(*, user) -> list[tuple[str, str]]:
    """The lead list's bulk bar: "add the selected leads to a static segment", for those who edit segments."""
    if not can_edit(user):
        return []
    return [(_("Add to a static segment"), reverse("nurture:segment_add_leads"))]
