"""Lead list, lead detail and company detail: filters, access, fixed query counts."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from leads.choices import AwarenessStage, LeadSource, LifecycleStage, TouchType
from leads.detail.selectors import TIMELINE_PAGE, lead_page
from leads.ingest import events_ingest
from leads.models import Campaign, Company, Handoff, Lead, Touch, Visitor
from leads.scoring.defaults import ensure_default_scoring
from leads.services import company_resolve, lead_upsert
from salesmarketing.models import User

pytestmark = pytest.mark.django_db


def _lead(email, *, owner=None, company=None, score=0, **fields):
    lead, _ = lead_upsert(email=email, source="manual", company=company, **fields)
    Lead.objects.filter(pk=lead.pk).update(owner=owner, total_score=score)
    lead.refresh_from_db()
    return lead


def _many_leads(n, *, owner=None, prefix="bulk"):
    company = company_resolve(name="株式会社テスト", domain=f"{prefix}.example.jp")
    campaign = Campaign.objects.create(
        name=f"{prefix} campaign", channel="webinar", utm_campaign=f"{prefix}-utm"
    )
    Lead.objects.bulk_create(
        Lead(
            email=f"{prefix}{i}@example.jp",
            name=f"リード {i}",
            company=company,
            owner=owner,
            first_touch_campaign=campaign,
            total_score=i,
        )
        for i in range(n)
    )


def test_marketer_filters_by_lifecycle_awareness_score_and_text(client, marketer):
    company = company_resolve(name="株式会社山田製作所", domain="yamada.example.jp")
    hot = _lead("hot@yamada.example.jp", company=company, name="山田 太郎", score=80)
    Lead.objects.filter(pk=hot.pk).update(
        lifecycle_stage=LifecycleStage.MQL, awareness_stage=AwarenessStage.MANIFEST
    )
    _lead("cold@other.example.jp", name="鈴木 花子", score=5)
    client.force_login(marketer)

    def names(**params):
        html = client.get("/leads/", params).content.decode()
        return {name for name in ("山田 太郎", "鈴木 花子") if name in html}

    assert names() == {"山田 太郎", "鈴木 花子"}
    assert names(q="山田製作所") == {"山田 太郎"}  # company name
    assert names(q="cold@") == {"鈴木 花子"}  # email
    assert names(lifecycle="mql") == {"山田 太郎"}
    assert names(awareness="manifest") == {"山田 太郎"}
    assert names(score_min=50) == {"山田 太郎"}
    assert names(score_max=10) == {"鈴木 花子"}
    # A bad value is shown as an error, and the rest of the filters still apply.
    response = client.get("/leads/", {"score_min": "lots", "q": "鈴木"})
    assert response.status_code == 200
    assert "鈴木 花子" in response.content.decode() and "山田 太郎" not in response.content.decode()


def test_filter_selects_list_every_campaign_and_keep_the_chosen_values(client, marketer):
    first = Campaign.objects.create(name="B <展示会>", channel="event", utm_campaign="b-expo")
    Campaign.objects.create(name="A ウェビナー", channel="webinar", utm_campaign="a-web")
    client.force_login(marketer)
    html = client.get(
        "/leads/", {"campaign": first.pk, "awareness": "manifest", "sort": "name"}
    ).content.decode()
    campaign = re.search(r'<select name="campaign" id="id_campaign">(.*?)</select>', html, re.S).group(1)
    options = re.findall(r'<option value="(\d*)"( selected)?>([^<]*)</option>', campaign)
    assert [(text, bool(chosen)) for _value, chosen, text in options] == [
        ("全体" if translation.get_language() == "ja" else "All", False),
        ("A ウェビナー", False),
        ("B &lt;展示会&gt;", True),  # escaped, and the one chosen
    ]
    assert '<option value="manifest" selected>' in html and '<option value="name" selected>' in html
    lifecycle = re.search(r'<select name="lifecycle" id="id_lifecycle">(.*?)</select>', html, re.S).group(1)
    assert (
        lifecycle.count(" selected>") == 1 and '<option value="" selected>' in lifecycle
    )  # no filter: "All"


def test_htmx_request_gets_only_the_results_partial(client, marketer):
    _lead("a@example.jp", name="部分 更新")
    client.force_login(marketer)
    response = client.get("/leads/", {"q": "部分"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="results">')
    assert "部分 更新" in html and "<html" not in html
    assert response["Vary"].count("HX-Request") == 1


def test_sorting_by_last_touch_puts_leads_never_touched_last(client, marketer):
    now = timezone.now()
    for email, name, last in [("n@example.jp", "未接触", None), ("o@example.jp", "古い接触", now - dt.timedelta(days=9)),
                              ("r@example.jp", "最近の接触", now - dt.timedelta(hours=1))]:  # fmt: skip
        Lead.objects.filter(pk=_lead(email, name=name).pk).update(last_touch_at=last)
    client.force_login(marketer)
    html = client.get("/leads/", {"sort": "last_touch"}).content.decode()
    assert html.index("最近の接触") < html.index("古い接触") < html.index("未接触")


def test_list_query_count_does_not_grow_with_leads(client, marketer, django_assert_num_queries):
    client.force_login(marketer)
    _many_leads(5, prefix="few")
    # layout 2 (session; the user with team and unread count) + the campaigns filter, the count, the page's rows, the owners
    # filter, the saved views the viewer may pick (leads.bulk_actions), the custom fields (filters and columns)
    with django_assert_num_queries(8) as few:
        client.get("/leads/")
    _many_leads(120, prefix="more")
    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get("/leads/")
    assert "125" in response.content.decode()  # the total count is shown


def test_sales_rep_sees_only_their_teams_leads(client, owner, teammate, outsider):
    mine = _lead("mine@example.jp", owner=owner, name="自分の リード")
    teams = _lead("team@example.jp", owner=teammate, name="同僚の リード")
    other = _lead("other@example.jp", owner=outsider, name="他課の リード")
    pool = _lead("pool@example.jp", name="未割当 リード")
    client.force_login(owner)
    html = client.get("/leads/").content.decode()
    assert "自分の リード" in html and "同僚の リード" in html
    assert "他課の リード" not in html and "未割当 リード" not in html
    assert client.get(f"/leads/{mine.pk}/").status_code == 200
    assert client.get(f"/leads/{teams.pk}/").status_code == 200
    assert client.get(f"/leads/{other.pk}/").status_code == 404
    assert client.get(f"/leads/{pool.pk}/").status_code == 404


def test_detail_shows_profile_timeline_with_stitched_anonymous_history_and_escapes(client, marketer):
    campaign = Campaign.objects.create(
        name="残業削減ウェビナー", channel="webinar", utm_campaign="webinar-overtime"
    )
    lead = _lead("stitched@example.jp", name="<script>alert(1)</script>", title="部長")
    now = timezone.now()
    Visitor.objects.create(visitor_id="v-123", lead=lead, identified_at=now)
    Touch.objects.create(
        lead=lead, visitor_id="v-123", type=TouchType.PAGE_VIEW, occurred_at=now - dt.timedelta(days=3),
        url="https://www.example.jp/pricing", source="tracking", idempotency_key="a",
    )  # fmt: skip
    Touch.objects.create(
        lead=lead, type=TouchType.WEBINAR_ATTENDED, occurred_at=now, campaign=campaign,
        utm_campaign="webinar-overtime", source="api:x", idempotency_key="b",
    )  # fmt: skip
    client.force_login(marketer)
    html = client.get(f"/leads/{lead.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    assert "https://www.example.jp/pricing" in html
    assert "残業削減ウェビナー" in html
    assert "anonymous history of 1 browser" in html
    assert html.index("Webinar attended") < html.index("Page view")  # newest first


def _touches(lead, n, *, start=0, at=None, **fields):
    """n page views of `lead`, newest last (each a second apart), or all at the same moment `at`."""
    now = timezone.now()
    Touch.objects.bulk_create(
        Touch(
            lead=lead,
            type=TouchType.PAGE_VIEW,
            occurred_at=at or now - dt.timedelta(seconds=n - i),
            url=f"https://www.example.jp/p/{start + i}",
            source="t",
            idempotency_key=f"{lead.pk}-{start + i}",
            **fields,
        )
        for i in range(n)
    )


def _history(lead, by, *, n, prefix):
    """n more of every panel's rows: handoffs, browsers, lifecycle changes, submissions and absorbed merges."""
    from leads.lifecycle import lead_lifecycle_change
    from leads.merge.services import lead_merge

    for i in range(n):
        Handoff.objects.create(
            lead=lead, owner=by, mql_at=timezone.now(), state=Handoff.State.REJECTED,
            reject_reason=Handoff.RejectReason.NO_BUDGET, reject_note=f"{prefix} 予算なし {i}",
        )  # fmt: skip
        Visitor.objects.create(visitor_id=f"{prefix}-{i}", lead=lead, identified_at=timezone.now())
        stage = LifecycleStage.MQL if i % 2 == 0 else LifecycleStage.LEAD
        lead_lifecycle_change(lead=lead, to=stage, by=by, reason=f"{prefix} {i}")
        _spoofed(lead.email, f"{prefix}-s-{i}", title=f"肩書 {prefix} {i}")
        twin = _lead(f"{prefix}{i}@twin.example.jp", name=f"重複 {prefix} {i}")
        lead_merge(survivor_id=lead.pk, merged_id=twin.pk, taken={}, by=by)
        lead.refresh_from_db()


def test_detail_query_count_is_fixed(client, marketer, django_assert_num_queries):
    ensure_default_scoring()
    lead = _lead("busy@example.jp", name="忙しい リード")
    client.force_login(marketer)
    _touches(lead, 3)
    _history(lead, marketer, n=1, prefix="few")
    # 7: the layout's 2 (session; the user with team and unread count) and the page's own 5 —
    #   the lead (its visibility, with company, owner, first-touch campaign and persona),
    #   its panels in one UNION ALL (handoffs, browsers, lifecycle history, merges, latest submissions, the
    #     scoring rules, groups and MQL threshold, touches per week),
    #   the score explanation with the score over time (one aggregate over all its touches),
    #   the first page of the timeline,
    #   the lead's custom fields (shown in its profile).
    with django_assert_num_queries(7) as few:
        client.get(f"/leads/{lead.pk}/")
    _touches(lead, 300, start=3)
    _history(lead, marketer, n=4, prefix="many")
    with django_assert_num_queries(len(few.captured_queries)):
        html = client.get(f"/leads/{lead.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert html.count('<li class="tl-') == TIMELINE_PAGE + 1  # one page, and its "Older" link
    assert html.count('class="tl-older"') == 1
    assert "×303" in html  # the explanation counts every matching touch
    assert "308 touches" in html  # and the five submissions
    assert "anonymous history of 5 browsers" in html
    assert html.count("重複 ") == 5  # the merges it absorbed
    assert "肩書 many 3</strong>" in html  # the latest submitted title


def test_timeline_pages_go_back_through_every_touch_by_keyset(client, owner, django_assert_num_queries):
    lead = _lead("long@example.jp", owner=owner, name="長い 履歴")
    same_moment = timezone.now() - dt.timedelta(days=1)
    _touches(lead, 30)
    _touches(lead, 70, start=30, at=same_moment)  # the order among them is their id's
    client.force_login(owner)
    html = client.get(f"/leads/{lead.pk}/").content.decode()
    seen = re.findall(r"https://www\.example\.jp/p/(\d+)", html)
    pages = 1
    while (older := re.search(r'hx-get="([^"]+before=[^"]+)"', html)) is not None:
        # 4: session, the user (with the unread count a fragment's context reads too), the lead (its
        # visibility), one page of touches
        with django_assert_num_queries(4):
            response = client.get(older.group(1).replace("&amp;", "&"), HTTP_HX_REQUEST="true")
        html = response.content.decode()
        assert "<html" not in html and response["Vary"].count("HX-Request") == 1
        seen += re.findall(r"https://www\.example\.jp/p/(\d+)", html)
        pages += 1
    assert pages == 2 and len(seen) == 100 and len(set(seen)) == 100  # every touch once
    newest_first = [int(n) for n in seen[:30]]
    assert newest_first == sorted(newest_first, reverse=True)

    # Without HTMX, the link is the page itself from that point on, with a way back to the latest.
    first = client.get(f"/leads/{lead.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    href = re.search(r'<a class="btn btn-small" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    page = client.get(href, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert page.count('class="tl-page_view"') == 50 and "Back to the latest touches" in page
    assert "https://www.example.jp/p/99" not in page  # the newest of the same moment is on the first page
    # A cursor that is not one shows the latest touches.
    assert client.get(f"/leads/{lead.pk}/", {"before": "1-x"}).content.decode().count("tl-page_view") == 50


def test_touches_per_week_are_counted_in_sql(marketer):
    lead = _lead("weekly@example.jp", name="週ごと")
    now = timezone.now()
    for days in (0.5, 1, 6, 8, 20, 100):
        _touches(lead, 1, start=int(days * 10), at=now - dt.timedelta(days=days))
    page = lead_page(lead=lead, viewer=marketer)
    counts = page.activity["data"]["datasets"][0]["data"]
    assert len(counts) == 13 and counts[-1] == 3 and counts[-2] == 1 and counts[-3] == 1
    # 100 days ago is before the chart, not before the count
    assert sum(counts) == 5 and page.touch_count == 6


def test_company_detail_lists_its_leads(client, marketer, owner):
    company = Company.objects.create(name="東邦精機株式会社", domain="toho.example.jp", employee_count=1200)
    _lead("a@toho.example.jp", company=company, name="東邦 一郎")
    client.force_login(marketer)
    html = client.get(f"/leads/companies/{company.pk}/").content.decode()
    assert "東邦精機株式会社" in html and "東邦 一郎" in html
    client.force_login(owner)  # a rep with no lead or deal there
    assert client.get(f"/leads/companies/{company.pk}/").status_code == 404


def test_manager_role_sees_every_lead(client, manager, outsider):
    other = _lead("x@example.jp", owner=outsider)
    assert manager.role == User.Role.MANAGER
    client.force_login(manager)
    assert client.get(f"/leads/{other.pk}/").status_code == 200


def test_logging_an_activity_on_a_lead_puts_it_on_the_timeline_and_touches_the_handoff(client, owner):
    from leads.handoffs import handoff_assign
    from leads.models import Handoff

    lead = _lead("call@example.jp", owner=owner, name="電話 先")
    handoff = Handoff.objects.create(lead=lead, mql_at=timezone.now())
    handoff_assign(handoff_id=handoff.pk)
    client.force_login(owner)
    form = client.get(f"/pipeline/leads/{lead.pk}/activities/", HTTP_HX_REQUEST="true")
    assert form.status_code == 200 and 'id="lead-activity-form"' in form.content.decode()
    bad = client.post(f"/pipeline/leads/{lead.pk}/activities/", {"type": "call"}, HTTP_HX_REQUEST="true")
    assert bad.status_code == 422 and "has-error" in bad.content.decode()
    response = client.post(
        f"/pipeline/leads/{lead.pk}/activities/",
        {
            "type": "call",
            "subject": "初回のお電話",
            "is_voice": "on",
            "voice_text": "部下の残業が多くて困っている",
        },
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200 and response["HX-Redirect"] == f"/leads/{lead.pk}/"
    assert "初回のお電話" in client.get(f"/leads/{lead.pk}/").content.decode()
    handoff.refresh_from_db()
    assert handoff.first_touch_at is not None and handoff.state == Handoff.State.WORKING


def test_other_reps_lead_has_no_activity_form(client, owner, outsider):
    lead = _lead("x@example.jp", owner=outsider)
    client.force_login(owner)
    assert client.get(f"/pipeline/leads/{lead.pk}/activities/").status_code == 404
    assert (
        client.post(f"/pipeline/leads/{lead.pk}/activities/", {"type": "call", "subject": "x"}).status_code
        == 404
    )


def _spoofed(lead_email, sid, **values):
    """A public form post for a known lead's email (unauthenticated: fills empty fields only)."""
    events_ingest(
        events=[{"id": sid, "type": "form_submit", "email": lead_email, **values}],
        source="form:1",
        lead_source=LeadSource.WEB_FORM,
    )


def test_detail_offers_differing_submitted_values_and_accepts_one_or_all(client, marketer, caplog):
    company = company_resolve(name="株式会社本物", domain="honmono.example.jp")
    lead = _lead("sato@honmono.example.jp", company=company, name="佐藤 花子", title="課長")
    _spoofed(lead.email, "s-1", title="部長", phone="03-1111-2222")
    _spoofed(
        lead.email,
        "s-2",
        name="佐藤 華子",
        title="本部長",
        company="株式会社新社名",
        company_domain="shin.example.jp",
    )
    client.force_login(marketer)
    url = reverse("leads:detail", args=[lead.pk])

    with translation.override("en"):
        html = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Submitted values that differ" in html
    assert "本部長" in html and "佐藤 華子" in html and "株式会社新社名 (shin.example.jp)" in html
    assert "部長</strong>" not in html.replace("本部長</strong>", "")  # only the latest value per field
    assert "03-1111-2222</strong>" not in html  # the empty phone was filled, so nothing differs

    latest = Touch.objects.get(idempotency_key="s-2")
    accept = reverse("leads:accept_submitted", args=[lead.pk])
    with caplog.at_level("INFO", logger="leads.services"):
        response = client.post(accept, {"accept": f"{latest.pk}:title"})
    assert response.status_code == 302 and response["Location"] == url
    lead.refresh_from_db()
    assert (lead.title, lead.name, lead.company, lead.phone) == (
        "本部長",
        "佐藤 花子",
        company,
        "03-1111-2222",
    )
    assert f"lead {lead.pk}: user {marketer.pk} accepted ['title']" in caplog.text
    assert "本部長" not in caplog.text  # the log names fields, not personal values
    latest.refresh_from_db()
    assert latest.properties["accepted"][0]["fields"] == ["title"]

    client.post(accept, {"accept": [f"{latest.pk}:name", f"{latest.pk}:company"]})  # "Accept all"

    lead.refresh_from_db()
    assert (lead.name, lead.company.name, lead.company.domain) == (
        "佐藤 華子",
        "株式会社新社名",
        "shin.example.jp",
    )
    assert "Submitted values that differ" not in client.get(url).content.decode()


def test_accepting_needs_a_post_and_a_lead_the_user_may_see(client, owner, outsider):
    lead = _lead("mine@example.jp", owner=owner, name="担当 リード", title="課長")
    _spoofed(lead.email, "s-1", title="社長")
    touch = Touch.objects.get()
    accept = reverse("leads:accept_submitted", args=[lead.pk])

    client.force_login(outsider)
    assert client.post(accept, {"accept": f"{touch.pk}:title"}).status_code == 404
    client.force_login(owner)
    assert client.get(accept).status_code == 405
    other = _lead("other@example.jp", owner=owner)
    client.post(reverse("leads:accept_submitted", args=[other.pk]), {"accept": f"{touch.pk}:title"})
    lead.refresh_from_db()
    other.refresh_from_db()
    assert lead.title == "課長" and other.title == ""  # another lead's touch is ignored
