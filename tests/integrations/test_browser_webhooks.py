"""An admin's way in a real Chromium: create a webhook (the secret shows once), send a test event, see it in the
log, and redeliver it from the log (an HTMX post with the CSRF header)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from integrations.models import WebhookDelivery, WebhookSubscription

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_create_test_and_redeliver_a_webhook(login, live_server, admin, receiver):
    page = login(admin)
    page.get_by_text("管理 者").click()  # the user menu
    page.get_by_role("link", name="外部連携").click()
    page.fill("input[name=name]", "CRM 同期")
    page.fill("input[name=url]", f"{receiver.url}/hook")
    page.get_by_label("受注").check()
    page.get_by_role("button", name="Webhook を作成").click()

    secret = page.locator("#new-webhook-secret").inner_text()
    assert secret == WebhookSubscription.objects.get().secret
    receiver.secret = secret

    page.get_by_role("link", name="CRM 同期").click()
    page.get_by_role("button", name="テストイベントを送信").click()
    row = page.locator("tbody tr").first
    expect(row).to_contain_text("webhook.test")
    expect(row).to_contain_text("200")
    assert [r.signature_ok for r in receiver.requests] == [True]

    delivery = WebhookDelivery.objects.get()
    row.get_by_role("button", name="再配信").click()
    expect(page.locator(f"#delivery-{delivery.pk}")).to_contain_text("配信済み")
    page.wait_for_timeout(200)
    assert len(receiver.requests) == 2 and all(r.signature_ok for r in receiver.requests)
    assert receiver.requests[0].headers["X-SM-Event-Id"] == receiver.requests[1].headers["X-SM-Event-Id"]
    assert WebhookDelivery.objects.get().attempts == 2
