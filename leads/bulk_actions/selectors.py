"""Reads for saved views and bulk jobs: who may use which view and action, and which leads a job covers."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import QueryDict

from leads.bulk_actions.extra import ExtraAction, extra_actions
from leads.filters import LeadFilterForm
from leads.models import BulkAction, BulkJob, Lead, SavedView
from leads.owners.selectors import owner_choices
from leads.privacy.services import can_manage_personal_data
from leads.selectors import lead_filtered
from salesmarketing.models import User

# The lead list's parameters that are not filters (a saved view or a job keeps the filter only).
NOT_FILTERS = ("page",)


def filter_query(data: QueryDict) -> str:
    """The list's query string without its page: what a saved view and an "all matching" job keep."""
    query = data.copy()
    for name in NOT_FILTERS:
        query.pop(name, None)
    return query.urlencode()


# --- Saved views ---------------------------------------------------------------------------------------------


def saved_views_for(*, viewer: User) -> QuerySet[SavedView]:
    """The views the viewer may pick: their own, those shared with their team, and those shared with everyone."""
    shared = Q(sharing=SavedView.Sharing.EVERYONE)
    if viewer.team_id:
        shared |= Q(sharing=SavedView.Sharing.TEAM, team_id=viewer.team_id)
    return SavedView.objects.filter(Q(owner=viewer) | shared).select_related("owner").order_by("name", "id")


def saved_view_get_own(*, viewer: User, pk: int) -> SavedView | None:
    """A view the viewer may rename or delete: only their own."""
    return SavedView.objects.filter(owner=viewer, pk=pk).first()


# --- Who may do what -----------------------------------------------------------------------------------------


def is_manager(user: User) -> bool:
    return bool(user.is_superuser or user.role in (User.Role.MANAGER, User.Role.ADMIN))


def assignable_owners(*, viewer: User) -> list[User] | None:
    """Whom the viewer may make the owner of the leads of a bulk assign (None: they may not assign). The rules of
    a single lead's owner change (leads.owners), asked as for a lead the viewer owns: a rep's bulk assign covers
    only the leads they own, so it hands them to their teammates; a manager's or an admin's covers every lead
    they see."""
    people = owner_choices(viewer=viewer, record=Lead(owner_id=viewer.pk))
    return None if people is None else list(people)


def actions_for(*, viewer: User) -> list[tuple[str, str]]:
    """(action, label) the viewer may run, leads' own first, then what the higher apps offer them."""
    actions = [(BulkAction.LIFECYCLE.value, str(BulkAction.LIFECYCLE.label))]
    if assignable_owners(viewer=viewer) is not None:
        actions.insert(0, (BulkAction.ASSIGN.value, str(BulkAction.ASSIGN.label)))
    actions.append((BulkAction.CONSENT.value, str(BulkAction.CONSENT.label)))
    actions += [(extra.key, str(extra.label)) for extra in extra_actions(user=viewer)]
    if can_manage_personal_data(viewer):
        actions.append((BulkAction.ERASE.value, str(BulkAction.ERASE.label)))
    return actions


def extra_actions_for(*, viewer: User) -> list[ExtraAction]:
    return extra_actions(user=viewer)


def extra_action(*, user: User, key: str) -> ExtraAction | None:
    return next((extra for extra in extra_actions(user=user) if extra.key == key), None)


# --- Jobs ----------------------------------------------------------------------------------------------------


def job_leads(*, job: BulkJob) -> QuerySet[Lead]:
    """The leads the job covers, as its author sees them now, in id order (the batches' keyset)."""
    viewer = job.created_by
    if job.all_matching:
        filters = LeadFilterForm(QueryDict(job.query)).filters()
        leads = lead_filtered(viewer=viewer, filters=filters)
    else:
        leads = Lead.objects.visible_to(viewer).filter(pk__in=[int(pk) for pk in job.lead_ids])
    if job.action == BulkAction.ASSIGN and not is_manager(viewer):
        leads = leads.filter(owner=viewer)  # only managers and admins hand on other people's leads
    return leads.order_by("pk")


def selection_count(*, viewer: User, all_matching: bool, query: str, lead_ids: list[int]) -> int:
    """How many leads a job would cover, for the confirmation page (one COUNT)."""
    job = BulkJob(
        created_by=viewer,
        all_matching=all_matching,
        query=query,
        lead_ids=lead_ids,
        action=BulkAction.LIFECYCLE,
    )
    return job_leads(job=job).count()


def jobs_for(*, viewer: User, limit: int = 50) -> QuerySet[BulkJob]:
    """The bulk jobs the viewer may look at, newest first: their own; every job for an admin."""
    jobs = BulkJob.objects.select_related("created_by").order_by("-created_at", "-id")
    if not (viewer.is_superuser or viewer.role == User.Role.ADMIN):
        jobs = jobs.filter(created_by=viewer)
    return jobs[:limit]


def job_get_for_viewer(*, viewer: User, pk: int) -> BulkJob | None:
    jobs = BulkJob.objects.select_related("created_by").filter(pk=pk)
    if not (viewer.is_superuser or viewer.role == User.Role.ADMIN):
        jobs = jobs.filter(created_by=viewer)
    return jobs.first()
