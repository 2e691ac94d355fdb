"""Segment pages: list (lazy counts), builder (rows, live count, errors by the rule), detail (keyset pages, only the
leads the viewer sees), static lists from a CSV (per-row report, Shift_JIS) and from the lead list's selection."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from leads.models import Lead
from nurture.models import Segment, SegmentKind, SegmentMember
from nurture.segments.selectors import MEMBERS_PAGE_SIZE, segment_leads
from tests.nurture.factories import (
    SegmentFactory,
    SegmentMemberFactory,
    SegmentStaticFactory,
    segment_lead,
    segment_scores,
)

pytestmark = pytest.mark.django_db

SEMI = {"op": "and", "rules": [{"field": "awareness", "op": "eq", "value": "semi"}]}


def _builder_post(name="準顕在層", *rows, top="and", group_op="and", **extra) -> dict:
    data = {"name": name, "kind": "dynamic", "top_op": top, "g-0-op": group_op, **extra}
    for i, row in enumerate(rows):
        data |= {f"r-0-{i}-{key}": value for key, value in row.items()}
    return data


def _live(html: str) -> int | None:
    """The number the live count shows (the first number in it)."""
    match = re.search(r'id="live-count"[^>]*>[^<\d]*(\d+)', html)
    return int(match[1]) if match else None


def _many(n, prefix, **fields):
    Lead.objects.bulk_create(
        Lead(email=f"{prefix}{i}@example.jp", name=f"{prefix} {i}", **fields) for i in range(n)
    )


# --- who may do what ---


def test_reps_see_segments_but_do_not_build_them(client, owner):
    segment = SegmentFactory(rules=SEMI)
    client.force_login(owner)
    assert client.get(reverse("nurture:segment_list")).status_code == 200
    assert client.get(segment.get_absolute_url()).status_code == 200
    assert client.get(reverse("nurture:segment_create")).status_code == 403
    assert client.post(reverse("nurture:segment_edit", args=[segment.pk]), {"name": "x"}).status_code == 403
    assert client.post(reverse("nurture:segment_delete", args=[segment.pk])).status_code == 403
    assert client.post(reverse("nurture:segment_live_count"), _builder_post()).status_code == 403


def test_an_unknown_segment_is_404(client, marketer):
    client.force_login(marketer)
    assert client.get(reverse("nurture:segment_detail", args=[999999])).status_code == 404
    assert client.get(reverse("nurture:segment_count", args=[999999])).status_code == 404


def test_members_are_only_the_leads_the_viewer_sees_and_the_count_says_so(client, owner, outsider):
    mine = segment_lead(owner=owner, awareness_stage="semi", name="自課 見込")
    segment_lead(owner=outsider, awareness_stage="semi", name="他課 見込")
    segment = SegmentFactory(rules=SEMI)
    client.force_login(owner)
    html = client.get(segment.get_absolute_url()).content.decode()
    assert "自課 見込" in html and "他課 見込" not in html
    assert re.search(r"全\s*2\s*件中|of 2", html)
    count = client.get(reverse("nurture:segment_count", args=[segment.pk])).content.decode()
    assert ">1<" in count and "2" in count
    assert mine.name in html


# --- list and detail: fixed query counts ---


def test_list_query_count_is_fixed(client, marketer, django_assert_num_queries):
    SegmentFactory(rules=SEMI, created_by=marketer)
    client.force_login(marketer)
    # session, user (with the layout's unread count and team), segments
    with django_assert_num_queries(3) as few:
        assert client.get(reverse("nurture:segment_list")).status_code == 200
    for _ in range(5):
        SegmentFactory(rules=SEMI, created_by=marketer)
        SegmentStaticFactory()
    with django_assert_num_queries(len(few.captured_queries)):
        client.get(reverse("nurture:segment_list"))


def test_detail_pages_by_keyset_with_one_count(client, marketer, django_assert_num_queries):
    _many(MEMBERS_PAGE_SIZE + 5, "page", awareness_stage="semi")
    segment = SegmentFactory(rules=SEMI)
    client.force_login(marketer)
    url = segment.get_absolute_url()
    # session, user (with the layout's two), segment, the page's rows, one count
    with django_assert_num_queries(5):
        first = client.get(url)
    html = first.content.decode()
    next_link = re.search(r'href="\?after=(\d+)"', html)
    assert next_link and html.count('class="chip lc-') == MEMBERS_PAGE_SIZE
    second = client.get(url, {"after": next_link[1]}).content.decode()
    assert second.count('class="chip lc-') == 5 and 'href="?after=' not in second


def test_a_static_detail_lists_its_members(client, marketer):
    lead = segment_lead(name="名刺 交換")
    segment = SegmentMemberFactory(lead=lead).segment
    client.force_login(marketer)
    html = client.get(segment.get_absolute_url()).content.decode()
    assert "名刺 交換" in html and 'name="file"' in html


# --- the builder ---


def test_marketer_builds_a_segment_with_two_rules(client, marketer):
    hot = segment_scores(segment_lead(awareness_stage="semi"), engagement=30)
    segment_scores(segment_lead(awareness_stage="semi"), engagement=5)
    client.force_login(marketer)
    data = _builder_post(
        "準顕在層で反応あり",
        {"field": "awareness", "op": "eq", "value": "semi"},
        {"field": "engagement_score", "op": "gte", "value": "20"},
    )
    response = client.post(reverse("nurture:segment_create"), data)
    segment = Segment.objects.get(name="準顕在層で反応あり")
    assert response.status_code == 302 and response["Location"] == segment.get_absolute_url()
    assert segment.rules == {
        "op": "and",
        "rules": [
            {
                "op": "and",
                "rules": [
                    {"field": "awareness", "op": "eq", "value": "semi"},
                    {"field": "engagement_score", "op": "gte", "value": 20},
                ],
            }
        ],
    }
    assert segment.created_by == marketer
    assert list(segment_leads(segment)) == [hot]


def test_errors_show_next_to_their_rule_and_nothing_is_saved(client, marketer):
    client.force_login(marketer)
    data = _builder_post(
        "壊れた条件",
        {"field": "awareness", "op": "eq", "value": "semi"},
        {"field": "engagement_score", "op": "gte", "value": "たくさん"},
    )
    response = client.post(reverse("nurture:segment_create"), data)
    assert response.status_code == 422 and not Segment.objects.exists()
    html = response.content.decode()
    row_error = re.search(r'id="rule-error-0-1" role="alert">([^<]+)<', html)
    assert row_error and row_error[1].strip()
    assert re.search(r'id="rule-error-0-0" role="alert"><', html)  # the good rule has none


def test_live_count_counts_as_typed_and_marks_bad_rows(client, marketer, django_assert_num_queries):
    segment_scores(segment_lead(awareness_stage="semi"), engagement=30)
    segment_lead(awareness_stage="semi")
    segment_lead(awareness_stage="latent")
    client.force_login(marketer)
    url = reverse("nurture:segment_live_count")
    with django_assert_num_queries(3):  # session, user (with the layout's unread count), one COUNT
        one_rule = client.post(url, _builder_post("x", {"field": "awareness", "op": "eq", "value": "semi"}))
    assert _live(one_rule.content.decode()) == 2
    two = client.post(
        url,
        _builder_post(
            "x",
            {"field": "awareness", "op": "eq", "value": "semi"},
            {"field": "engagement_score", "op": "gte", "value": "20"},
        ),
    ).content.decode()
    assert _live(two) == 1
    bad = client.post(
        url, _builder_post("x", {"field": "engagement_score", "op": "gte", "value": "x"})
    ).content.decode()
    assert 'id="rule-error-0-0" role="alert" hx-swap-oob="true">' in bad
    assert not re.search(r'id="rule-error-0-0" role="alert" hx-swap-oob="true"><', bad)


def test_builder_buttons_add_and_remove_rows_and_groups(client, marketer):
    client.force_login(marketer)
    url = reverse("nurture:segment_create")
    base = _builder_post("x", {"field": "awareness", "op": "eq", "value": "semi"})
    added = client.post(url, base | {"action": "add_rule:0"}, HTTP_HX_REQUEST="true")
    html = added.content.decode()
    assert html.lstrip().startswith('<fieldset id="rule-builder"') and 'name="r-0-1-field"' in html
    assert added["HX-Trigger-After-Settle"] == "rules-changed"
    grouped = client.post(url, base | {"action": "add_group"}, HTTP_HX_REQUEST="true").content.decode()
    assert 'name="g-1-op"' in grouped
    removed = client.post(url, base | {"action": "remove_rule:0:0"}, HTTP_HX_REQUEST="true").content.decode()
    assert 'name="r-0-0-field"' not in removed
    # a field change re-renders the row with that field's conditions (a touch rule: type, campaign, URL, days)
    touch = _builder_post("x", {"field": "touch", "op": "eq"}) | {"action": "refresh"}
    refreshed = client.post(url, touch, HTTP_HX_REQUEST="true").content.decode()
    assert 'name="r-0-0-days"' in refreshed and 'value="exists" selected' in refreshed


def test_edit_keeps_the_kind_and_shows_the_rules(client, marketer):
    segment = SegmentFactory(rules=SEMI | {"rules": [*SEMI["rules"], {"field": "owner", "op": "empty"}]})
    client.force_login(marketer)
    html = client.get(reverse("nurture:segment_edit", args=[segment.pk])).content.decode()
    assert 'name="r-0-0-field"' in html and 'name="r-1-0-field"' in html
    data = _builder_post("改名", {"field": "awareness", "op": "eq", "value": "manifest"}, kind="static")
    assert client.post(reverse("nurture:segment_edit", args=[segment.pk]), data).status_code == 302
    segment.refresh_from_db()
    assert segment.name == "改名" and segment.kind == SegmentKind.DYNAMIC
    assert segment.rules["rules"][0]["rules"][0]["value"] == "manifest"


def test_delete(client, marketer):
    segment = SegmentFactory(rules=SEMI)
    client.force_login(marketer)
    assert client.post(reverse("nurture:segment_delete", args=[segment.pk])).status_code == 302
    assert not Segment.objects.exists()


def test_a_page_escapes_names(client, marketer):
    SegmentFactory(name="<script>alert(1)</script>", rules=SEMI)
    client.force_login(marketer)
    html = client.get(reverse("nurture:segment_list")).content.decode()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


# --- static lists ---


def _upload(client, segment, content: bytes):
    upload = SimpleUploadedFile("list.csv", content, content_type="text/csv")
    return client.post(reverse("nurture:segment_import", args=[segment.pk]), {"file": upload})


def test_csv_import_reports_every_row_in_shift_jis(client, marketer):
    known = segment_lead(email="known@example.jp")
    already = segment_lead(email="already@example.jp")
    segment = SegmentStaticFactory()
    SegmentMemberFactory(segment=segment, lead=already)
    content = (
        "氏名,メールアドレス\n"
        "山田 太郎,Known@Example.jp\n"
        "既存,already@example.jp\n"
        "不明,nobody@example.jp\n"
        "重複,known@example.jp\n"
        "壊れた,これはアドレスではない\n"
    ).encode("cp932")
    client.force_login(marketer)
    response = _upload(client, segment, content)
    html = response.content.decode()
    assert response.status_code == 200 and "Shift_JIS (CP932)" in html
    assert set(SegmentMember.objects.filter(segment=segment).values_list("lead_id", flat=True)) == {
        known.pk,
        already.pk,
    }
    assert re.search(r'id="count-added">1<', html) and re.search(r'id="count-not-found">1<', html)
    for line, email in ((4, "nobody@example.jp"), (5, "known@example.jp"), (6, "これはアドレスではない")):
        assert re.search(rf"<td class=\"num\">{line}</td><td>{re.escape(email)}</td>", html), email


def test_csv_import_of_a_bare_utf8_list_and_of_a_bad_file(client, marketer):
    lead = segment_lead(email="bare@example.jp")
    segment = SegmentStaticFactory()
    client.force_login(marketer)
    assert _upload(client, segment, b"bare@example.jp\nother@example.jp\n").status_code == 200
    assert SegmentMember.objects.filter(segment=segment, lead=lead).exists()
    bad = _upload(client, segment, b"name,company\nx,y\n")
    assert bad.status_code == 422 and "email" in bad.content.decode().lower()


def test_csv_import_is_for_static_lists_only(client, marketer):
    client.force_login(marketer)
    assert _upload(client, SegmentFactory(rules=SEMI), b"email\na@example.jp\n").status_code == 403


def test_lead_list_offers_the_selection_to_a_static_segment(client, marketer, owner):
    a, b = segment_lead(name="選択 一"), segment_lead(name="選択 二")
    client.force_login(marketer)
    html = client.get(reverse("leads:list")).content.decode()
    action = reverse("nurture:segment_add_leads")
    assert f'formaction="{action}"' in html and f'value="{a.pk}" form="lead-bulk"' in html
    asked = client.post(action, {"lead": [a.pk, b.pk]})
    assert asked.status_code == 200 and f'name="lead" value="{b.pk}"' in asked.content.decode()
    done = client.post(action, {"lead": [a.pk, b.pk], "new_name": "展示会 名刺"})
    segment = Segment.objects.get(name="展示会 名刺")
    assert done.status_code == 302 and segment.kind == SegmentKind.STATIC
    assert set(SegmentMember.objects.filter(segment=segment).values_list("lead_id", flat=True)) == {
        a.pk,
        b.pk,
    }
    again = client.post(action, {"lead": [a.pk], "segment": segment.pk})
    assert again.status_code == 302 and SegmentMember.objects.filter(segment=segment).count() == 2
    client.force_login(owner)
    # a rep has the lead list's bulk bar (leads' own bulk jobs), without the segment button
    assert f'formaction="{action}"' not in client.get(reverse("leads:list")).content.decode()


def test_removing_members(client, marketer):
    lead = segment_lead()
    segment = SegmentMemberFactory(lead=lead).segment
    client.force_login(marketer)
    response = client.post(reverse("nurture:segment_members_remove", args=[segment.pk]), {"lead": [lead.pk]})
    assert response.status_code == 302 and not SegmentMember.objects.exists()
