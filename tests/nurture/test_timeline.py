"""A lead's nurture history on its timeline (nurture.timeline, hooks.LEAD_TIMELINE): enrolments, step e-mails with
opened / clicked, exits with their reason and broadcasts, among the touches in time order, in the timeline's one
statement and its keyset pages."""

from __future__ import annotations

import datetime as dt
import itertools
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from leads.choices import LifecycleStage, TouchType
from leads.detail.selectors import TIMELINE_PAGE
from leads.handoffs.services import handoff_reject
from leads.models import Handoff, Lead, Touch
from nurture.models import (
    Broadcast,
    BroadcastSend,
    Enrolment,
    EnrolmentSource,
    EnrolmentState,
    ExitReason,
    SendStatus,
    StepSend,
)
from nurture.sequences.sending import tracking_id
from tests.leads.factories import CampaignFactory, HandoffFactory, make_lead
from tests.nurture.factories import MailTemplateFactory, sequence_make
from tests.nurture.mail_fixtures import mail_lead, mail_segment

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)
_seq = itertools.count(1)


def _ago(hours: float) -> dt.datetime:
    return NOW - dt.timedelta(hours=hours)


def _touch(lead, hours: float, *, type=TouchType.PAGE_VIEW, key: str, **fields) -> Touch:
    return Touch.objects.create(
        lead=lead,
        type=type,
        occurred_at=_ago(hours),
        source="t",
        idempotency_key=f"{key}-{next(_seq)}",
        **fields,
    )


def _history(lead, by, *, name: str = "<b>導入</b>ステップ") -> None:
    """Enrolled by hand 50 hours ago, step 1 sent 40 hours ago (opened and clicked), step 2 sent 20 hours ago,
    exited as unsubscribed 5 hours ago; a newsletter sent 30 hours ago (opened); a second enrolment that
    completed; touches between them."""
    sequence = sequence_make(steps=2, name=name)
    first, second = sequence.steps.order_by("position")
    enrolment = Enrolment.objects.create(
        sequence=sequence, lead=lead, source=EnrolmentSource.MANUAL, enrolled_at=_ago(50), enrolled_by=by,
        state=EnrolmentState.EXITED, exit_reason=ExitReason.UNSUBSCRIBED, ended_at=_ago(5),
    )  # fmt: skip
    StepSend.objects.create(enrolment=enrolment, step=first, status=SendStatus.SENT, sent_at=_ago(40))
    StepSend.objects.create(enrolment=enrolment, step=second, status=SendStatus.SENT, sent_at=_ago(20))
    StepSend.objects.create(  # skipped: not on the timeline
        enrolment=Enrolment.objects.create(
            sequence=sequence_make(steps=1, name="完了したステップ"), lead=lead, enrolled_at=_ago(60),
            source=EnrolmentSource.HANDOFF_REJECTED, state=EnrolmentState.COMPLETED, ended_at=_ago(55),
        ),
        step=first, status=SendStatus.SKIPPED,
    )  # fmt: skip
    message = {"message": tracking_id(first.pk, lead.pk)}
    _touch(lead, 39, type=TouchType.EMAIL_OPEN, key="open", properties=message)
    _touch(lead, 38, type=TouchType.EMAIL_CLICK, key="click", properties=message, url="https://example.jp/s")
    broadcast = Broadcast.objects.create(
        name="月刊ニュースレター <12月号>", template=MailTemplateFactory(), segment=mail_segment([lead]),
        campaign=CampaignFactory(), throttle_per_minute=60,
    )  # fmt: skip
    BroadcastSend.objects.create(broadcast=broadcast, lead=lead, status=SendStatus.SENT, sent_at=_ago(30))
    _touch(
        lead,
        29,
        type=TouchType.EMAIL_OPEN,
        key="b-open",
        properties={"message": f"b{broadcast.pk}-{lead.pk}"},
    )
    _touch(lead, 45, key="page", url="https://www.example.jp/pricing")


def _entries(html: str) -> list[str]:
    return re.findall(r'<li class="(tl-[^"]+)"', html)


def test_the_nurture_history_is_on_the_timeline_among_the_touches(client, marketer, owner):
    lead = make_lead(owner=owner, name="育成 太郎")
    _history(lead, marketer)
    client.force_login(marketer)
    html = client.get(reverse("leads:detail", args=[lead.pk]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert _entries(html) == [
        "tl-nurture tl-nurture-ended",  # 5 h: left, unsubscribed
        "tl-nurture tl-nurture-step",  # 20 h: step 2
        "tl-email_open",  # 29 h
        "tl-nurture tl-nurture-broadcast",  # 30 h
        "tl-email_click",  # 38 h
        "tl-email_open",  # 39 h
        "tl-nurture tl-nurture-step",  # 40 h: step 1
        "tl-page_view",  # 45 h
        "tl-nurture tl-nurture-enrolled",  # 50 h
        "tl-nurture tl-nurture-ended",  # 55 h: the other one completed
        "tl-nurture tl-nurture-enrolled",  # 60 h
    ]
    assert "Left the sequence" in html and "Reason: Unsubscribed" in html
    assert "Completed the sequence" in html and "Handoff rejected" in html
    assert "Step e-mail 1 sent" in html and "Step e-mail 2 sent" in html
    assert "Enrolled in a sequence" in html and "By hand · 広報 桜" in html
    # opened and clicked: step 1 both, the newsletter opened, step 2 neither
    assert html.count(">Opened<") == 2 and html.count(">Clicked<") == 1
    # sequence and newsletter names are user content, linked for those who manage them
    assert "&lt;b&gt;導入&lt;/b&gt;ステップ" in html and "<b>導入" not in html
    assert "月刊ニュースレター &lt;12月号&gt;" in html
    sequence_url = reverse(
        "nurture:sequence_detail", args=[Enrolment.objects.filter(lead=lead).first().sequence_id]
    )
    assert f'href="{sequence_url}"' in html

    # In Japanese too; the lead's owner (a rep) sees the history, without links to pages reps cannot open.
    client.force_login(owner)
    html = client.get(reverse("leads:detail", args=[lead.pk]), HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert len(_entries(html)) == 11
    assert "ステップメールに登録" in html and "理由: 配信停止" in html and "メルマガ送信" in html
    assert f'href="{sequence_url}"' not in html and "&lt;b&gt;導入&lt;/b&gt;ステップ" in html


def test_a_rejected_handoffs_enrolment_says_why_and_a_removal_by_hand_says_who(client, marketer, owner):
    sequence = sequence_make(steps=1, name="再育成", on_reject_too_early=True)
    lead = mail_lead("early@sample.example.jp", owner=owner)
    Lead.objects.filter(pk=lead.pk).update(lifecycle_stage=LifecycleStage.MQL)
    handoff = HandoffFactory(lead=lead, owner=owner, team=owner.team, state=Handoff.State.ASSIGNED)
    handoff_reject(handoff=handoff, by=owner, reason=Handoff.RejectReason.TOO_EARLY)
    enrolment = Enrolment.objects.get(lead=lead, sequence=sequence)
    client.force_login(marketer)

    response = client.post(
        reverse("nurture:sequence_enrolment_remove", args=[sequence.pk, enrolment.pk]),
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert response.status_code == 302
    enrolment.refresh_from_db()
    assert (enrolment.exit_reason, enrolment.ended_by) == (ExitReason.REMOVED, marketer)
    html = client.get(reverse("leads:detail", args=[lead.pk]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Handoff rejected: Too early (recycle to nurture) · 担当 太郎" in html  # how, why, by whom
    assert "Reason: Removed by hand · by 広報 桜" in html
    html = client.get(
        reverse("nurture:sequence_detail", args=[sequence.pk]), HTTP_ACCEPT_LANGUAGE="en"
    ).content
    assert "Removed by hand (by 広報 桜)" in html.decode()
    assert "Handoff rejected (Too early (recycle to nurture))" in html.decode()
    html = client.get(reverse("leads:detail", args=[lead.pk]), HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert "操作者: 広報 桜" in html


def test_a_rep_who_may_not_see_the_lead_gets_404(client, marketer, outsider, owner):
    lead = make_lead(owner=owner)
    _history(lead, marketer)
    client.force_login(outsider)
    url = reverse("leads:detail", args=[lead.pk])
    assert client.get(url).status_code == 404
    assert client.get(url, {"before": "1-nurture_step-1"}, HTTP_HX_REQUEST="true").status_code == 404


def test_pages_go_back_through_touches_and_nurture_rows_by_keyset(
    client, owner, marketer, django_assert_num_queries
):
    lead = make_lead(owner=owner)
    _history(lead, marketer)  # 11 entries, 5 to 60 hours ago
    # 45 page views at the same moment as step 1 (40 hours ago): the page boundary falls among rows at one time.
    Touch.objects.bulk_create(
        Touch(lead=lead, type=TouchType.PAGE_VIEW, occurred_at=_ago(40), url=f"https://www.example.jp/p/{i}",
              source="t", idempotency_key=f"same-{i}")
        for i in range(45)
    )  # fmt: skip
    client.force_login(owner)
    html = client.get(reverse("leads:detail", args=[lead.pk])).content.decode()
    entries, urls, pages = _entries(html), re.findall(r"https://www\.example\.jp/p/(\d+)", html), 1
    assert len(entries) == TIMELINE_PAGE + 1 and entries[-1] == "tl-older"
    while (older := re.search(r'hx-get="([^"]+before=[^"]+)"', html)) is not None:
        # 4: session, the user, the lead (its visibility), one page of the timeline (touches and nurture rows)
        with django_assert_num_queries(4):
            html = client.get(older.group(1).replace("&amp;", "&"), HTTP_HX_REQUEST="true").content.decode()
        entries += _entries(html)
        urls += re.findall(r"https://www\.example\.jp/p/(\d+)", html)
        pages += 1
    nurture = "tl-nurture tl-nurture-"
    assert pages == 2 and [e for e in entries if e != "tl-older"] == [
        f"{nurture}ended", f"{nurture}step", "tl-email_open", f"{nurture}broadcast", "tl-email_click",
        "tl-email_open",
        *["tl-page_view"] * 45,  # 40 hours ago: the touches, then step 1 (ties go by kind, then newest id first)
        f"{nurture}step", "tl-page_view", f"{nurture}enrolled", f"{nurture}ended", f"{nurture}enrolled",
    ]  # fmt: skip
    assert sorted(map(int, urls)) == list(range(45))  # every touch once


def test_the_lead_page_costs_the_same_with_a_nurture_history(client, marketer, django_assert_num_queries):
    lead = make_lead()
    client.force_login(marketer)
    url = reverse("leads:detail", args=[lead.pk])
    client.get(url)
    # 7, as without nurture (tests/leads/test_lead_pages.py): the timeline's one statement reads its rows too.
    with django_assert_num_queries(7):
        client.get(url)
    for _ in range(3):
        _history(lead, marketer)
    with django_assert_num_queries(7):
        html = client.get(url).content.decode()
    assert html.count("tl-nurture-enrolled") == 6 and html.count("tl-nurture-broadcast") == 3
