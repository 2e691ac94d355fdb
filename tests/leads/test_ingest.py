"""events_ingest: per-event validation, idempotency, lead and company upserts, visitor stitching, campaign links,
roll-ups, and a query count that does not grow with the batch."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection, connections
from django.utils import timezone

from leads.choices import LeadSource, Region
from leads.ingest import MAX_EVENTS_PER_BATCH, events_ingest
from leads.models import Company, Lead, Touch, Visitor
from tests.conftest import require_or_skip
from tests.leads.factories import CampaignFactory, make_lead

pytestmark = pytest.mark.django_db

SOURCE = "api:crm"


def ev(n, **fields):
    return {"id": f"e{n}", "type": "page_view", "visitor_id": "v-1", **fields}


def ingest(events, source=SOURCE, **kwargs):
    return events_ingest(events=events, source=source, **kwargs)


# --- Validation: each event on its own -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"type": "page_view", "visitor_id": "v"}, "id"),
        ({"id": "", "type": "page_view", "visitor_id": "v"}, "id"),
        ({"id": "x" * 129, "type": "page_view", "visitor_id": "v"}, "id"),
        ({"id": 12, "type": "page_view", "visitor_id": "v"}, "id"),
        ({"id": "a", "visitor_id": "v"}, "type"),
        ({"id": "a", "type": "teleport", "visitor_id": "v"}, "type"),
        ({"id": "a", "type": ["page_view"], "visitor_id": "v"}, "type"),
        ({"id": "a", "type": "page_view"}, "__all__"),
        ({"id": "a", "type": "page_view", "email": "not-an-email"}, "email"),
        ({"id": "a", "type": "page_view", "email": "a@example.jp", "lead_id": 1}, "__all__"),
        ({"id": "a", "type": "page_view", "lead_id": "abc"}, "lead_id"),
        ({"id": "a", "type": "page_view", "lead_id": -3}, "lead_id"),
        ({"id": "a", "type": "page_view", "visitor_id": "has space"}, "visitor_id"),
        ({"id": "a", "type": "page_view", "visitor_id": "v" * 65}, "visitor_id"),
        ({"id": "a", "type": "page_view", "visitor_id": "v", "occurred_at": "yesterday"}, "occurred_at"),
        (
            {"id": "a", "type": "page_view", "visitor_id": "v", "occurred_at": "2999-01-01T00:00:00Z"},
            "occurred_at",
        ),
        (
            {"id": "a", "type": "page_view", "visitor_id": "v", "occurred_at": "1900-01-01T00:00:00"},
            "occurred_at",
        ),
        ({"id": "a", "type": "page_view", "visitor_id": "v", "url": "u" * 2049}, "url"),
        ({"id": "a", "type": "page_view", "visitor_id": "v", "utm_campaign": "c" * 101}, "utm_campaign"),
        ({"id": "a", "type": "page_view", "visitor_id": "v", "properties": [1, 2]}, "properties"),
        (
            {"id": "a", "type": "page_view", "visitor_id": "v", "properties": {"x": "y" * 20_000}},
            "properties",
        ),
        (
            {"id": "a", "type": "page_view", "visitor_id": "v", "properties": {"n": float("nan")}},
            "properties",
        ),
        (
            {
                "id": "a",
                "type": "page_view",
                "visitor_id": "v",
                "properties": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": {"j": 1}}}}}}}}}},
            },
            "properties",
        ),
        ({"id": "a", "type": "page_view", "visitor_id": "v", "properties": {"k": "nul\x00"}}, "properties"),
        ({"id": "a", "type": "page_view", "visitor_id": "v", "url": "https://x.jp/\ud800"}, "url"),
        ({"id": "a\x00", "type": "page_view", "visitor_id": "v"}, "id"),
        ({"id": "a", "type": "page_view", "visitor_id": "v", "name": "山田"}, "__all__"),
        (
            {"id": "a", "type": "page_view", "email": "a@example.jp", "company_domain": "not a domain"},
            "company_domain",
        ),
        ({"id": "a", "type": "page_view", "email": "a@example.jp", "industry": "farming"}, "industry"),
        ({"id": "a", "type": "page_view", "email": "a@example.jp", "employee_count": -1}, "employee_count"),
        (
            {"id": "a", "type": "page_view", "email": "a@example.jp", "consent_email": "maybe"},
            "consent_email",
        ),
        ({"id": "a", "type": "page_view", "visitor_id": "v", "utm_campagin": "typo"}, "utm_campagin"),
        ("not an object", "__all__"),
        (None, "__all__"),
        ([{"id": "a"}], "__all__"),
    ],
)
def test_it_rejects_a_bad_event_by_index_and_stores_the_good_ones(event, field):
    result = ingest([ev(1), event, ev(3)])

    assert result.accepted == 2
    assert [r.index for r in result.rejected] == [1]
    assert field in result.rejected[0].errors, result.rejected[0].errors
    assert all(isinstance(m, str) and m for m in result.rejected[0].errors[field])
    assert set(Touch.objects.values_list("idempotency_key", flat=True)) == {"e1", "e3"}


def test_a_batch_of_only_bad_events_stores_nothing():
    result = ingest([{"id": "a"}, {"type": "page_view"}, 42])

    assert (result.accepted, result.duplicates, len(result.rejected)) == (0, 0, 3)
    assert not Touch.objects.exists()


def test_more_than_a_thousand_events_is_refused_whole():
    with pytest.raises(ValueError, match="1000"):
        ingest([ev(n) for n in range(MAX_EVENTS_PER_BATCH + 1)])
    assert not Touch.objects.exists()


def test_naive_times_are_tokyo_time_and_offsets_are_kept():
    ingest(
        [
            ev(1, occurred_at="2026-04-01T10:30:00"),
            ev(2, occurred_at="2026-04-01T10:30:00+00:00"),
        ]
    )
    times = dict(Touch.objects.values_list("idempotency_key", "occurred_at"))
    assert times["e1"] == dt.datetime(2026, 4, 1, 1, 30, tzinfo=dt.UTC)
    assert times["e2"] == dt.datetime(2026, 4, 1, 10, 30, tzinfo=dt.UTC)


def test_a_slightly_fast_client_clock_is_accepted():
    soon = (timezone.now() + dt.timedelta(minutes=5)).isoformat()
    assert ingest([ev(1, occurred_at=soon)]).accepted == 1


# --- Idempotency ----------------------------------------------------------------------------------------


def test_a_repeated_id_in_one_batch_is_a_duplicate_and_the_first_wins():
    result = ingest(
        [
            {"id": "x", "type": "form_submit", "email": "first@example.jp"},
            {"id": "x", "type": "form_submit", "email": "second@example.jp"},
        ]
    )

    assert (result.accepted, result.duplicates) == (1, 1)
    assert list(Lead.objects.values_list("email", flat=True)) == ["first@example.jp"]


def test_a_replayed_batch_changes_nothing():
    batch = [
        {
            "id": "a",
            "type": "form_submit",
            "email": "taro@example.jp",
            "name": "山田 太郎",
            "visitor_id": "v9",
        },
        {"id": "b", "type": "page_view", "visitor_id": "v9", "url": "https://x.jp/pricing"},
    ]
    ingest(batch)
    lead = Lead.objects.get()
    Lead.objects.filter(pk=lead.pk).update(name="山田 太郎 (edited by sales)")
    before = (Touch.objects.count(), Visitor.objects.count(), Lead.objects.get().updated_at)

    again = ingest(batch)

    assert (again.accepted, again.duplicates, again.rejected) == (0, 2, [])
    assert (Touch.objects.count(), Visitor.objects.count(), Lead.objects.get().updated_at) == before
    assert Lead.objects.get().name == "山田 太郎 (edited by sales)"


def test_ids_are_unique_per_source_not_globally():
    ingest([ev(1)], source="api:crm")
    result = ingest([ev(1)], source="api:website")
    assert result.accepted == 1
    assert Touch.objects.count() == 2


def test_a_replay_with_a_bad_twin_counts_the_good_one_once():
    ingest([ev(1)])
    result = ingest([ev(1), {"id": "e1", "type": "nope"}, ev(2)])
    assert (result.accepted, result.duplicates, [r.index for r in result.rejected]) == (1, 1, [1])


# --- Leads and companies --------------------------------------------------------------------------------


def test_it_creates_and_fills_leads_by_email_case_insensitively():
    existing = make_lead("hanako@example.jp", name="花子", title="")
    result = ingest(
        [
            {
                "id": "1",
                "type": "content_download",
                "email": " Hanako@Example.JP ",
                "title": "部長",
                "name": "",
            },
            {
                "id": "2",
                "type": "form_submit",
                "email": "new@example.jp",
                "name": "新規 一郎",
                "phone": "03-0000-0000",
            },
        ],
        lead_source=LeadSource.API,
    )

    assert result.accepted == 2 and result.leads_created == 1
    existing.refresh_from_db()
    assert (existing.name, existing.title) == ("花子", "部長")  # an empty value never erases one
    new = Lead.objects.get(email="new@example.jp")
    assert (new.name, new.phone, new.source) == ("新規 一郎", "03-0000-0000", LeadSource.API)


@pytest.mark.parametrize("authenticated", [False, True])
def test_only_an_authenticated_source_replaces_known_profile_values(authenticated):
    """An API key or a user's import vouches for its values; the public form and tracking do not, so their
    values only fill what is empty and are kept on the touch for a person to review."""
    company = Company.objects.create(name="株式会社既存", domain="kizon.co.jp")
    lead = make_lead("known@kizon.co.jp", name="既存 太郎", title="課長", company=company)

    ingest(
        [
            {
                "id": "1",
                "type": "form_submit",
                "email": "known@kizon.co.jp",
                "name": "別人 次郎",
                "title": "社長",
                "department": "営業部",
                "company": "株式会社別会社",
                "company_domain": "betsu.example.jp",
            }
        ],
        authenticated=authenticated,
    )

    lead.refresh_from_db()
    if authenticated:
        assert (lead.name, lead.title, lead.company.name) == ("別人 次郎", "社長", "株式会社別会社")
        assert "submitted" not in Touch.objects.get().properties
    else:
        assert (lead.name, lead.title, lead.company) == ("既存 太郎", "課長", company)
        assert not Company.objects.filter(domain="betsu.example.jp").exists()
        assert Touch.objects.get().properties["submitted"]["title"] == "社長"
    assert lead.department == "営業部"  # an empty field is filled either way


def test_it_resolves_companies_by_domain_or_name_and_fills_what_they_lack():
    known = Company.objects.create(name="株式会社既存", domain="kizon.co.jp")
    ingest(
        [
            {
                "id": "1",
                "type": "form_submit",
                "email": "a@kizon.co.jp",
                "company": "既存 (別表記)",
                "company_domain": "https://www.Kizon.co.jp/about",
                "employee_count": 300,
                "prefecture": "大阪府",
            },
            {
                "id": "2",
                "type": "form_submit",
                "email": "b@shinki.jp",
                "company": "株式会社新規",
                "industry": "it",
            },
            {"id": "3", "type": "form_submit", "email": "c@shinki.jp", "company": "株式会社新規"},
        ]
    )

    known.refresh_from_db()
    assert (known.name, known.employee_count, known.prefecture, known.region) == (
        "株式会社既存",
        300,
        "大阪府",
        Region.KINKI,
    )
    assert Lead.objects.get(email="a@kizon.co.jp").company == known
    new = Company.objects.get(name="株式会社新規")
    assert new.industry == "it"
    assert set(new.leads.values_list("email", flat=True)) == {"b@shinki.jp", "c@shinki.jp"}
    assert Company.objects.count() == 2


def test_an_unknown_lead_id_is_rejected_and_a_known_one_is_used():
    lead = make_lead("known@example.jp")
    result = ingest(
        [
            {"id": "1", "type": "email_open", "lead_id": lead.pk},
            {"id": "2", "type": "email_open", "lead_id": 999_999},
        ]
    )

    assert result.accepted == 1
    assert result.rejected[0].index == 1 and "lead_id" in result.rejected[0].errors
    assert Touch.objects.get().lead == lead


def test_unsubscribe_withdraws_consent_and_keeps_the_first_time():
    lead = make_lead("bye@example.jp", consent_email=True)
    ingest(
        [{"id": "u1", "type": "unsubscribe", "lead_id": lead.pk, "occurred_at": "2026-03-01T09:00:00+09:00"}]
    )
    ingest([{"id": "u2", "type": "unsubscribe", "email": "bye@example.jp"}])

    lead.refresh_from_db()
    assert lead.consent_email is False
    assert lead.unsubscribed_at == dt.datetime(2026, 3, 1, 0, 0, tzinfo=dt.UTC)


# --- Visitors -------------------------------------------------------------------------------------------


def test_identifying_a_visitor_attaches_their_earlier_anonymous_touches():
    ingest(
        [
            ev(1, url="https://x.jp/"),
            ev(2, url="https://x.jp/pricing"),
            {"id": "o", "type": "page_view", "visitor_id": "other"},
        ]
    )
    assert Touch.objects.filter(lead__isnull=True).count() == 3

    ingest([{"id": "f", "type": "form_submit", "email": "taro@example.jp", "visitor_id": "v-1"}])

    lead = Lead.objects.get()
    assert set(lead.touches.values_list("idempotency_key", flat=True)) == {"e1", "e2", "f"}
    assert Touch.objects.get(idempotency_key="o").lead is None
    visitor = Visitor.objects.get(visitor_id="v-1")
    assert visitor.lead == lead and visitor.identified_at is not None


def test_later_events_of_an_identified_visitor_go_to_their_lead():
    ingest([{"id": "f", "type": "form_submit", "email": "taro@example.jp", "visitor_id": "v-1"}])
    ingest([ev(5, url="https://x.jp/case/acme")])

    assert Touch.objects.get(idempotency_key="e5").lead == Lead.objects.get()


def test_anonymous_events_before_the_identifying_one_in_the_same_batch_are_attached():
    ingest([ev(1), {"id": "f", "type": "form_submit", "email": "taro@example.jp", "visitor_id": "v-1"}])
    assert not Touch.objects.filter(lead__isnull=True).exists()


# --- Campaigns and roll-ups -----------------------------------------------------------------------------


def test_utm_campaign_links_touches_and_sets_the_first_touch_campaign_once():
    webinar = CampaignFactory(utm_campaign="webinar-2026")
    ad = CampaignFactory(utm_campaign="ad-spring")
    ingest(
        [
            {
                "id": "1",
                "type": "webinar_registered",
                "email": "a@example.jp",
                "utm_campaign": "webinar-2026",
                "occurred_at": "2026-04-02T10:00:00+09:00",
            },
            {
                "id": "2",
                "type": "ad_click",
                "email": "a@example.jp",
                "utm_campaign": "unknown-code",
                "occurred_at": "2026-04-03T10:00:00+09:00",
            },
        ]
    )
    ingest([{"id": "3", "type": "ad_click", "email": "a@example.jp", "utm_campaign": "ad-spring"}])

    lead = Lead.objects.get()
    assert dict(Touch.objects.values_list("idempotency_key", "campaign")) == {
        "1": webinar.pk,
        "2": None,
        "3": ad.pk,
    }
    assert lead.first_touch_campaign == webinar


def test_stitched_anonymous_ad_click_becomes_the_first_touch_campaign():
    ad = CampaignFactory(utm_campaign="ad-1")
    ingest([ev(1, utm_campaign="ad-1", occurred_at="2026-01-01T10:00:00+09:00")])
    ingest([{"id": "f", "type": "form_submit", "email": "x@example.jp", "visitor_id": "v-1"}])

    assert Lead.objects.get().first_touch_campaign == ad


def test_the_default_campaign_applies_when_no_utm_matches():
    form_campaign = CampaignFactory(utm_campaign="form-camp")
    other = CampaignFactory(utm_campaign="other")
    ingest(
        [
            {"id": "1", "type": "form_submit", "email": "a@example.jp"},
            {"id": "2", "type": "form_submit", "email": "b@example.jp", "utm_campaign": "other"},
        ],
        campaign_id=form_campaign.pk,
    )
    assert dict(Touch.objects.values_list("idempotency_key", "campaign")) == {
        "1": form_campaign.pk,
        "2": other.pk,
    }


def test_last_touch_at_keeps_the_latest_when_older_events_arrive_late(django_capture_on_commit_callbacks):
    """The worker that follows each batch sets it (ingestion leaves the lead's row alone for a plain touch)."""
    with django_capture_on_commit_callbacks(execute=True):
        ingest(
            [
                {
                    "id": "new",
                    "type": "email_open",
                    "email": "a@example.jp",
                    "occurred_at": "2026-05-01T10:00:00+09:00",
                }
            ]
        )
    assert Lead.objects.get().last_touch_at == dt.datetime(2026, 5, 1, 1, 0, tzinfo=dt.UTC)
    updated_at = Lead.objects.get().updated_at
    with django_capture_on_commit_callbacks(execute=True):
        ingest(
            [
                {
                    "id": "old",
                    "type": "email_open",
                    "email": "a@example.jp",
                    "occurred_at": "2026-01-01T10:00:00+09:00",
                }
            ]
        )
    lead = Lead.objects.get()
    assert lead.last_touch_at == dt.datetime(2026, 5, 1, 1, 0, tzinfo=dt.UTC)
    assert lead.updated_at == updated_at  # a touch without profile values does not rewrite the lead here


def test_the_worker_is_scheduled_after_commit_for_the_touched_leads(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        result = ingest(
            [{"id": "1", "type": "form_submit", "email": "a@example.jp"}, ev(2, visitor_id="anon")]
        )
    assert result.lead_ids == [Lead.objects.get().pk]
    # One task for the batch's leads (anonymous touches schedule nothing), and one dispatch of its new lead's event.
    assert [c.__qualname__ for c in callbacks] == [
        "_after_commit.<locals>.dispatch_emitted",
        "leads_touched.<locals>.enqueue",
    ]


def test_a_pure_replay_schedules_no_work(django_capture_on_commit_callbacks):
    ingest([{"id": "1", "type": "form_submit", "email": "a@example.jp"}])
    with django_capture_on_commit_callbacks() as callbacks:
        ingest([{"id": "1", "type": "form_submit", "email": "a@example.jp"}])
    assert callbacks == []


# --- Query counts ---------------------------------------------------------------------------------------


def _mixed_batch(n: int, prefix: str) -> list[dict]:
    events = []
    for i in range(n):
        kind = i % 4
        if kind == 0:
            events.append(
                {
                    "id": f"{prefix}{i}",
                    "type": "page_view",
                    "visitor_id": f"{prefix}v{i % 50}",
                    "url": "https://x.jp/pricing",
                    "utm_campaign": "camp",
                }
            )
        elif kind == 1:
            events.append(
                {
                    "id": f"{prefix}{i}",
                    "type": "form_submit",
                    "email": f"{prefix}{i}@example.jp",
                    "visitor_id": f"{prefix}v{i % 50}",
                    "name": f"名前 {i}",
                    "company": f"会社 {i % 7}",
                    "company_domain": f"c{i % 5}.{prefix}.jp",
                    "prefecture": "東京都",
                }
            )
        elif kind == 2:
            events.append(
                {
                    "id": f"{prefix}{i}",
                    "type": "email_open",
                    "email": f"{prefix}{i - 1}@example.jp",
                    "utm_campaign": "camp",
                    "title": "部長",
                }
            )
        else:
            events.append(
                {"id": f"{prefix}{i}", "type": "unsubscribe", "email": f"{prefix}{i - 2}@example.jp"}
            )
    return events


def test_the_number_of_queries_does_not_grow_with_the_batch(django_assert_max_num_queries):
    CampaignFactory(utm_campaign="camp")
    counts = {}
    for size in (8, MAX_EVENTS_PER_BATCH):
        for round_ in ("new", "again"):  # first time (creates everything), then the same leads again
            batch = _mixed_batch(size, f"s{size}-")
            if round_ == "again":
                batch = [{**e, "id": e["id"] + "-again"} for e in batch]
            with django_assert_max_num_queries(25) as captured:
                result = ingest(batch)
            assert result.accepted == size and not result.rejected
            counts[(size, round_)] = len(captured)
    assert counts[(8, "new")] == counts[(MAX_EVENTS_PER_BATCH, "new")], counts
    assert counts[(8, "again")] == counts[(MAX_EVENTS_PER_BATCH, "again")], counts


def test_a_full_replay_costs_two_queries(django_assert_num_queries):
    batch = _mixed_batch(100, "r")
    ingest(batch)
    with django_assert_num_queries(3):  # savepoint, the lookup of known ids, release
        assert ingest(batch).duplicates == 100


# --- Concurrency (PostgreSQL: real row locks and unique-index waits) --------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_identical_batches_store_each_event_once():
    require_or_skip(connection.vendor == "postgresql", "concurrent writers need PostgreSQL")
    batch = _mixed_batch(400, "c")
    results = []
    errors = []

    def run():
        try:
            results.append(ingest(batch))
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sum(r.accepted for r in results) == 400
    assert sum(r.duplicates for r in results) == 3 * 400
    assert Touch.objects.count() == 400
    assert Lead.objects.count() == len({e["email"] for e in batch if "email" in e})
    assert Visitor.objects.count() == 50


def test_an_unsubscribe_from_an_identified_visitor_reaches_their_lead():
    ingest(
        [
            {
                "id": "f",
                "type": "form_submit",
                "email": "v@example.jp",
                "visitor_id": "v-7",
                "consent_email": True,
            }
        ]
    )
    ingest([{"id": "u", "type": "unsubscribe", "visitor_id": "v-7"}])
    lead = Lead.objects.get()
    assert lead.consent_email is False and lead.unsubscribed_at is not None


def test_a_second_unsubscribe_through_a_visitor_keeps_the_first_time():
    ingest([{"id": "f", "type": "form_submit", "email": "v@example.jp", "visitor_id": "v-8"}])
    ingest(
        [
            {
                "id": "u1",
                "type": "unsubscribe",
                "email": "v@example.jp",
                "occurred_at": "2026-02-01T09:00:00+09:00",
            }
        ]
    )
    ingest([{"id": "u2", "type": "unsubscribe", "visitor_id": "v-8"}])
    assert Lead.objects.get().unsubscribed_at == dt.datetime(2026, 2, 1, 0, 0, tzinfo=dt.UTC)


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_batch_is_stored_in_two_steps_with_the_same_outcome():
    CampaignFactory(utm_campaign="camp")
    batch = _mixed_batch(40, "t")
    first = ingest(batch)
    again = ingest(batch)

    assert (first.accepted, first.leads_created, first.rejected) == (40, 10, [])
    assert (again.accepted, again.duplicates) == (0, 40)
    assert Touch.objects.count() == 40 and Lead.objects.count() == 10
    assert not Touch.objects.filter(lead__isnull=True).exclude(visitor_id__startswith="tv").exists()
    assert Lead.objects.filter(unsubscribed_at__isnull=False).count() == 10
