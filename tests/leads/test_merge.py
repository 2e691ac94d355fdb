"""Duplicates and merge: the queue finds pairs by their normalised keys (and forgets dismissed ones); a merge
moves every row that pointed at the merged lead or company to the survivor, keeps one where only one may be,
leaves a tombstone that redirects (page and API) and that no list, count, KPI or capture sees again; a rep cannot
merge what they cannot see."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from campaigns.models import AttributionCredit
from kpis.periods import Period
from kpis.registry.engine import compute_one
from leads.choices import LifecycleStage, TouchType
from leads.ingest.store import lead_capture
from leads.lifecycle import lead_lifecycle_change
from leads.merge.selectors import duplicates_queue
from leads.merge.services import company_merge, duplicate_dismiss, lead_merge
from leads.models import (
    Company,
    DuplicateDismissal,
    Handoff,
    Lead,
    LifecycleChange,
    MergeRecord,
    OwnerChange,
    Touch,
    Visitor,
)
from leads.owners.services import owner_change
from leads.records.services import company_create
from leads.services import touch_record
from nurture.mail.services import broadcast_create
from nurture.models import BroadcastSend, Enrolment, EnrolmentState, ExitReason, SegmentMember, SendStatus
from pipeline.models import Activity, Deal
from pipeline.services import activity_log, pipeline_ensure_default
from tests.leads.factories import CampaignFactory, HandoffFactory, make_lead
from tests.nurture.factories import MailTemplateFactory, SegmentStaticFactory, sequence_make
from tests.pipeline.factories import make_deal

pytestmark = pytest.mark.django_db

_keys = iter(range(1, 10_000))


@pytest.fixture(autouse=True)
def _english():
    """The reasons are compared in English, whatever language an earlier request left active."""
    with translation.override("en"):
        yield


def _touch(lead: Lead, type: str = TouchType.PAGE_VIEW) -> Touch:
    touch, _created = touch_record(lead=lead, type=type, source="test", idempotency_key=f"m-{next(_keys)}")
    return touch


def _pair(owner=None, **second):
    """Two leads of one person: a card typed in by a rep and an imported row with other spellings."""
    first = make_lead(
        "taro@kansa.example.jp",
        company="株式会社監査テスト",
        name="山田 太郎",
        name_kana="ヤマダ タロウ",
        phone="03-1234-5678",
        owner=owner,
    )
    other = make_lead(
        second.pop("email", "taro+seminar@kansa.example.jp"),
        company=second.pop("company", "（株）監査テスト"),
        name="山田　太郎",
        name_kana="ﾔﾏﾀﾞ ﾀﾛｳ",
        phone="０３−１２３４−５６７８",
        owner=owner,
        **second,
    )
    return first, other


# --- The queue ------------------------------------------------------------------------------------------------


def test_the_queue_scores_a_pair_by_every_signal_it_shares():
    first, other = _pair()
    make_lead("hanako@other.example.jp", name="佐藤 花子", phone="06-0000-1111")
    page = duplicates_queue(kind="lead")
    assert page.paginator.count == 1
    pair = page.object_list[0]
    assert (pair.low_id, pair.high_id) == (first.pk, other.pk)
    assert pair.score == 100  # 60 + 40 + 40 + 30, capped
    assert [str(r) for r in pair.reasons] == [
        "Same email",
        "Same phone",
        "Same name and company",
        "Same kana and company",
    ]


def test_a_shared_switchboard_alone_is_a_weak_candidate():
    make_lead("a@kansa.example.jp", name="山田 太郎", phone="03-1234-5678")
    make_lead("b@kansa.example.jp", name="鈴木 一郎", phone="03-1234-5678")
    (pair,) = duplicates_queue(kind="lead").object_list
    assert pair.score == 40 and [str(r) for r in pair.reasons] == ["Same phone"]


def test_a_dismissed_pair_does_not_come_back(manager):
    first, other = _pair()
    duplicate_dismiss(kind="lead", first_id=other.pk, second_id=first.pk, by=manager)
    duplicate_dismiss(kind="lead", first_id=first.pk, second_id=other.pk, by=manager)  # idempotent
    assert DuplicateDismissal.objects.count() == 1
    assert duplicates_queue(kind="lead").paginator.count == 0


def test_companies_pair_by_normalised_name_and_by_a_work_email_domain(owner):
    kansa = company_create(by=owner, name="株式会社監査テスト")
    kakko = company_create(by=owner, name="（株）監査テスト")
    with_domain = company_create(by=owner, name="Kansa Holdings", domain="kansa.example.jp")
    make_lead("taro@kansa.example.jp", company=kansa)  # kansa's domain, told by its contact's work email
    make_lead("jiro@gmail.com", company=kakko)  # free mail tells nothing
    pairs = {(p.low_id, p.high_id): p for p in duplicates_queue(kind="company").object_list}
    assert set(pairs) == {(kansa.pk, kakko.pk), (kansa.pk, with_domain.pk)}
    assert [str(r) for r in pairs[kansa.pk, kakko.pk].reasons] == ["Same name"]
    assert [str(r) for r in pairs[kansa.pk, with_domain.pk].reasons] == ["Same domain"]


def test_two_corporate_numbers_are_two_companies(owner):
    company_create(by=owner, name="株式会社監査テスト", corporate_number="7000012050002")
    company_create(by=owner, name="（株）監査テスト", corporate_number="5010401067252")
    assert duplicates_queue(kind="company").paginator.count == 0


def test_the_queue_page_reads_a_fixed_number_of_queries(client, manager, django_assert_num_queries):
    client.force_login(manager)
    url = reverse("leads:duplicates")
    _pair()
    client.get(url)
    # session, the user (with the header's team and notification count), the count, the page of pairs, its leads
    with django_assert_num_queries(5):
        response = client.get(url)
    assert response.status_code == 200 and "山田 太郎" in response.content.decode()
    make_lead("taro@sato.example.jp", name="佐藤 次郎", phone="090-1111-2222")
    make_lead("jiro@sato.example.jp", name="佐藤 次郎", phone="090-1111-2222", company="佐藤工業")
    with django_assert_num_queries(5):
        response = client.get(url)
    assert response.content.decode().count('id="pair-') == 2


def test_the_queue_is_not_for_reps(client, owner):
    client.force_login(owner)
    assert client.get(reverse("leads:duplicates")).status_code == 403


def test_dismissing_from_the_page_removes_the_row(client, marketer):
    first, other = _pair()
    client.force_login(marketer)
    response = client.post(
        reverse("leads:duplicate_dismiss"),
        {"kind": "lead", "low": first.pk, "high": other.pk},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200 and response.content == b""
    assert DuplicateDismissal.objects.filter(low_id=first.pk, high_id=other.pk).exists()


# --- Merging leads --------------------------------------------------------------------------------------------


def _counts(lead: Lead) -> dict[str, int]:
    return {
        "touches": Touch.objects.filter(lead=lead).count(),
        "visitors": Visitor.objects.filter(lead=lead).count(),
        "handoffs": Handoff.objects.filter(lead=lead).count(),
        "lifecycle": LifecycleChange.objects.filter(lead=lead).count(),
        "owner_changes": OwnerChange.objects.filter(lead=lead).count(),
        "deals": Deal.objects.filter(contact=lead).count(),
        "activities": Activity.objects.filter(lead=lead).count(),
        "segment_members": SegmentMember.objects.filter(lead=lead).count(),
        "enrolments": Enrolment.objects.filter(lead=lead).count(),
        "broadcast_sends": BroadcastSend.objects.filter(lead=lead).count(),
        "attribution": AttributionCredit.objects.filter(lead=lead).count(),
    }


def _broadcast(by, segment):
    return broadcast_create(
        by=by,
        name="月刊ニュース",
        template=MailTemplateFactory(),
        segment=segment,
        campaign=CampaignFactory(),
    )


def test_a_merge_moves_every_related_row_to_the_survivor(manager, owner, teammate):
    pipeline_ensure_default()
    survivor, merged = _pair(owner=owner)
    for lead in (survivor, merged):
        _touch(lead)
    _touch(merged, TouchType.FORM_SUBMIT)
    Visitor.objects.create(visitor_id="v-merged", lead=merged)
    HandoffFactory(lead=survivor, state=Handoff.State.ASSIGNED)
    HandoffFactory(lead=merged, state=Handoff.State.ASSIGNED)
    lead_lifecycle_change(lead=merged, to=LifecycleStage.MQL, by=manager, reason="テスト")
    owner_change(record=merged, owner=teammate, by=manager, reason="担当替え")
    make_deal(owner=owner, contact=merged, company=merged.company)
    activity_log(by=owner, type="call", subject="初回架電", lead=merged)
    both_list, own_list = SegmentStaticFactory(), SegmentStaticFactory()
    SegmentMember.objects.create(segment=both_list, lead=survivor)
    SegmentMember.objects.create(segment=both_list, lead=merged)
    SegmentMember.objects.create(segment=own_list, lead=merged)
    both_seq, own_seq = sequence_make(), sequence_make()
    now = timezone.now()
    for lead, seq in ((survivor, both_seq), (merged, both_seq), (merged, own_seq)):
        Enrolment.objects.create(sequence=seq, lead=lead, source="manual", enrolled_at=now)
    both_news, own_news = _broadcast(manager, both_list), _broadcast(manager, own_list)
    for lead, news in ((survivor, both_news), (merged, both_news), (merged, own_news)):
        BroadcastSend.objects.create(broadcast=news, lead=lead)
    AttributionCredit.objects.create(kind="lead", lead=merged, date=dt.date(2026, 4, 1))

    before = {"survivor": _counts(survivor), "merged": _counts(merged)}
    assert all(before["merged"].values())  # every table has a row to move

    lead_merge(survivor_id=survivor.pk, merged_id=merged.pk, taken={"phone": "merged"}, by=manager)

    after = {"survivor": _counts(survivor), "merged": _counts(merged)}
    total = {k: before["survivor"][k] + before["merged"][k] for k in before["survivor"]}
    # One place per list; the ledger row of a broadcast both had stays with the merged address (its record);
    # the credits are rebuilt for the survivor by the attribution sweep.
    assert after["survivor"] == {
        **total,
        "segment_members": total["segment_members"] - 1,
        "broadcast_sends": total["broadcast_sends"] - 1,
        "attribution": before["survivor"]["attribution"],
    }
    assert after["merged"] == {k: (1 if k == "broadcast_sends" else 0) for k in total}
    # Where only one may be: one open handoff, one active enrolment per sequence, one pending send per broadcast.
    assert Handoff.objects.filter(lead=survivor, state__in=Handoff.OPEN_STATES).count() == 1
    assert Handoff.objects.filter(lead=survivor, reject_reason=Handoff.RejectReason.DUPLICATE).count() == 1
    assert (
        Enrolment.objects.filter(lead=survivor, sequence=both_seq, state=EnrolmentState.ACTIVE).count() == 1
    )
    assert (
        Enrolment.objects.get(lead=survivor, sequence=both_seq, state="exited").exit_reason
        == ExitReason.MERGED
    )
    assert BroadcastSend.objects.get(lead=merged).status == SendStatus.SKIPPED

    survivor.refresh_from_db()
    tombstone = Lead.all_objects.get(pk=merged.pk)
    assert survivor.phone == "０３−１２３４−５６７８" and survivor.email == "taro@kansa.example.jp"
    assert tombstone.merged_into == survivor and tombstone.total_score == 0
    record = MergeRecord.objects.get(lead=survivor)
    assert record.merged_lead_id == merged.pk and record.by == manager
    assert record.fields_taken["phone"] == "merged" and record.fields_taken["name"] == "survivor"
    assert record.moved["touches"] == before["merged"]["touches"] and record.moved["deals"] == 1


def test_the_survivor_can_take_the_merged_address(manager):
    survivor, merged = _pair()
    lead_merge(survivor_id=survivor.pk, merged_id=merged.pk, taken={"email": "merged"}, by=manager)
    survivor.refresh_from_db()
    assert survivor.email == "taro+seminar@kansa.example.jp"
    assert (
        Lead.all_objects.get(pk=merged.pk).email == "taro@kansa.example.jp"
    )  # either address finds the person
    lead, created = lead_capture(email="TARO@kansa.example.jp", source="api", name="山田 太郎")
    assert (lead.pk, created) == (survivor.pk, False)


def test_an_opt_out_on_either_address_holds_after_the_merge(manager):
    survivor, merged = _pair(consent_email=True)
    Lead.objects.filter(pk=merged.pk).update(unsubscribed_at=timezone.now(), consent_email=False)
    lead_merge(survivor_id=survivor.pk, merged_id=merged.pk, taken={}, by=manager)
    survivor.refresh_from_db()
    assert survivor.unsubscribed_at is not None and not survivor.consent_email


def test_a_lead_merged_away_cannot_be_merged_again(manager):
    survivor, merged = _pair()
    lead_merge(survivor_id=survivor.pk, merged_id=merged.pk, taken={}, by=manager)
    with pytest.raises(Exception, match="merged or removed meanwhile"):
        lead_merge(survivor_id=merged.pk, merged_id=survivor.pk, taken={}, by=manager)


def test_merging_into_a_lead_that_is_merged_later_keeps_one_hop(manager):
    first, second = _pair()
    third = make_lead("yamada@kansa.example.jp", name="山田 太郎", company="株式会社監査テスト")
    lead_merge(survivor_id=second.pk, merged_id=first.pk, taken={}, by=manager)
    lead_merge(survivor_id=third.pk, merged_id=second.pk, taken={}, by=manager)
    assert set(Lead.all_objects.filter(merged_into=third).values_list("pk", flat=True)) == {
        first.pk,
        second.pk,
    }
    assert MergeRecord.objects.filter(lead=third).count() == 2


# --- Hidden everywhere, reachable by its old address --------------------------------------------------------


def test_a_merged_lead_leaves_lists_counts_and_kpis(client, manager):
    survivor, merged = _pair()
    period = Period.week_of(timezone.localdate())
    assert compute_one(period)["leads_acquired"] == 2
    lead_merge(survivor_id=survivor.pk, merged_id=merged.pk, taken={}, by=manager)
    assert Lead.objects.count() == 1 and Lead.all_objects.count() == 2
    assert compute_one(period)["leads_acquired"] == 1
    client.force_login(manager)
    listing = client.get(reverse("leads:list")).content.decode()
    assert f"/leads/{survivor.pk}/" in listing and f"/leads/{merged.pk}/" not in listing
    assert duplicates_queue(kind="lead").paginator.count == 0


def test_a_merge_refreshes_a_cached_past_periods_count(manager):
    survivor, merged = _pair()
    last_month = timezone.now() - dt.timedelta(days=40)
    Lead.objects.filter(pk__in=[survivor.pk, merged.pk]).update(created_at=last_month)
    period = Period.week_of(timezone.localdate(last_month))
    assert compute_one(period)["leads_acquired"] == 2  # now cached: the week is over
    assert compute_one(period)["leads_acquired"] == 2
    lead_merge(survivor_id=survivor.pk, merged_id=merged.pk, taken={}, by=manager)
    assert compute_one(period)["leads_acquired"] == 1


def test_the_merged_leads_page_redirects_to_the_survivor(client, manager):
    survivor, merged = _pair()
    lead_merge(survivor_id=survivor.pk, merged_id=merged.pk, taken={}, by=manager)
    client.force_login(manager)
    response = client.get(reverse("leads:detail", args=[merged.pk]))
    assert response.status_code == 302 and response["Location"] == survivor.get_absolute_url()
    page = client.get(survivor.get_absolute_url()).content.decode()
    assert 'id="merges"' in page and manager.display_name in page


def test_the_merged_leads_api_id_redirects_to_the_survivor(client, api, manager):
    survivor, merged = _pair()
    lead_merge(survivor_id=survivor.pk, merged_id=merged.pk, taken={}, by=manager)
    response = api.get(f"/api/v1/leads/{merged.pk}")
    assert response.status_code == 308 and response["Location"] == f"/api/v1/leads/{survivor.pk}"
    assert api.get(response["Location"]).json()["id"] == survivor.pk


def test_events_for_the_merged_address_land_on_the_survivor(manager):
    from leads.ingest.schema import EventIn
    from leads.ingest.store import events_ingest

    survivor, merged = _pair()
    lead_merge(survivor_id=survivor.pk, merged_id=merged.pk, taken={}, by=manager)
    event = EventIn(
        id="after-merge", type="page_view", email="taro+seminar@kansa.example.jp", url="https://x.jp/"
    )
    events_ingest(events=[event], source="test", lead_source="api", authenticated=True)
    assert Touch.objects.get(idempotency_key="after-merge").lead_id == survivor.pk


def test_the_merged_leads_unsubscribe_link_and_tracking_id_reach_the_survivor(client, manager):
    from leads.ingest.schema import EventIn
    from leads.ingest.store import events_ingest
    from leads.privacy.services import unsubscribe_path

    survivor, merged = _pair(consent_email=True)
    link = unsubscribe_path(lead_id=merged.pk)  # in an email sent before the merge
    lead_merge(survivor_id=survivor.pk, merged_id=merged.pk, taken={}, by=manager)
    opened = EventIn(id="open-after-merge", type="email_open", lead_id=merged.pk)
    events_ingest(events=[opened], source="test", lead_source="api", authenticated=True)
    assert Touch.objects.get(idempotency_key="open-after-merge").lead_id == survivor.pk
    assert client.post(link, {"List-Unsubscribe": "One-Click"}).status_code == 200
    survivor.refresh_from_db()
    assert survivor.unsubscribed_at is not None and not survivor.consent_email


def test_erasing_the_survivor_erases_the_merged_record_and_its_spellings(manager, owner):
    from leads.privacy.services import lead_erase

    pipeline_ensure_default()
    survivor, merged = _pair()
    other_deal = make_deal(owner=owner, next_step="taro+seminar@kansa.example.jp に再送")
    lead_merge(survivor_id=survivor.pk, merged_id=merged.pk, taken={}, by=manager)
    lead_erase(lead=Lead.objects.get(pk=survivor.pk), by=manager)
    assert not Lead.all_objects.filter(pk__in=[survivor.pk, merged.pk]).exists()
    other_deal.refresh_from_db()
    assert "taro+seminar" not in other_deal.next_step


# --- Who may merge -------------------------------------------------------------------------------------------


def test_a_rep_cannot_merge_leads_they_cannot_see(client, owner, outsider):
    survivor, merged = _pair(owner=owner)
    client.force_login(outsider)
    url = reverse("leads:lead_merge", args=[survivor.pk, merged.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"name": "merged"}).status_code == 404
    assert Lead.objects.count() == 2


def test_a_rep_merges_their_own_leads_from_the_merge_screen(client, owner):
    survivor, merged = _pair(owner=owner)
    client.force_login(owner)
    url = reverse("leads:lead_merge", args=[survivor.pk, merged.pk])
    page = client.get(url).content.decode()
    assert 'name="phone" value="merged"' in page
    response = client.post(url, {"name": "survivor", "phone": "merged"})
    assert response.status_code == 302 and response["Location"] == survivor.get_absolute_url()
    assert client.post(url, {}).status_code == 404  # the merged lead is gone from view


def test_a_second_merge_of_the_same_pair_answers_409(client, manager):
    survivor, merged = _pair()
    client.force_login(manager)
    url = reverse("leads:lead_merge", args=[survivor.pk, merged.pk])
    page = client.get(url)
    assert page.status_code == 200
    lead_merge(survivor_id=merged.pk, merged_id=survivor.pk, taken={}, by=manager)  # the other way, meanwhile
    back = reverse("leads:lead_merge", args=[merged.pk, survivor.pk])
    assert client.post(back, {}).status_code == 404  # the survivor of the other merge alone is left to see


# --- Merging companies ----------------------------------------------------------------------------------------


def test_a_company_merge_moves_contacts_deals_and_subsidiaries(manager, owner):
    pipeline_ensure_default()
    survivor = company_create(by=owner, name="株式会社監査テスト", domain="kansa.example.jp")
    merged = company_create(by=owner, name="（株）監査テスト", corporate_number="7000012050002")
    child = company_create(by=owner, name="監査テスト西日本", parent=merged)
    make_lead("a@kansa.example.jp", company=survivor)
    make_lead("b@kansa.example.jp", company=merged)
    make_lead("c@kansa.example.jp", company=merged)
    make_deal(owner=owner, company=merged)
    before = Lead.objects.filter(company=survivor).count() + Lead.objects.filter(company=merged).count()

    company_merge(
        survivor_id=survivor.pk, merged_id=merged.pk, taken={"corporate_number": "merged"}, by=manager
    )

    survivor.refresh_from_db()
    child.refresh_from_db()
    assert Lead.objects.filter(company=survivor).count() == before == 3
    assert not Lead.all_objects.filter(company=merged).exists()
    assert (
        Deal.objects.filter(company=survivor).count() == 1
        and not Deal.objects.filter(company=merged).exists()
    )
    assert child.parent_id == survivor.pk
    assert survivor.corporate_number == "7000012050002" and survivor.domain == "kansa.example.jp"
    tombstone = Company.all_objects.get(pk=merged.pk)
    assert tombstone.merged_into_id == survivor.pk and tombstone.corporate_number == ""
    assert Company.objects.count() == 2  # the survivor and the subsidiary
    assert MergeRecord.objects.get(company=survivor).moved["deals"] == 1


def test_the_merged_companys_page_redirects_and_its_name_finds_the_survivor(client, manager, owner):
    survivor = company_create(by=owner, name="株式会社監査テスト")
    merged = company_create(by=owner, name="（株）監査テスト", corporate_number="7000012050002")
    client.force_login(manager)
    queue = client.get(reverse("leads:duplicates") + "?kind=company").content.decode()
    assert f'id="pair-{survivor.pk}-{merged.pk}"' in queue
    screen = client.get(reverse("leads:company_merge", args=[survivor.pk, merged.pk])).content.decode()
    assert 'name="corporate_number" value="merged" checked' in screen and "（株）監査テスト" in screen
    response = client.post(
        reverse("leads:company_merge", args=[survivor.pk, merged.pk]), {"name": "survivor"}
    )
    assert response.status_code == 302
    response = client.get(reverse("leads:company_detail", args=[merged.pk]))
    assert response.status_code == 302 and response["Location"] == survivor.get_absolute_url()
    lead, _created = lead_capture(email="new@kansa.example.jp", source="api", company="（株）監査テスト")
    assert lead.company_id == survivor.pk


def test_the_admin_shows_a_merge_but_never_edits_it(client, manager):
    from tests.salesmarketing.factories import UserFactory

    survivor, merged = _pair()
    lead_merge(survivor_id=survivor.pk, merged_id=merged.pk, taken={}, by=manager)
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    page = client.get(reverse("admin:leads_lead_change", args=[survivor.pk]))
    assert page.status_code == 200 and 'name="merged_into"' not in page.content.decode()
