"""Scoring: fit and decaying engagement in set-based SQL, caps, explanation, the MQL flip and full rescores."""

from __future__ import annotations

import datetime as dt
from itertools import pairwise

import pytest
from django.utils import timezone

from leads.choices import LifecycleStage, TouchType
from leads.models import Handoff, Lead, RescoreRun, ScoringConfig, ScoringGroup, ScoringRule, Touch
from leads.scoring.defaults import ensure_default_scoring
from leads.scoring.engine import LeadFilter, explain, explain_over_time, score_leads
from leads.scoring.services import leads_score_and_qualify, reason_text, rescore_batch_run, rescore_start
from leads.services import company_resolve, lead_upsert

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 18, 10, 0, tzinfo=dt.UTC)


def _touch(lead, kind, *, days_ago=0.0, url="", key=None, **props):
    return Touch.objects.create(
        lead=lead,
        type=kind,
        url=url,
        occurred_at=NOW - dt.timedelta(days=days_ago),
        properties=props,
        source="test",
        idempotency_key=key or f"{lead.pk}-{kind}-{days_ago}-{url}",
    )


def _scores(lead):
    lead.refresh_from_db()
    return lead.fit_score, lead.engagement_score, lead.total_score


@pytest.fixture
def defaults():
    ensure_default_scoring()


def test_fit_rules_ignore_case_take_wildcards_literally_and_read_lists_loosely(db):
    def rule(name, points, field, operator, value="", number=None):
        ScoringRule.objects.create(
            kind="fit", name=name, points=points, field=field, operator=operator, value=value, number=number
        )

    rule("manager", 1, "title", "contains", "MANAGER")  # any case
    rule("100%", 2, "title", "contains", "100%")  # % is a character here, not a wildcard
    rule("exact", 4, "title", "equals", "Sales Manager")  # equals is exact
    rule("regions", 8, "region", "in", " Kanto , kinki,")  # spaces, case and an empty item
    rule("domain", 16, "email_domain", "equals", "Example.JP")
    rule("small", 32, "employees", "lt", number=50)
    company = company_resolve(name="A社", domain="a.example.jp", employee_count=10, region="kanto")
    a, _ = lead_upsert(email="x@example.jp", source="api", company=company, title="Sales Manager")
    b, _ = lead_upsert(email="y@a.example.jp", source="api", title="sales manager 100% remote")
    c, _ = lead_upsert(email="z@a.example.jp", source="api", title="1000 staff", department="")
    score_leads(LeadFilter(ids=(a.pk, b.pk, c.pk)), now=NOW)
    assert _scores(a)[0] == 1 + 4 + 8 + 16 + 32
    assert _scores(b)[0] == 1 + 2  # no company: region and size rules do not match
    assert _scores(c)[0] == 0


def test_fit_from_title_size_industry_region_with_group_caps(defaults):
    company = company_resolve(
        name="東邦精機株式会社",
        domain="toho.example.jp",
        employee_count=1200,
        industry="manufacturing",
        region="kanto",
    )
    director, _ = lead_upsert(
        email="a@toho.example.jp", source="api", company=company, title="取締役 営業部長"
    )
    freemail, _ = lead_upsert(email="b@gmail.com", source="api", title="担当")
    score_leads(LeadFilter(ids=(director.pk, freemail.pk)), now=NOW)
    # 取締役 20 + 部長 15 capped at 20; size 15+10+5 capped at 15; industry 10; region 5.
    assert _scores(director) == (50, 0, 50)
    assert _scores(freemail) == (-10, 0, -10)


def test_engagement_decays_with_each_rules_half_life_and_caps_per_group(defaults):
    lead, _ = lead_upsert(email="c@example.jp", source="api")
    _touch(lead, TouchType.WEBINAR_ATTENDED, days_ago=45)  # 20 × 0.5^(45/45) = 10
    _touch(lead, TouchType.CONTENT_DOWNLOAD, days_ago=0)  # 8
    for i in range(20):  # 20 page views, 1 point each, group capped at 15
        _touch(lead, TouchType.PAGE_VIEW, days_ago=0, url=f"https://x.jp/p{i}")
    score_leads(LeadFilter(ids=(lead.pk,)), now=NOW)
    assert _scores(lead) == (0, 10 + 8 + 15, 33)
    # A month later everything has faded: 20×0.5^(75/45) + 8×0.5^(30/30) + 20×0.5^(30/14) capped at 15.
    later = NOW + dt.timedelta(days=30)
    score_leads(LeadFilter(ids=(lead.pk,)), now=later)
    expected = round(20 * 0.5 ** (75 / 45) + 8 * 0.5 + min(15, 20 * 0.5 ** (30 / 14)))
    assert _scores(lead)[1] == expected


def test_url_and_property_rules_match(defaults):
    group = ScoringGroup.objects.create(kind="engagement", name="Whitepapers", cap=None)
    ScoringRule.objects.create(
        kind="engagement", name="SFA guide", group=group, points=12, touch_type="content_download",
        property_key="asset", property_value="sfa-guide", half_life_days=30,
    )  # fmt: skip
    lead, _ = lead_upsert(email="d@example.jp", source="api")
    _touch(
        lead, TouchType.PAGE_VIEW, url="https://www.example.jp/PRICING?plan=pro"
    )  # /pricing matches any case
    _touch(lead, TouchType.CONTENT_DOWNLOAD, asset="sfa-guide")
    _touch(lead, TouchType.CONTENT_DOWNLOAD, asset="other", key="other")
    score_leads(LeadFilter(ids=(lead.pk,)), now=NOW)
    names = {c.name: round(c.points) for c in explain([lead.pk], now=NOW)[lead.pk]}
    assert names == {"料金ページ": 5, "ページ閲覧": 1, "資料ダウンロード": 16, "SFA guide": 12}
    assert _scores(lead)[1] == 5 + 1 + 16 + 12


def test_future_touches_do_not_count_and_scoring_twice_changes_nothing(defaults):
    lead, _ = lead_upsert(email="e@example.jp", source="api")
    _touch(lead, TouchType.DEMO_REQUEST, days_ago=-1)  # occurs tomorrow (a clock skew at the sender)
    _touch(lead, TouchType.FORM_SUBMIT, days_ago=0)
    score_leads(LeadFilter(ids=(lead.pk,)), now=NOW)
    first = _scores(lead)
    score_leads(LeadFilter(ids=(lead.pk,)), now=NOW)
    assert _scores(lead) == first == (0, 5, 5)


def test_crossing_the_threshold_makes_one_mql_and_one_handoff_with_the_reason(defaults):
    company = company_resolve(
        name="山田製作所", domain="yamada.example.jp", employee_count=400, industry="manufacturing"
    )
    lead, _ = lead_upsert(email="hot@yamada.example.jp", source="api", company=company, title="部長")
    _touch(lead, TouchType.WEBINAR_ATTENDED)
    for i in range(3):
        _touch(lead, TouchType.PAGE_VIEW, url=f"https://x.jp/pricing/{i}")
    cold, _ = lead_upsert(email="cold@yamada.example.jp", source="api", company=company, title="担当")
    _touch(cold, TouchType.PAGE_VIEW, url="https://x.jp/")

    new = leads_score_and_qualify([lead.pk, cold.pk], now=NOW)
    assert len(new) == 1
    lead.refresh_from_db()
    assert lead.lifecycle_stage == LifecycleStage.MQL and lead.mql_at == NOW
    handoff = Handoff.objects.get(pk=new[0])
    assert handoff.lead_id == lead.pk and handoff.score_at_handoff == lead.total_score
    assert handoff.reason.startswith("ウェビナー参加 +20, 料金ページ ×3 +15, 部長 +15")
    assert Lead.objects.get(pk=cold.pk).lifecycle_stage == LifecycleStage.LEAD
    # Scoring again (a replayed batch) creates nothing more.
    assert leads_score_and_qualify([lead.pk, cold.pk], now=NOW) == []
    assert Handoff.objects.count() == 1


def test_the_threshold_needs_both_fit_and_total(defaults):
    ScoringConfig.objects.filter(pk=1).update(fit_threshold=15, total_threshold=30)
    unfit, _ = lead_upsert(email="student@gmail.com", source="api")
    _touch(unfit, TouchType.DEMO_REQUEST)
    assert leads_score_and_qualify([unfit.pk], now=NOW) == []
    assert _scores(unfit) == (-10, 40, 30)


def test_a_recycled_lead_needs_new_behaviour_to_qualify_again(defaults):
    company = company_resolve(name="X", domain="x.example.jp", employee_count=2000)
    lead, _ = lead_upsert(email="r@x.example.jp", source="api", company=company, title="部長")
    _touch(lead, TouchType.DEMO_REQUEST, days_ago=2)
    Lead.objects.filter(pk=lead.pk).update(
        lifecycle_stage=LifecycleStage.RECYCLED,
        recycled_at=NOW - dt.timedelta(days=1),
        last_touch_at=NOW - dt.timedelta(days=2),
    )
    assert leads_score_and_qualify([lead.pk], now=NOW) == []
    _touch(lead, TouchType.PAGE_VIEW, url="https://x.jp/pricing")
    Lead.objects.filter(pk=lead.pk).update(last_touch_at=NOW)
    assert len(leads_score_and_qualify([lead.pk], now=NOW)) == 1


def _downloaded_just_now(n: int) -> list[Lead]:
    """n leads with a download each, just now: a rescore runs at the real time, so these have not decayed yet."""
    leads = [lead_upsert(email=f"d{i}@example.jp", source="api")[0] for i in range(n)]
    for lead in leads:
        Touch.objects.create(
            lead=lead,
            type=TouchType.CONTENT_DOWNLOAD,
            occurred_at=timezone.now(),
            source="t",
            idempotency_key=str(lead.pk),
        )
    return leads


def test_full_rescore_runs_in_batches_and_a_redelivered_batch_changes_nothing(
    defaults, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr("leads.scoring.services.RESCORE_BATCH_SIZE", 3)
    monkeypatch.setattr("leads.scoring.services.RESCORE_MIN_BATCHES", 1)
    _downloaded_just_now(7)
    with django_capture_on_commit_callbacks(execute=True):
        run = rescore_start(reason="test")  # the batch tasks run in-process on commit
    run.refresh_from_db()
    assert run.total_batches == 3 and run.finished_at is not None
    assert {lead.engagement_score for lead in Lead.objects.all()} == {8}
    batch = run.batches.first()
    assert rescore_batch_run(batch_id=batch.pk) is False
    assert RescoreRun.objects.count() == 1


def test_a_batch_commits_step_by_step_and_a_crash_midway_loses_no_work(defaults, monkeypatch):
    """A batch scores its leads in steps, each committed on its own (a step is how long a rescore holds a lead's
    row). A worker killed after the first step leaves that step's scores stored and the batch not done; the
    batch's next run finishes it, and the run."""
    import leads.scoring.services as scoring

    monkeypatch.setattr(scoring, "RESCORE_STEP_SIZE", 2)
    leads = _downloaded_just_now(5)
    run = RescoreRun.objects.create(version=1, reason="test", total_batches=1)
    batch = run.batches.create(first_id=leads[0].pk, last_id=leads[-1].pk + 100)
    real_qualify, steps, kill_at_step = scoring._qualify, [], [2]

    def qualify_or_be_killed(lead_filter, **kwargs):
        steps.append((lead_filter.first_id, lead_filter.last_id))
        if len(steps) in kill_at_step:
            raise SystemExit("worker killed")
        return real_qualify(lead_filter, **kwargs)

    monkeypatch.setattr(scoring, "_qualify", qualify_or_be_killed)
    with pytest.raises(SystemExit):
        rescore_batch_run(batch_id=batch.pk)
    first_step = range(steps[0][0], steps[0][1] + 1)
    scores = dict(Lead.objects.values_list("pk", "engagement_score"))
    assert scores == {lead.pk: 8 if lead.pk in first_step else 0 for lead in leads}  # the first step stayed
    assert sum(score == 8 for score in scores.values()) == 2
    batch.refresh_from_db()
    assert batch.done_at is None

    steps.clear()
    kill_at_step.clear()
    assert rescore_batch_run(batch_id=batch.pk) is True
    assert len(steps) == 3  # two leads a step, and none for the empty ids up to last_id
    assert {lead.engagement_score for lead in Lead.objects.all()} == {8}
    run.refresh_from_db()
    assert run.finished_at is not None
    assert rescore_batch_run(batch_id=batch.pk) is False


def test_a_table_smaller_than_a_batch_is_still_split_for_the_workers_to_share(
    defaults, django_capture_on_commit_callbacks
):
    leads = [lead_upsert(email=f"s{i}@example.jp", source="api", title="部長")[0] for i in range(10)]
    for lead in leads[::3]:
        Touch.objects.create(
            lead=lead, type=TouchType.SEMINAR_ATTENDED, occurred_at=timezone.now(), source="t",
            idempotency_key=str(lead.pk),
        )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        run = rescore_start(reason="test")
    run.refresh_from_db()
    ranges = list(run.batches.order_by("first_id").values_list("first_id", "last_id"))
    assert len(ranges) == run.total_batches == 4 and run.finished_at is not None
    assert ranges[0][0] == leads[0].pk and ranges[-1][1] >= leads[-1].pk
    assert all(last + 1 == first for (_, last), (first, _) in pairwise(ranges))
    assert [_scores(lead) for lead in leads] == [
        (15, 20, 35) if i % 3 == 0 else (15, 0, 15) for i in range(10)
    ]


def test_reason_text_lists_positive_contributions_biggest_first(defaults):
    lead, _ = lead_upsert(email="z@gmail.com", source="api", title="課長")
    _touch(lead, TouchType.SEMINAR_ATTENDED)
    text = reason_text(explain([lead.pk], now=NOW)[lead.pk])
    assert text == "セミナー参加 +20, 課長 +10"


def test_the_score_over_time_equals_the_scorer_at_each_week(defaults, django_assert_num_queries):
    lead, _ = lead_upsert(email="history@example.jp", source="api")
    for days_ago, kind, url in [(1, TouchType.PAGE_VIEW, "/pricing"), (9, TouchType.WEBINAR_ATTENDED, ""),
                                (30, TouchType.CONTENT_DOWNLOAD, ""), (31, TouchType.PAGE_VIEW, "/compare"),
                                (60, TouchType.EMAIL_CLICK, ""), (85, TouchType.TRADE_SHOW_VISIT, "")]:  # fmt: skip
        _touch(lead, kind, days_ago=days_ago, url=url)
    for n in range(40):  # enough page views to hit the site-visit cap some weeks ago
        _touch(lead, TouchType.PAGE_VIEW, days_ago=20 + n / 10, url=f"/p{n}")
    weeks = [NOW - dt.timedelta(weeks=i) for i in range(13, -1, -1)]
    rules = {rule.pk: rule for rule in ScoringRule.objects.filter(is_active=True)}
    groups = {group.pk: group for group in ScoringGroup.objects.all()}
    with django_assert_num_queries(1):  # the explanation and every week's engagement, aggregated in SQL
        explanation, points = explain_over_time(lead.pk, now=NOW, times=weeks, rules=rules, groups=groups)
    scorer = explain([lead.pk], now=NOW)[lead.pk]

    # the same contributions; the points summed in SQL may differ from Python's sum in the last bit
    def facts(found):
        return [(c.rule_id, c.name, c.kind, c.group, c.matches) for c in found]

    def scored(found):
        return [x for c in found for x in (c.points, c.counted)]

    assert facts(explanation) == facts(scorer)
    assert scored(explanation) == pytest.approx(scored(scorer))
    engagement = [round(p) for p in points]
    expected = []
    for weeks_ago in range(13, -1, -1):
        score_leads(LeadFilter(ids=(lead.pk,)), now=NOW - dt.timedelta(weeks=weeks_ago))
        expected.append(_scores(lead)[1])
    assert engagement == expected
    assert len(set(expected)) > 3  # the line really moves


def test_url_rules_ignore_case_and_take_wildcards_literally(db):
    ScoringRule.objects.create(
        kind="engagement", name="plan", points=10, touch_type=TouchType.PAGE_VIEW, url_contains="/Pricing_Plan",
        half_life_days=10_000,
    )  # fmt: skip
    hit, _ = lead_upsert(email="hit@example.jp", source="api")
    miss, _ = lead_upsert(email="miss@example.jp", source="api")
    _touch(hit, TouchType.PAGE_VIEW, url="https://example.jp/pricing_plan?x=1")
    _touch(miss, TouchType.PAGE_VIEW, url="https://example.jp/pricingXplan")  # _ is not a wildcard
    score_leads(LeadFilter(ids=(hit.pk, miss.pk)), now=NOW)
    assert _scores(hit)[1] == 10
    assert _scores(miss)[1] == 0
