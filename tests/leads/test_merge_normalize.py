"""Normalising for matching: company names as Japanese companies write them, people's names, kana readings,
phone numbers and mailboxes; the 法人番号's check digit; the keys kept on the rows."""

from __future__ import annotations

import pytest

from leads.models import Company, Lead
from leads.models.companies import corporate_number_is_valid
from leads.records.normalize import company_name_key, email_key, kana_key, phone_key, text_key, work_domain
from tests.leads.factories import make_lead

# (spelling seen in the wild, the key it must share with the others of its company)
COMPANY_NAMES = [
    ("株式会社監査テスト", "監査テスト"),
    ("（株）監査テスト", "監査テスト"),
    ("(株)監査テスト", "監査テスト"),
    ("㈱監査テスト", "監査テスト"),
    ("監査テスト株式会社", "監査テスト"),
    ("株式会社　監査テスト", "監査テスト"),
    (
        "ｶﾌﾞｼｷｶﾞｲｼｬ ｻﾝﾌﾟﾙ",
        "カブシキガイシャサンプル",
    ),  # half-width kana folded to full-width (no legal form in kana)
    ("有限会社山田商店", "山田商店"),
    ("（有）山田商店", "山田商店"),
    ("㈲山田商店", "山田商店"),
    ("合同会社ＡＢＣラボ", "abcラボ"),
    ("ABC ラボ合同会社", "abcラボ"),
    ("ＡＢＣラボ", "abcラボ"),
    ("Ａｃｍｅ　Ｊａｐａｎ株式会社", "acmejapan"),
    ("acme japan", "acmejapan"),
    ("一般社団法人 日本テスト協会", "日本テスト協会"),
    ("株式会社ソニー・テスト", "ソニーテスト"),
]


@pytest.mark.parametrize(("name", "key"), COMPANY_NAMES)
def test_company_names_of_one_company_share_a_key(name, key):
    assert company_name_key(name) == key


def test_different_companies_keep_different_keys():
    assert company_name_key("株式会社監査テスト") != company_name_key("株式会社監査テスト東日本")


@pytest.mark.parametrize(
    ("value", "key"),
    [
        ("ヤマダ タロウ", "ヤマダタロウ"),
        ("やまだ　たろう", "ヤマダタロウ"),
        ("ﾔﾏﾀﾞ ﾀﾛｳ", "ヤマダタロウ"),
        ("ヤマダタロウ", "ヤマダタロウ"),
    ],
)
def test_kana_readings_compare_in_any_script(value, key):
    assert kana_key(value) == key


def test_names_ignore_width_and_spaces():
    assert text_key("山田　太郎") == text_key("山田 太郎") == text_key("山田太郎")
    assert text_key("Ｔａｒｏ Yamada") == "taroyamada"


@pytest.mark.parametrize(
    ("value", "key"),
    [
        ("03-1234-5678", "0312345678"),
        ("０３（１２３４）５６７８", "0312345678"),
        ("+81 3-1234-5678", "0312345678"),
        ("03 1234 5678", "0312345678"),
        ("内線12", ""),  # too short to be a number
        ("", ""),
    ],
)
def test_phone_numbers_compare_by_digits(value, key):
    assert phone_key(value) == key


@pytest.mark.parametrize(
    ("value", "key"),
    [
        ("Taro.Yamada+news@gmail.com", "taroyamada@gmail.com"),
        ("taroyamada@googlemail.com", "taroyamada@gmail.com"),
        ("taro+seminar@kansa.example.jp", "taro@kansa.example.jp"),
        ("taro.yamada@kansa.example.jp", "taro.yamada@kansa.example.jp"),  # dots matter outside Gmail
        ("ＴＡＲＯ@KANSA.example.jp", "taro@kansa.example.jp"),
    ],
)
def test_mailboxes_compare_as_delivered(value, key):
    assert email_key(value) == key


def test_a_company_domain_comes_from_a_work_email_only():
    assert work_domain("taro@kansa.example.jp") == "kansa.example.jp"
    assert work_domain("taro@gmail.com") == ""
    assert work_domain("taro@docomo.ne.jp") == ""


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("7000012050002", True),  # 国税庁
        ("1000020010006", False),  # a wrong check digit
        ("5010401067252", True),
        ("5010401067253", False),
        ("700001205000", False),  # 12 digits
        ("７００００１２０５０００２", False),  # full-width digits are not stored as such
        ("", False),
    ],
)
def test_corporate_numbers_are_checked_by_their_check_digit(number, valid):
    assert corporate_number_is_valid(number) is valid


@pytest.mark.django_db
def test_rows_keep_their_match_keys_through_every_write():
    lead = make_lead(
        "Taro.Yamada+x@kansa.example.jp", name="山田　太郎", name_kana="ﾔﾏﾀﾞ ﾀﾛｳ", phone="03-1234-5678"
    )
    row = Lead.objects.values("email_key", "phone_key", "name_key", "kana_key", "work_domain").get(pk=lead.pk)
    assert row == {
        "email_key": "taro.yamada@kansa.example.jp",
        "phone_key": "0312345678",
        "name_key": "山田太郎",
        "kana_key": "ヤマダタロウ",
        "work_domain": "kansa.example.jp",
    }
    lead.phone = "０３−９９９９−００００"
    lead.save(update_fields=["phone"])
    assert Lead.objects.values_list("phone_key", flat=True).get(pk=lead.pk) == "0399990000"
    company = Company.objects.create(name="（株）監査テスト")
    assert Company.objects.values_list("name_key", flat=True).get(pk=company.pk) == "監査テスト"
