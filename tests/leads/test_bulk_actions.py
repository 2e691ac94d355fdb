"""Saved views and bulk jobs on the lead list: who sees which view, what each action writes, that a job covers only
the leads its author sees, that a retried batch changes nothing twice, and that a batch's statements do not grow
with its size. The jobs' batches run here in-process (a real worker: tests/leads/test_bulk_worker.py)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from leads.bulk_actions import services
from leads.bulk_actions.selectors import saved_views_for
from leads.models import BulkJob, ErasureRecord, Lead, LifecycleChange, OwnerChange, SavedView
from nurture.models import Enrolment, SegmentMember
from salesmarketing.models import User
from tests.leads.factories import make_lead
from tests.nurture.factories import SegmentStaticFactory, sequence_make
from tests.salesmarketing.factories import UserFactory

pytestmark = pytest.mark.django_db


def run(job: BulkJob, batch_size: int | None = None) -> BulkJob:
    """Start the job and run its batches to the end, as the bulk worker does."""
    services.bulk_job_start(job_id=job.pk)
    while services.bulk_job_run_batch(job_id=job.pk, batch_size=batch_size):
        pass
    job.refresh_from_db()
    return job


@pytest.fixture(autouse=True)
def _english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


def lead_at(stage: str, **fields) -> Lead:
    """A lead (made by the upsert service) at a lifecycle stage, as scoring or a person would have left it."""
    lead = make_lead(**fields)
    Lead.objects.filter(pk=lead.pk).update(lifecycle_stage=stage)
    lead.lifecycle_stage = stage
    return lead


@pytest.fixture
def admin():
    return UserFactory(username="admin", role=User.Role.ADMIN)


# --- Saved views -----------------------------------------------------------------------------------------------


def test_a_view_is_seen_by_its_owner_its_team_or_everyone_as_shared(owner, teammate, outsider):
    mine = services.saved_view_create(owner=owner, name="自分の見込", query="owner=me")
    team = services.saved_view_create(owner=owner, name="課の MQL", query="lifecycle=mql", sharing="team")
    everyone = services.saved_view_create(
        owner=outsider, name="全社 高スコア", query="score_min=60", sharing="everyone"
    )

    assert set(saved_views_for(viewer=owner)) == {mine, team, everyone}
    assert set(saved_views_for(viewer=teammate)) == {team, everyone}
    assert set(saved_views_for(viewer=outsider)) == {everyone}


def test_saving_the_lists_filter_keeps_its_query_without_the_page(owner_client, owner):
    response = owner_client.post(
        reverse("leads:saved_view_new"),
        {"name": "高スコア", "sharing": "private", "query": "score_min=60&lifecycle=mql&page=3"},
    )
    view = SavedView.objects.get(owner=owner)
    assert view.query == "score_min=60&lifecycle=mql"
    assert response.status_code == 302 and response["Location"] == "/leads/?score_min=60&lifecycle=mql"


def test_a_second_view_of_the_same_name_is_refused(owner_client, owner):
    services.saved_view_create(owner=owner, name="高スコア", query="")
    response = owner_client.post(
        reverse("leads:saved_view_new"), {"name": "高スコア", "query": "q=a"}, follow=True
    )
    assert "You already have a view with this name." in response.content.decode()
    assert SavedView.objects.filter(owner=owner).count() == 1


def test_the_owner_renames_and_deletes_a_view_and_nobody_else_may(client, owner, teammate):
    view = services.saved_view_create(owner=owner, name="課の MQL", query="lifecycle=mql", sharing="team")
    client.force_login(teammate)
    assert (
        client.post(
            reverse("leads:saved_view_update", args=[view.pk]), {"name": "x", "sharing": "private"}
        ).status_code
        == 404
    )
    assert client.post(reverse("leads:saved_view_delete", args=[view.pk])).status_code == 404
    client.force_login(owner)
    client.post(
        reverse("leads:saved_view_update", args=[view.pk]), {"name": "MQL（課）", "sharing": "everyone"}
    )
    view.refresh_from_db()
    assert (view.name, view.sharing, view.team_id) == ("MQL（課）", "everyone", None)
    client.post(reverse("leads:saved_view_delete", args=[view.pk]))
    assert not SavedView.objects.filter(pk=view.pk).exists()


def test_the_list_offers_the_views_the_viewer_may_use(client, owner, teammate, outsider):
    services.saved_view_create(owner=owner, name="課の MQL", query="lifecycle=mql", sharing="team")
    services.saved_view_create(owner=owner, name="自分だけ", query="owner=me")
    client.force_login(teammate)
    page = client.get(reverse("leads:list")).content.decode()
    assert 'href="/leads/?lifecycle=mql"' in page and "課の MQL" in page
    assert "自分だけ" not in page
    client.force_login(outsider)
    assert "課の MQL" not in client.get(reverse("leads:list")).content.decode()


def test_the_views_page_lists_own_views_to_edit_and_shared_ones_to_open(client, owner, teammate):
    services.saved_view_create(owner=owner, name="課の MQL", query="lifecycle=mql", sharing="team")
    client.force_login(teammate)
    page = client.get(reverse("leads:saved_views")).content.decode()
    assert "課の MQL" in page and "saved_view_update" not in page
    assert "/edit" not in page  # nothing of someone else's to rename


# --- The bulk bar and the job form ---------------------------------------------------------------------------


def test_the_list_carries_its_filter_to_the_bulk_form_never_the_matching_ids(client, manager):
    for _ in range(3):
        lead_at("mql")
    client.force_login(manager)
    page = client.get(reverse("leads:list"), {"lifecycle": "mql"}).content.decode()
    assert 'name="query" value="lifecycle=mql"' in page
    assert 'name="all_matching" value="1"' in page and "All 3 matching leads" in page
    assert page.count('name="lead"') == 3  # one checkbox per row shown, no hidden list of ids


def test_the_form_counts_the_matching_leads_and_queues_a_job_with_the_filter(
    client, manager, django_capture_on_commit_callbacks
):
    for _ in range(2):
        lead_at("mql")
    lead_at("lead")
    client.force_login(manager)
    url = reverse("leads:bulk_new")
    first = client.post(url, {"all_matching": "1", "query": "lifecycle=mql&page=2"})
    assert first.status_code == 200 and "All 2 leads matching" in first.content.decode()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(
            url,
            {"run": "1", "all_matching": "1", "query": "lifecycle=mql", "action": "lifecycle",
             "stage": "sql", "reason": "展示会で商談化"},
        )  # fmt: skip
    job = BulkJob.objects.get()
    assert response.status_code == 302 and response["Location"] == job.get_absolute_url()
    assert (job.all_matching, job.query, job.lead_ids) == (True, "lifecycle=mql", [])
    assert len(callbacks) == 1  # the task queued after commit (run in-process here)
    job.refresh_from_db()
    assert (job.status, job.total, job.changed) == ("finished", 2, 2)


def test_a_rep_is_not_offered_erase_and_erase_needs_a_tick(client, owner, admin):
    lead = make_lead(owner=owner)
    client.force_login(owner)
    page = client.post(reverse("leads:bulk_new"), {"lead": [lead.pk]}).content.decode()
    assert 'value="lifecycle"' in page and 'value="erase"' not in page
    refused = client.post(reverse("leads:bulk_new"), {"run": "1", "lead": [lead.pk], "action": "erase"})
    assert refused.status_code == 200 and not BulkJob.objects.exists()
    client.force_login(admin)
    unticked = client.post(reverse("leads:bulk_new"), {"run": "1", "lead": [lead.pk], "action": "erase"})
    assert "Tick this to erase the leads." in unticked.content.decode() and not BulkJob.objects.exists()


def test_a_job_needs_what_its_action_needs(manager):
    lead = make_lead()
    for action, params, field in (
        ("assign", {"owner": None}, "reason"),
        ("lifecycle", {"stage": "nope", "reason": "x"}, "stage"),
        ("consent", {"grant": True, "method": "web_form"}, "wording"),
        ("segment", {"target": ""}, "target"),
    ):
        with pytest.raises(Exception) as error:
            services.bulk_job_create(
                by=manager, action=action, params=params, all_matching=False, lead_ids=[lead.pk]
            )
        assert field in error.value.message_dict, action


# --- Each action -----------------------------------------------------------------------------------------------


def test_assign_all_matching_logs_each_owner_change(manager, owner, teammate):
    matching = [lead_at("mql", owner=owner) for _ in range(3)]
    other = lead_at("lead", owner=owner)
    job = services.bulk_job_create(
        by=manager, action="assign", params={"owner": teammate.pk, "reason": "担当替え"},
        all_matching=True, query="lifecycle=mql",
    )  # fmt: skip
    job = run(job)
    assert (job.status, job.total, job.done, job.changed, job.failed) == ("finished", 3, 3, 3, 0)
    assert set(Lead.objects.filter(owner=teammate).values_list("pk", flat=True)) == {
        lead.pk for lead in matching
    }
    assert Lead.objects.get(pk=other.pk).owner == owner
    logs = OwnerChange.objects.filter(lead__in=matching)
    assert logs.count() == 3 and {(c.from_owner, c.to_owner, c.by, c.reason) for c in logs} == {
        (owner, teammate, manager, "担当替え")
    }


def test_set_lifecycle_writes_a_history_row_per_lead_that_moved(manager):
    leads = [lead_at("mql") for _ in range(2)]
    already = lead_at("disqualified")
    job = services.bulk_job_create(
        by=manager, action="lifecycle", params={"stage": "disqualified", "reason": "競合の社員"},
        all_matching=False, lead_ids=[lead.pk for lead in [*leads, already]],
    )  # fmt: skip
    job = run(job)
    assert (job.done, job.changed) == (3, 2)
    rows = LifecycleChange.objects.filter(to_stage="disqualified")
    assert {(r.lead_id, r.from_stage, r.by, r.reason) for r in rows} == {
        (lead.pk, "mql", manager, "競合の社員") for lead in leads
    }


def test_consent_is_granted_with_its_proof_but_never_for_someone_who_unsubscribed(manager):
    lead = make_lead()
    unsubscribed = make_lead()
    Lead.objects.filter(pk=unsubscribed.pk).update(unsubscribed_at="2026-11-01T00:00:00+09:00")
    job = services.bulk_job_create(
        by=manager, action="consent",
        params={"grant": True, "method": "in_person", "wording": "案内メールの送付に同意します"},
        all_matching=False, lead_ids=[lead.pk, unsubscribed.pk],
    )  # fmt: skip
    job = run(job)
    assert (job.done, job.changed, job.failed) == (1, 1, 1)
    lead.refresh_from_db()
    assert (lead.consent_email, lead.consent_method, lead.consent_wording) == (
        True,
        "in_person",
        "案内メールの送付に同意します",
    )
    assert lead.consent_at is not None
    assert not Lead.objects.get(pk=unsubscribed.pk).consent_email


def test_consent_is_withdrawn_with_a_reason(manager):
    lead = make_lead(consent_email=True, consent_method="web_form", consent_wording="同意")
    job = services.bulk_job_create(
        by=manager, action="consent", params={"grant": False, "reason": "本人から電話で停止依頼"},
        all_matching=False, lead_ids=[lead.pk],
    )  # fmt: skip
    job = run(job)
    assert job.changed == 1 and job.params["reason"] == "本人から電話で停止依頼"
    assert not Lead.objects.get(pk=lead.pk).consent_email


def test_erase_goes_through_the_privacy_erasure(admin):
    leads = [make_lead() for _ in range(2)]
    job = services.bulk_job_create(
        by=admin, action="erase", params={}, all_matching=False, lead_ids=[lead.pk for lead in leads]
    )
    job = run(job)
    assert job.changed == 2 and not Lead.objects.filter(pk__in=[lead.pk for lead in leads]).exists()
    assert set(ErasureRecord.objects.values_list("lead_id", "via", "erased_by")) == {
        (lead.pk, "bulk", admin.pk) for lead in leads
    }


def test_add_to_a_static_list_all_matching(marketer):
    leads = [lead_at("mql") for _ in range(3)]
    lead_at("lead")
    segment = SegmentStaticFactory()
    SegmentMember.objects.create(segment=segment, lead=leads[0])
    job = services.bulk_job_create(
        by=marketer, action="segment", params={"target": segment.pk}, all_matching=True, query="lifecycle=mql"
    )
    job = run(job)
    assert (job.done, job.changed) == (3, 2)
    assert set(SegmentMember.objects.filter(segment=segment).values_list("lead_id", flat=True)) == {
        lead.pk for lead in leads
    }


def test_enrol_in_a_sequence_takes_only_eligible_leads(marketer):
    emailable = make_lead(consent_email=True, consent_method="web_form", consent_wording="同意")
    no_consent = make_lead()
    sequence = sequence_make()
    job = services.bulk_job_create(
        by=marketer, action="sequence", params={"target": sequence.pk}, all_matching=False,
        lead_ids=[emailable.pk, no_consent.pk],
    )  # fmt: skip
    job = run(job)
    assert (job.done, job.changed) == (2, 1)
    assert list(Enrolment.objects.filter(sequence=sequence).values_list("lead_id", flat=True)) == [
        emailable.pk
    ]


def test_a_sequence_without_steps_is_refused_before_queuing(marketer):
    sequence = sequence_make(steps=0)
    with pytest.raises(Exception) as error:
        services.bulk_job_create(
            by=marketer, action="sequence", params={"target": sequence.pk}, all_matching=False,
            lead_ids=[make_lead().pk],
        )  # fmt: skip
    assert "target" in error.value.message_dict


def test_a_list_deleted_while_the_job_waits_fails_the_job_with_its_reason(marketer):
    segment = SegmentStaticFactory()
    job = services.bulk_job_create(
        by=marketer,
        action="segment",
        params={"target": segment.pk},
        all_matching=False,
        lead_ids=[make_lead().pk],
    )
    segment.delete()
    services.bulk_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == "failed" and job.error and job.changed == 0


# --- Visibility ------------------------------------------------------------------------------------------------


def test_a_reps_all_matching_job_touches_only_the_leads_they_see(owner, outsider):
    own = lead_at("mql", owner=owner)
    others = lead_at("mql", owner=outsider)
    job = services.bulk_job_create(
        by=owner,
        action="lifecycle",
        params={"stage": "sql", "reason": "架電済み"},
        all_matching=True,
        query="",
    )
    job = run(job)
    assert job.total == 1
    assert Lead.objects.get(pk=own.pk).lifecycle_stage == "sql"
    assert Lead.objects.get(pk=others.pk).lifecycle_stage == "mql"


def test_a_rep_picking_another_teams_lead_changes_nothing(owner, outsider):
    others = make_lead(owner=outsider)
    job = services.bulk_job_create(
        by=owner, action="lifecycle", params={"stage": "disqualified", "reason": "x"}, all_matching=False,
        lead_ids=[others.pk],
    )  # fmt: skip
    job = run(job)
    assert (job.total, job.changed) == (0, 0)
    assert Lead.objects.get(pk=others.pk).lifecycle_stage == "lead"


def test_a_rep_bulk_assigns_only_their_own_leads_and_only_to_teammates(owner, teammate, outsider):
    mine = make_lead(owner=owner)
    teammates = make_lead(owner=teammate)  # visible to the rep (same team), but not theirs to hand on
    with pytest.raises(Exception) as error:
        services.bulk_job_create(
            by=owner, action="assign", params={"owner": outsider.pk, "reason": "x"}, all_matching=True
        )
    assert "owner" in error.value.message_dict
    job = services.bulk_job_create(
        by=owner, action="assign", params={"owner": teammate.pk, "reason": "休暇のため"}, all_matching=True
    )
    job = run(job)
    assert job.changed == 1
    assert (
        Lead.objects.get(pk=mine.pk).owner == teammate and Lead.objects.get(pk=teammates.pk).owner == teammate
    )
    assert OwnerChange.objects.filter(lead=teammates).count() == 0


def test_marketing_may_not_bulk_assign(marketer):
    with translation.override("en"), pytest.raises(Exception) as error:
        services.bulk_job_create(by=marketer, action="assign", params={"reason": "x"}, all_matching=True)
    assert "You may not change owners." in error.value.messages


# --- Retries and batches ---------------------------------------------------------------------------------------


def test_a_retried_batch_changes_nothing_twice(manager, owner, teammate):
    leads = [make_lead(owner=owner) for _ in range(4)]
    job = services.bulk_job_create(
        by=manager, action="assign", params={"owner": teammate.pk, "reason": "担当替え"}, all_matching=True
    )
    job = run(job, batch_size=3)
    assert (job.done, job.changed) == (4, 4)
    # A redelivered task meets a finished job: nothing happens.
    services.bulk_job_run(job_id=job.pk)
    # The same batches applied again (the cursor wound back, as if a batch's commit were lost after its writes):
    # every lead already has the new owner, so no owner changes and no log rows are written twice.
    BulkJob.objects.filter(pk=job.pk).update(status="running", cursor=0)
    while services.bulk_job_run_batch(job_id=job.pk, batch_size=3):
        pass
    job.refresh_from_db()
    assert job.changed == 4
    assert OwnerChange.objects.filter(lead__in=leads).count() == 4


def test_a_retried_lifecycle_batch_writes_no_second_history_row(manager):
    leads = [make_lead() for _ in range(3)]
    job = services.bulk_job_create(
        by=manager, action="lifecycle", params={"stage": "recycled", "reason": "再育成"}, all_matching=True
    )
    run(job)
    BulkJob.objects.filter(pk=job.pk).update(status="running", cursor=0)
    run(job)
    assert LifecycleChange.objects.filter(lead__in=leads, to_stage="recycled").count() == 3


def test_the_job_moves_through_the_ids_in_batches(manager):
    leads = [make_lead() for _ in range(5)]
    job = services.bulk_job_create(
        by=manager, action="lifecycle", params={"stage": "sql", "reason": "x"}, all_matching=True
    )
    services.bulk_job_start(job_id=job.pk)
    assert services.bulk_job_run_batch(job_id=job.pk, batch_size=2) is True
    job.refresh_from_db()
    assert (job.status, job.cursor, job.done) == ("running", leads[1].pk, 2)
    run(job, batch_size=2)
    job.refresh_from_db()
    assert (job.status, job.done, job.changed) == ("finished", 5, 5)


@pytest.mark.parametrize(
    ("action", "params"),
    [
        ("assign", {"reason": "担当替え"}),
        ("lifecycle", {"stage": "sql", "reason": "x"}),
        ("consent", {"grant": True, "method": "in_person", "wording": "同意"}),
        ("segment", {}),
    ],
)
def test_a_batchs_queries_do_not_grow_with_its_size(action, params, manager, marketer, teammate):
    """A batch of 5 and one of 25 cost the same statements: lock the job, take the ids, lock the rows, one UPDATE,
    one INSERT of the log rows, move the job (plus the savepoint of the transaction)."""
    by = marketer if action == "segment" else manager
    if action == "assign":
        params = {**params, "owner": teammate.pk}
    counts = []
    for size in (5, 25):
        make_lead()
        for _ in range(size):
            lead_at("mql")
        if action == "segment":
            params = {"target": SegmentStaticFactory().pk}
        job = services.bulk_job_create(
            by=by, action=action, params=params, all_matching=True, query="lifecycle=mql"
        )
        services.bulk_job_start(job_id=job.pk)
        with CaptureQueriesContext(connection) as captured:
            services.bulk_job_run_batch(job_id=job.pk, batch_size=size)
        counts.append(len(captured.captured_queries))
        job.refresh_from_db()
        assert job.changed == size, action
        Lead.objects.filter(lifecycle_stage="mql").update(lifecycle_stage="lead")
    assert counts[0] == counts[1]


# --- The job's page and its progress partial -------------------------------------------------------------------


def test_the_progress_partial_polls_while_the_job_runs_and_stops_when_it_is_over(client, manager):
    for _ in range(3):
        make_lead()
    job = services.bulk_job_create(
        by=manager, action="lifecycle", params={"stage": "sql", "reason": "x"}, all_matching=True
    )
    services.bulk_job_start(job_id=job.pk)
    services.bulk_job_run_batch(job_id=job.pk, batch_size=2)
    client.force_login(manager)
    partial = client.get(job.get_absolute_url(), HTTP_HX_REQUEST="true")
    body = partial.content.decode()
    assert (
        partial.status_code == 200
        and "<html" not in body
        and body.lstrip().startswith('<div id="bulk-job-progress"')
    )
    assert 'hx-trigger="every 1s"' in body and "2 done (2 changed), 0 failed, of 3" in body
    assert 'value="67"' in body
    assert partial["Vary"] == "HX-Request" or "HX-Request" in partial["Vary"]
    run(job)
    body = client.get(job.get_absolute_url(), HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in body and "3 done (3 changed), 0 failed, of 3" in body and "Finished" in body


def test_the_job_page_is_its_authors_and_the_admins(client, manager, teammate, admin):
    job = services.bulk_job_create(
        by=manager, action="lifecycle", params={"stage": "sql", "reason": "x"}, all_matching=True, query="q=a"
    )
    client.force_login(teammate)
    assert client.get(job.get_absolute_url()).status_code == 404
    assert "Set lifecycle stage" not in client.get(reverse("leads:bulk_jobs")).content.decode()
    client.force_login(admin)
    assert client.get(job.get_absolute_url()).status_code == 200
    jobs = client.get(reverse("leads:bulk_jobs")).content.decode()
    assert "Set lifecycle stage" in jobs and "q=a" in jobs and str(manager) in jobs


def test_the_job_page_query_count_is_fixed(client, manager, django_assert_num_queries):
    job = services.bulk_job_create(
        by=manager, action="lifecycle", params={"stage": "sql", "reason": "x"}, all_matching=True
    )
    client.force_login(manager)
    # session, the user (with the unread count the layout reads), the job with its author
    with django_assert_num_queries(3):
        assert client.get(job.get_absolute_url(), HTTP_HX_REQUEST="true").status_code == 200
