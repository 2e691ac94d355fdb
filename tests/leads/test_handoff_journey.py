"""User journey 1 in a real browser: a rep sees the new handoff with its countdown, accepts it, finds the deal."""

import re

from playwright.sync_api import expect

from leads.handoffs import handoff_assign
from leads.models import Handoff
from leads.services import company_resolve, lead_upsert
from pipeline.models import Deal


def test_rep_accepts_a_handoff_and_lands_on_the_new_deal(live_server, page, login, owner):
    company = company_resolve(name="株式会社山田製作所", domain="yamada.example.jp")
    lead, _ = lead_upsert(
        email="hot@yamada.example.jp", source="api", name="山田 太郎", title="部長", company=company
    )
    handoff = Handoff.objects.create(
        lead=lead,
        mql_at=lead.created_at,
        score_at_handoff=72,
        reason="ウェビナー参加 +20, 料金ページ ×3 +15, 部長 +15",
    )
    handoff = handoff_assign(handoff_id=handoff.pk)
    assert handoff.owner == owner

    login(owner)
    page.click("nav.mainnav >> text=引き渡し")
    row = page.locator(f"#handoff-{handoff.pk}")
    expect(row).to_contain_text("山田 太郎")
    expect(row).to_contain_text("ウェビナー参加 +20, 料金ページ ×3 +15, 部長 +15")
    expect(row.locator(".chip-ok, .chip-warn, .chip-bad").first).to_contain_text(re.compile(r"残り|超過"))

    row.get_by_role("button", name="受け入れる").click()
    page.wait_for_url(re.compile(r"/pipeline/deals/\d+/"))
    deal = Deal.objects.get(handoff=handoff)
    expect(page.locator("h1")).to_contain_text("山田")
    assert deal.owner == owner and deal.contact == lead
    handoff.refresh_from_db()
    assert handoff.state == Handoff.State.ACCEPTED
