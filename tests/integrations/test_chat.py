"""Team chat: a team's channel gets its handoffs, SLA breaches, rejections and won deals, in the channel's
language and in each service's request shape, posted to a real receiver on loopback."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from integrations.models import TeamChannel, WebhookDelivery
from integrations.services import channel_save, delivery_attempt, events_fan_out
from leads.handoffs import handoff_assign, handoff_reject
from leads.handoffs.services import sla_check
from leads.models import Handoff
from pipeline.services import deal_change_stage
from salesmarketing.models import DomainEvent
from tests.leads.factories import make_lead
from tests.pipeline.factories import make_deal

pytestmark = pytest.mark.django_db

ASSIGNED = {
    "en": (
        "New handoff: 山田 花子",
        "山田 花子 was handed to 担当 太郎. Make the first call before the SLA is due.",
    ),
    "ja": (
        "新しい引き渡し: 山田 花子",
        "山田 花子 を 担当 太郎 に引き渡しました。SLA の期限までに最初の連絡をしてください。",
    ),
}


def _channel(team, receiver, provider: str, language: str) -> TeamChannel:
    if provider == TeamChannel.Provider.CHATWORK:
        return channel_save(
            team=team,
            provider=provider,
            language=language,
            kinds=TeamChannel.KINDS,
            room_id="12345",
            token="cw-tok",
        )
    return channel_save(
        team=team,
        provider=provider,
        language=language,
        kinds=TeamChannel.KINDS,
        url=f"{receiver.url}/incoming",
    )


def _deliver_all() -> list[str]:
    events_fan_out(event_ids=list(DomainEvent.objects.values_list("pk", flat=True)))
    return [
        delivery_attempt(delivery_id=pk)
        for pk in WebhookDelivery.objects.order_by("pk").values_list("pk", flat=True)
    ]


def _assign(lead_name: str = "山田 花子") -> Handoff:
    lead = make_lead("hanako@example.jp", name=lead_name, phone="03-1111-2222")
    return handoff_assign(handoff_id=Handoff.objects.create(lead=lead, mql_at=timezone.now()).pk)


@pytest.mark.parametrize("language", ["en", "ja"])
@pytest.mark.parametrize("provider", ["slack", "teams", "chatwork", "lineworks"])
def test_a_new_handoff_is_posted_in_the_services_shape_and_the_channels_language(
    provider, language, receiver, owner, settings
):
    settings.CHATWORK_API_BASE = f"{receiver.url}/v2"
    _channel(owner.team, receiver, provider, language)
    handoff = _assign()
    assert _deliver_all() == ["delivered"]

    [request] = receiver.requests
    title, text = ASSIGNED[language]
    link = f"https://sm.example.jp/leads/{handoff.lead_id}/"
    if provider == "slack":
        assert request.path == "/incoming"
        assert request.json() == {"text": f"*{title}*\n{text}\n<{link}>"}
    elif provider == "teams":
        body = request.json()
        assert body["type"] == "message"
        [attachment] = body["attachments"]
        assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
        card = attachment["content"]
        assert card["type"] == "AdaptiveCard"
        assert [block["text"] for block in card["body"]] == [title, text]
        assert card["actions"][0]["url"] == link
    elif provider == "lineworks":
        assert request.json() == {"title": title, "body": {"text": f"{text}\n{link}"}}
    else:
        assert request.path == "/v2/rooms/12345/messages"
        assert request.headers["X-ChatWorkToken"] == "cw-tok"
        assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
        assert request.form() == {"body": [f"[info][title]{title}[/title]{text}\n{link}[/info]"]}
    # The team needs the lead's name, not its contact details.
    assert "hanako@example.jp" not in request.body.decode() and "03-1111" not in request.body.decode()


@pytest.mark.parametrize(
    ("language", "breached", "rejected", "won"),
    [
        (
            "en",
            "*SLA breached: 山田 花子*\n担当 太郎 has not contacted 山田 花子 in time.",
            "*Handoff rejected: 鈴木 一郎*\n担当 太郎 rejected 鈴木 一郎: Too early (recycle to nurture)",
            "*Deal won: 北斗物流 勤怠*\n担当 太郎 won 北斗物流 勤怠 for ¥3,000,000.",
        ),
        (
            "ja",
            "*SLA 超過: 山田 花子*\n担当 太郎 は期限までに 山田 花子 へ連絡していません。",
            "*引き渡し却下: 鈴木 一郎*\n担当 太郎 が 鈴木 一郎 を却下しました: 時期尚早 (再育成へ)",
            "*受注: 北斗物流 勤怠*\n担当 太郎 が 北斗物流 勤怠 を 3,000,000円 で受注しました。",
        ),
    ],
)
def test_breaches_rejections_and_won_deals_are_posted(
    language, breached, rejected, won, receiver, owner, stages
):
    handoff = _assign()
    _channel(owner.team, receiver, "slack", language)  # after the assignment: only what follows is posted
    DomainEvent.objects.update(dispatched_at=timezone.now())
    sla_check(now=handoff.sla_due_at + dt.timedelta(minutes=1))
    other = handoff_assign(
        handoff_id=Handoff.objects.create(lead=make_lead(name="鈴木 一郎"), mql_at=timezone.now()).pk
    )
    handoff_reject(handoff=other, by=owner, reason=Handoff.RejectReason.TOO_EARLY, note="内緒のメモ")
    deal = make_deal(owner=owner, name="北斗物流 勤怠")
    deal_change_stage(deal=deal, stage=stages["Won"], by=owner, amount=3_000_000)
    _deliver_all()

    texts = [r.json()["text"].rsplit("\n", 1)[0] for r in receiver.requests]
    assert texts[0] == breached
    assert texts[-2:] == [rejected, won]
    assert texts[1].startswith("*") and len(texts) == 4  # the second handoff's assignment, between them
    assert "内緒" not in str(texts)


def test_another_teams_channel_and_other_kinds_get_nothing(receiver, owner, outsider):
    _channel(outsider.team, receiver, "slack", "ja")
    _assign()
    make_deal(owner=owner)  # deal created: not a chat event
    _deliver_all()
    assert receiver.requests == []
    assert not WebhookDelivery.objects.exists()


def test_a_channel_needs_its_target(owner, allow_loopback):
    with pytest.raises(ValidationError):
        channel_save(team=owner.team, provider="slack", language="ja", kinds=TeamChannel.KINDS)
    with pytest.raises(ValidationError):
        channel_save(
            team=owner.team, provider="chatwork", language="ja", kinds=TeamChannel.KINDS, room_id="x1"
        )
    with pytest.raises(ValidationError):  # no event chosen
        channel_save(
            team=owner.team, provider="teams", language="ja", kinds=[], url="https://93.184.215.14/x"
        )
    assert not TeamChannel.objects.exists()


def test_a_channels_deliveries_show_on_its_page_and_a_failed_one_is_sent_again(
    client, receiver, owner, django_capture_on_commit_callbacks
):
    from django.urls import reverse

    from tests.salesmarketing.factories import UserFactory

    channel = _channel(owner.team, receiver, TeamChannel.Provider.SLACK, "ja")
    receiver.statuses.append(500)  # the chat service is down, once
    _assign()
    events_fan_out(event_ids=list(DomainEvent.objects.values_list("pk", flat=True)))
    [delivery] = WebhookDelivery.objects.filter(channel=channel)
    delivery_attempt(delivery_id=delivery.pk)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(state=WebhookDelivery.State.FAILED)

    client.force_login(UserFactory(role="admin"))
    url = reverse("integrations:chat_edit", args=[owner.team.pk])
    page = client.get(url).content.decode()
    row = page[page.index(f'<tr id="delivery-{delivery.pk}"') :]
    assert "500" in row.split("</tr>")[0] and "handoff.assigned" in row.split("</tr>")[0]

    # back up: the admin sends it again from the log
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("integrations:redeliver", args=[delivery.pk]))
    assert response.status_code == 302 and response["Location"] == url
    delivery.refresh_from_db()
    assert delivery.state == WebhookDelivery.State.DELIVERED and delivery.attempts == 2
