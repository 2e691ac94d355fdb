import pytest

from salesmarketing.services import notification_send
from tests.salesmarketing.factories import NotificationFactory


@pytest.mark.django_db
def test_bell_shows_unread_count_and_htmx_refreshes_it(owner_client, owner, outsider):
    notification_send(recipient=owner, title="新しい引き渡し")
    notification_send(recipient=owner, title="SLA 期限が近づいています")
    NotificationFactory(recipient=outsider)
    page = owner_client.get("/").content.decode()
    assert 'id="bell-count">2<' in page
    bell = owner_client.get("/notifications/?part=bell", HTTP_HX_REQUEST="true")
    assert bell.status_code == 200
    assert 'id="bell-count">2<' in bell.content.decode()
    assert "<html" not in bell.content.decode()


@pytest.mark.django_db
def test_list_shows_only_my_notifications_and_marks_read(owner_client, owner, outsider):
    notification_send(recipient=owner, title="自分宛て <b>太字</b>")
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
        notification_send(recipient=owner, title="SLA 超過", body="対応してください", email=True)
    assert [m.subject for m in mailoutbox] == ["SLA 超過"]
    assert mailoutbox[0].to == [owner.email]
