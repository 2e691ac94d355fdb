"""Records people keep: leads and companies created and edited by hand, the 名刺 entry, the company list and the
account page — services, forms with their errors next to the fields, access (404), pinned query counts."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import escape

from leads.choices import ConsentMethod, LeadSource, LifecycleStage
from leads.lifecycle import lead_lifecycle_change
from leads.models import Company, Handoff, Lead, LifecycleChange
from leads.models.companies import corporate_number_is_valid
from leads.records import services
from leads.records.normalize import company_name_key, work_domain
from tests.leads.factories import make_company, make_lead

pytestmark = pytest.mark.django_db

TOYOTA = "1180301018771"  # トヨタ自動車 (published by the National Tax Agency)
NTA = "7000012050002"  # 国税庁


# --- Normalising and checking ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("（株）監査テスト", "株式会社監査テスト"),
        ("㈱監査テスト", "監査テスト株式会社"),
        ("株式会社　ＡＢＣ商事", "abc商事"),
        ("有限会社 山田工務店", "山田工務店"),
        ("合同会社ﾃｽﾄ", "テスト"),
    ],
)
def test_company_names_compare_after_normalising(a, b):
    assert company_name_key(a) == company_name_key(b)


def test_different_companies_stay_different():
    assert company_name_key("株式会社山田製作所") != company_name_key("株式会社山田商事")


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        (TOYOTA, True),
        (NTA, True),
        ("2180301018771", False),
        ("118030101877", False),
        ("11803010187７1", False),
        ("", False),
    ],
)
def test_the_corporate_number_check_digit(number, valid):
    assert corporate_number_is_valid(number) is valid


def test_free_mail_tells_no_company_domain():
    assert work_domain("taro@gmail.com") == ""
    assert work_domain("Taro@Kansa.Example.JP") == "kansa.example.jp"


# --- Services -------------------------------------------------------------------------------------------------


def test_company_rules_are_reported_by_field(owner):
    services.company_create(
        by=owner, name="トヨタ自動車株式会社", corporate_number=TOYOTA, domain="toyota.example.jp"
    )
    with pytest.raises(ValidationError) as excinfo:
        services.company_create(
            by=owner, name="偽トヨタ", corporate_number=TOYOTA, domain="TOYOTA.example.jp"
        )
    assert set(excinfo.value.message_dict) == {"corporate_number", "domain"}
    with pytest.raises(ValidationError) as excinfo:
        services.company_create(by=owner, name="誤り", corporate_number="2180301018771")
    assert set(excinfo.value.message_dict) == {"corporate_number"}


def test_a_company_cannot_be_its_own_ancestor(owner):
    group = services.company_create(by=owner, name="親会社")
    child = services.company_create(by=owner, name="子会社", parent=group)
    with pytest.raises(ValidationError) as excinfo:
        services.company_edit(company=group, by=owner, parent=child)
    assert set(excinfo.value.message_dict) == {"parent"}


def test_a_lead_with_consent_needs_its_proof(owner):
    with pytest.raises(ValidationError) as excinfo:
        services.lead_create(by=owner, email="a@example.jp", name="甲", consent_email=True)
    assert set(excinfo.value.message_dict) == {"consent_method", "consent_wording"}
    lead = services.lead_create(
        by=owner,
        email="A@Example.jp",
        name="甲",
        consent_email=True,
        consent_method=ConsentMethod.IN_PERSON,
        consent_wording="メールマガジンの送付に同意します",
    )
    assert (lead.email, lead.source, lead.consent_at is not None) == ("a@example.jp", LeadSource.MANUAL, True)
    with pytest.raises(ValidationError) as excinfo:
        services.lead_create(by=owner, email="a@EXAMPLE.jp", name="乙")
    assert set(excinfo.value.message_dict) == {"email"}


def test_a_business_card_matches_the_existing_company_by_name_or_domain(owner):
    kansa = services.company_create(by=owner, name="株式会社監査テスト")
    first = services.business_card_enter(
        by=owner,
        name="監査 一郎",
        email="ichiro@gmail.com",
        company_name="（株）監査テスト",
        consent_email=True,
    )
    assert first.company == kansa
    assert (first.owner, first.source, first.consent_method) == (
        owner,
        LeadSource.BUSINESS_CARD,
        "business_card",
    )
    hoge = services.company_create(by=owner, name="ホゲ工業", domain="hoge.example.jp")
    second = services.business_card_enter(
        by=owner, name="保下 二郎", email="jiro@hoge.example.jp", company_name="ほげ"
    )
    assert second.company == hoge
    third = services.business_card_enter(
        by=owner, name="新規 三郎", email="s@new.example.jp", company_name="新規商事"
    )
    assert (third.company.name, third.company.domain) == ("新規商事", "new.example.jp")
    assert Company.objects.count() == 3


def test_a_business_card_with_a_taken_email_creates_nothing(owner):
    make_lead("taken@dup.example.jp")
    with pytest.raises(ValidationError):
        services.business_card_enter(
            by=owner, name="重複", email="taken@dup.example.jp", company_name="重複会社"
        )
    assert not Company.objects.filter(name="重複会社").exists()


# --- Pages ----------------------------------------------------------------------------------------------------


def test_a_rep_enters_a_business_card_from_the_lead_list(client, owner):
    client.force_login(owner)
    assert "/leads/business-card" in client.get("/leads/").content.decode()
    response = client.post(
        "/leads/business-card",
        {"company_name": "株式会社名刺テスト", "name": "名刺 太郎", "email": "taro@meishi.example.jp",
         "met_on": "2026-12-01", "consent_email": "on"},
    )  # fmt: skip
    lead = Lead.objects.get(email="taro@meishi.example.jp")
    assert response.status_code == 302 and response["Location"] == lead.get_absolute_url()
    assert lead.owner == owner and lead.company.name == "株式会社名刺テスト"
    assert client.get(lead.get_absolute_url()).status_code == 200
    assert "名刺 太郎" in client.get("/leads/", {"q": "名刺"}).content.decode()


def _said(html: str, message: str) -> bool:
    """Whether the page shows `message`, in whichever language it was answered."""
    return any(escape(translate(message, lang)) in html for lang in ("en", "ja"))


def translate(message: str, lang: str) -> str:
    with translation.override(lang):
        return translation.gettext(message)


def test_a_company_made_from_a_card_is_the_reps_and_a_found_one_keeps_its_owner(owner, teammate):
    kept = services.company_create(by=teammate, owner=teammate, name="株式会社既存担当")
    made = services.business_card_enter(
        by=owner, name="新規 一郎", email="ichiro@card-new.example.jp", company_name="株式会社名刺新規"
    )
    found = services.business_card_enter(
        by=owner, name="既存 二郎", email="jiro@example.jp", company_name="（株）既存担当"
    )
    assert made.company.owner == owner
    assert found.company == kept and Company.objects.get(pk=kept.pk).owner == teammate


def test_a_company_made_from_the_lead_form_is_the_leads_owners(client, owner, teammate, manager, marketer):
    client.force_login(manager)  # a manager gives the new lead to a rep: the new company is the rep's too
    client.post(
        "/leads/new", {"name": "甲", "email": "a@example.jp", "company_name": "甲商事", "owner": teammate.pk}
    )
    client.force_login(marketer)  # marketing enters a lead nobody owns yet: so is its company
    client.post("/leads/new", {"name": "乙", "email": "b@example.jp", "company_name": "乙商事", "owner": ""})
    owners = dict(Company.objects.filter(name__in=["甲商事", "乙商事"]).values_list("name", "owner"))
    assert owners == {"甲商事": teammate.pk, "乙商事": None}
    assert Lead.objects.get(email="a@example.jp").owner == teammate


def test_forms_show_errors_next_to_their_fields(client, owner):
    make_lead("taken@example.jp")
    client.force_login(owner)
    html = client.post(
        "/leads/business-card", {"company_name": "社", "name": "", "email": "nope"}
    ).content.decode()
    assert html.count('class="error"') >= 2 and "has-error" in html
    html = client.post(
        "/leads/new", {"name": "乙", "email": "taken@example.jp", "owner": owner.pk}
    ).content.decode()
    assert _said(html, "A lead with this email already exists.")
    html = client.post(
        "/leads/companies/new", {"name": "誤り", "corporate_number": "2180301018771", "owner": owner.pk}
    ).content.decode()
    assert _said(html, "A corporate number (法人番号) is 13 digits with a valid check digit.")
    assert not Company.objects.filter(name="誤り").exists()


def test_editing_a_lead_and_its_company(client, owner):
    lead = make_lead("edit@example.jp", owner=owner)
    client.force_login(owner)
    response = client.post(
        f"/leads/{lead.pk}/edit",
        {"name": "編集 後", "name_kana": "ヘンシュウ アト", "company_name": "編集商事", "department": "営業部",
         "title": "部長", "email": "edit@example.jp", "phone": "03-1234-5678", "owner": owner.pk},
    )  # fmt: skip
    assert response.status_code == 302
    lead.refresh_from_db()
    assert (lead.name_kana, lead.company.name, lead.title) == ("ヘンシュウ アト", "編集商事", "部長")
    company = lead.company
    assert company.owner == owner  # made from the lead form: the lead's owner's
    response = client.post(
        f"/leads/companies/{company.pk}/edit",
        {"name": "編集商事", "name_kana": "ヘンシュウショウジ", "corporate_number": NTA, "industry": "it",
         "employee_count": 120, "prefecture": "大阪府", "address": "大阪市北区1-1", "owner": owner.pk},
    )  # fmt: skip
    assert response.status_code == 302
    company.refresh_from_db()
    assert (company.corporate_number, company.region, company.address) == (NTA, "kinki", "大阪市北区1-1")


def test_a_rep_may_not_give_a_lead_to_another_team_or_to_nobody(client, owner, outsider):
    client.force_login(owner)
    html = client.post("/leads/new", {"name": "甲", "email": "x@example.jp", "owner": ""}).content.decode()
    assert "has-error" in html
    html = client.post(
        "/leads/new", {"name": "甲", "email": "x@example.jp", "owner": outsider.pk}
    ).content.decode()
    assert "has-error" in html
    assert not Lead.objects.filter(email="x@example.jp").exists()


def test_other_teams_records_answer_404(client, owner, outsider):
    company = make_company()
    lead = make_lead(owner=outsider, company=company)
    client.force_login(owner)
    for url in (
        f"/leads/{lead.pk}/edit",
        f"/leads/companies/{company.pk}/",
        f"/leads/companies/{company.pk}/edit",
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/leads/{lead.pk}/lifecycle", {"stage": "customer", "reason": "x"}).status_code == 404
    assert company.name not in client.get("/leads/companies/").content.decode()
    client.force_login(outsider)
    assert client.get(f"/leads/companies/{company.pk}/").status_code == 200
    assert company.name in client.get("/leads/companies/").content.decode()


def test_a_stage_is_changed_by_hand_with_a_reason_on_the_lead_page(client, owner):
    lead = make_lead(owner=owner)
    client.force_login(owner)
    html = client.post(
        f"/leads/{lead.pk}/lifecycle", {"stage": "disqualified", "reason": ""}
    ).content.decode()
    assert "has-error" in html and not LifecycleChange.objects.exists()
    response = client.post(f"/leads/{lead.pk}/lifecycle", {"stage": "disqualified", "reason": "学生だった"})
    assert response.status_code == 302
    change = LifecycleChange.objects.get(lead=lead)
    assert (change.to_stage, change.by, change.reason) == ("disqualified", owner, "学生だった")
    html = client.get(f"/leads/{lead.pk}/").content.decode()
    assert "学生だった" in html and "担当 太郎" in html


def test_company_list_filters(client, marketer, owner):
    big = services.company_create(
        by=owner, owner=owner, name="大企業", industry="it", employee_count=5000, prefecture="東京都"
    )
    small = services.company_create(
        by=owner, name="小企業", industry="retail", employee_count=10, prefecture="大阪府"
    )
    make_lead(company=big, owner=owner)
    lead_lifecycle_change(lead=make_lead(company=small), to=LifecycleStage.CUSTOMER)
    Company.objects.filter(pk=small.pk).update(customer_since="2026-11-01T00:00:00Z")
    client.force_login(marketer)

    def names(**params):
        html = client.get("/leads/companies/", params).content.decode()
        return {name for name in ("大企業", "小企業") if name in html}

    assert names() == {"大企業", "小企業"}
    assert names(industry="it") == {"大企業"}
    assert names(size="enterprise") == {"大企業"}
    assert names(size="small") == {"小企業"}
    assert names(prefecture="大阪府") == {"小企業"}
    assert names(owner=owner.pk) == {"大企業"}
    assert names(customer="yes") == {"小企業"}
    assert names(customer="no") == {"大企業"}
    assert names(q="大企") == {"大企業"}


def _companies(n, prefix):
    Company.objects.bulk_create(
        Company(name=f"{prefix}{i}", domain=f"{prefix}{i}.example.jp", employee_count=i) for i in range(n)
    )


def test_company_list_query_count_does_not_grow(client, owner, django_assert_num_queries):
    client.force_login(owner)
    _companies(3, "few")
    # session, user (team, unread count), the company custom fields' definitions, owners, count, page
    with django_assert_num_queries(6) as few:
        client.get("/leads/companies/")
    _companies(80, "more")
    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get("/leads/companies/")
    assert "83" in response.content.decode()


def _account_history(company, owner, *, n, prefix):
    """n more of every part of the account page: contacts, deals (won too), touches, open handoffs, subsidiaries
    and absorbed companies."""
    from leads.merge.services import company_merge
    from pipeline.models import Deal
    from pipeline.services import deal_close_won
    from tests.leads.factories import TouchFactory
    from tests.pipeline.factories import make_deal

    for i in range(n):
        lead = make_lead(company=company, owner=owner, name=f"{prefix} 担当 {i}")
        TouchFactory(lead=lead)
        Handoff.objects.create(lead=lead, owner=owner, mql_at=timezone.now(), state=Handoff.State.WORKING)
        deal = make_deal(
            owner=owner, company=company, contact=lead, name=f"{prefix} 商談 {i}", amount=1000 * (i + 1)
        )
        if i % 2 == 0:
            deal_close_won(deal=Deal.objects.get(pk=deal.pk), amount=deal.amount, by=owner)
        services.company_create(by=owner, name=f"{prefix} 子会社 {i}", parent=company)
        twin = services.company_create(by=owner, name=f"{prefix} 旧社名 {i}")
        company_merge(survivor_id=company.pk, merged_id=twin.pk, taken={}, by=owner)


def test_account_page_shows_contacts_deals_touches_handoffs_and_revenue(
    client, marketer, owner, django_assert_num_queries
):
    company = make_company("株式会社アカウント")
    lead = make_lead(company=company, owner=owner, name="窓口 一郎")
    _account_history(company, owner, n=1, prefix="few")
    client.force_login(marketer)
    # 5: the layout's 2 (session; the user with team and unread count) and the page's own 3 —
    #   the company (its visibility, with its parent),
    #   the rest in one UNION ALL: contacts (with owners) and their score roll-up, deals (owner, stage) and the
    #   revenue won, recent touches, open handoffs, subsidiaries, the companies it absorbed,
    #   the company's custom fields shown.
    with django_assert_num_queries(5) as few:
        html = client.get(f"/leads/companies/{company.pk}/").content.decode()
    assert "窓口 一郎" in html and "株式会社アカウント" in html
    _account_history(company, owner, n=4, prefix="many")
    with django_assert_num_queries(len(few.captured_queries)):
        html = client.get(f"/leads/companies/{company.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert lead.company == company
    assert html.count("担当 ") >= 6 and html.count("子会社 ") == 5
    assert html.count("旧社名 ") == 5  # the merges it absorbed
    assert "3 deals won" in html and "¥5,000" in html  # the first, third and fifth: 1,000 + 1,000 + 3,000
    assert "商談 " not in html  # marketing acts on no deal
    # the rep sees their deals too, in the same few queries
    client.force_login(owner)
    with django_assert_num_queries(len(few.captured_queries)):
        html = client.get(f"/leads/companies/{company.pk}/").content.decode()
    assert html.count("商談 ") == 5 and "5,000円" in html


def test_the_deal_form_offers_the_business_card_entry(client, owner):
    client.force_login(owner)
    html = client.get(reverse("pipeline:deal_new")).content.decode()
    assert reverse("leads:business_card") in html
