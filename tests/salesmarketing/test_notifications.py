import datetime as dt

import pytest
from django.conf import settings
from django.utils import translation

from leads.handoffs import messages as handoff_messages
from salesmarketing.services import notification_send
from tests.salesmarketing.factories import NotificationFactory, notify


@pytest.mark.django_db
def test_bell_shows_unread_count_and_htmx_refreshes_it(owner_client, owner, outsider):
    notify(recipient=owner, title="新しい引き渡し")
    notify(recipient=owner, title="SLA 期限が近づいています")
    NotificationFactory(recipient=outsider)
    page = owner_client.get("/").content.decode()
    assert 'id="bell-count">2<' in page
    bell = owner_client.get("/notifications/?part=bell", HTTP_HX_REQUEST="true")
    assert bell.status_code == 200
    assert 'id="bell-count">2<' in bell.content.decode()
    assert "<html" not in bell.content.decode()


@pytest.mark.django_db
def test_list_shows_only_my_notifications_and_marks_read(owner_client, owner, outsider):
    notify(recipient=owner, title="自分宛て <b>太字</b>")
    NotificationFactory(recipient=outsider, title="他人宛て")
    html = owner_client.get("/notifications/").content.decode()
    assert "自分宛て &lt;b&gt;太字&lt;/b&gt;" in html
    assert "他人宛て" not in html
    response = owner_client.post("/notifications/read", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert owner.notifications.filter(read_at__isnull=True).count() == 0
    assert outsider.notifications.filter(read_at__isnull=True).count() == 1


@pytest.mark.django_db
def test_email_goes_out_only_after_commit(owner, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        notify(recipient=owner, title="SLA 超過", body="対応してください", email=True)
    assert [m.subject for m in mailoutbox] == ["SLA 超過"]
    assert mailoutbox[0].to == [owner.email]


@pytest.mark.django_db
def test_a_notification_is_rendered_in_each_readers_language(client, owner):
    """Stored as a kind and parameters: the same row reads in Japanese or English, dates in that language's
    style and time zone, choice codes through their translated labels."""
    due = dt.datetime(2026, 12, 4, 1, 30, tzinfo=dt.UTC)  # 10:30 in Tokyo
    with translation.override("ja"):  # whatever language the sender had
        notification_send(
            recipient=owner,
            message=handoff_messages.NEW_LEAD,
            params=handoff_messages.NEW_LEAD.params(lead="東邦 課長", lead_id=1, why="価格ページ", due=due),
        )
        notification_send(
            recipient=owner,
            message=handoff_messages.REJECTED,
            params={
                "campaign": "展示会",
                "reason": "too_early",
                "lead": "東邦 課長",
                "lead_id": 1,
                "note": "来期",
            },
        )
    client.force_login(owner)

    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    english = client.get("/notifications/").content.decode()
    assert "New lead to call: 東邦 課長" in english
    assert "First touch due: Dec 4, 2026 10:30" in english
    assert "Sales rejected a lead from 展示会: Too early (recycle to nurture)" in english

    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ja"
    japanese = client.get("/notifications/").content.decode()
    assert "連絡すべき新しいリード：東邦 課長" in japanese
    assert "2026/12/04 10:30" in japanese
    assert "時期尚早 (再育成へ)" in japanese and "New lead" not in japanese


@pytest.mark.django_db
def test_the_email_is_written_in_the_recipients_language(
    owner, mailoutbox, django_capture_on_commit_callbacks
):
    owner.language = "en"
    owner.save(update_fields=["language"])
    with translation.override("ja"), django_capture_on_commit_callbacks(execute=True):
        notification_send(
            recipient=owner,
            message=handoff_messages.SLA_BREACHED,
            params={"lead": "東邦 課長", "lead_id": 1, "rep": "担当 太郎"},
            url="/leads/handoffs/",
            email=True,
        )
    assert [m.subject for m in mailoutbox] == ["SLA breached: 東邦 課長 was not contacted by 担当 太郎"]
    assert mailoutbox[0].body.endswith("/leads/handoffs/")


@pytest.mark.django_db
def test_switching_languages_is_remembered_for_the_emails(client, owner):
    client.force_login(owner)
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302
    owner.refresh_from_db()
    assert owner.language == "en"
    client.post("/i18n/setlang/", {"language": "xx", "next": "/"})  # not one of ours: nothing changes
    owner.refresh_from_db()
    assert owner.language == "en"


@pytest.mark.django_db
def test_logging_in_keeps_the_language_chosen_or_restores_the_users(client, owner):
    owner.language = "en"
    owner.save(update_fields=["language"])
    response = client.post("/accounts/login/", {"username": "owner", "password": "pw-for-tests-1"})
    assert response.status_code == 302
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"  # a new browser gets the user's

    client.logout()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ja"  # chosen on the login page
    client.post("/accounts/login/", {"username": "owner", "password": "pw-for-tests-1"})
    owner.refresh_from_db()
    assert owner.language == "ja"
