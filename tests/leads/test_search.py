"""The header search (leads/search, pipeline's deals through hooks.SEARCH): Japanese partial matches, kana and
width folded, emails by a fragment, phones and corporate numbers by their digits; each group narrowed to what the
viewer may see; the HTMX drop-down and the no-JS page; a fixed number of queries; the trigram indexes on
PostgreSQL; the search kept out of the logs."""

from __future__ import annotations

import pytest
from django.db import connection
from django.urls import reverse
from django.utils.html import escape

from leads.records import services as record_services
from leads.search.query import Terms, to_hiragana, to_katakana
from leads.search.selectors import LIVE_LIMIT, PAGE_LIMIT, search
from salesmarketing.redact import redact
from tests.conftest import require_or_skip
from tests.leads.factories import make_company, make_lead
from tests.pipeline.factories import make_deal

pytestmark = pytest.mark.django_db

TOYOTA = "1180301018771"  # a valid 法人番号 (トヨタ自動車, published by the National Tax Agency)
URL = "/search/"
LIVE = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "search-live"}
PAGE_PARTIAL = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "search-results"}


@pytest.fixture
def kansa(owner):
    """The owner's lead at 株式会社監査テスト, with kana, a work email and a hyphenated phone, and their deal."""
    company = record_services.company_create(
        by=owner,
        name="株式会社監査テスト",
        name_kana="カンサテスト",
        domain="kansa-test.co.jp",
        corporate_number=TOYOTA,
    )
    lead = make_lead(
        "taro.yamada@kansa-test.co.jp",
        company=company,
        owner=owner,
        name="山田 太郎",
        name_kana="ヤマダ タロウ",
        phone="03-1234-5678",
    )
    deal = make_deal(owner=owner, name="監査クラウド導入", company=company, contact=lead)
    return {"company": company, "lead": lead, "deal": deal}


def titles(results) -> dict[str, list[str]]:
    return {group.key: [hit.title for hit in group.hits] for group in results.groups}


# --- What a search is matched as -------------------------------------------------------------------------------


def test_kana_folds_between_hiragana_and_katakana():
    assert to_katakana("やまだ たろう") == "ヤマダ タロウ"
    assert to_hiragana("ヤマダ タロウ") == "やまだ たろう"


@pytest.mark.parametrize(
    ("typed", "variant"),
    [("やまだ", "ヤマダ"), ("ﾔﾏﾀﾞ", "ヤマダ"), ("ＡＢＣ", "ABC"), ("ヤマダ", "やまだ")],
)
def test_a_search_is_looked_for_as_typed_and_folded(typed, variant):
    assert variant in Terms.parse(typed).variants


@pytest.mark.parametrize(
    ("typed", "digits"),
    [("03-1234-5678", "0312345678"), ("０３（１２３４）５６７８", "0312345678"), ("+81 3 1234", "8131234"),
     ("03", ""), ("山田 03", ""), ("a-123", "")],
)  # fmt: skip
def test_a_phone_or_number_is_matched_by_its_digits(typed, digits):
    assert Terms.parse(typed).digits == digits


def test_a_search_is_trimmed_cut_and_needs_one_character():
    assert Terms.parse("  山田   太郎 ").text == "山田 太郎"
    assert len(Terms.parse("あ" * 500).text) == 100
    assert not Terms.parse("  ").searchable
    assert Terms.parse("林").searchable and Terms.parse("林").short  # a family name of one kanji
    assert Terms.parse("山田").short and not Terms.parse("山田太").short  # a trigram from three on


# --- Finding -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "found"),
    [
        (
            "監査",
            {"companies": ["株式会社監査テスト"], "deals": ["監査クラウド導入"]},
        ),  # a Japanese substring
        ("監査テスト", {"companies": ["株式会社監査テスト"]}),
        ("山田", {"leads": ["山田 太郎"]}),
        ("やまだ", {"leads": ["山田 太郎"]}),  # hiragana finds the katakana kana
        ("ﾔﾏﾀﾞ", {"leads": ["山田 太郎"]}),  # half-width katakana too
        ("かんさてすと", {"companies": ["株式会社監査テスト"]}),
        ("taro.yamada", {"leads": ["山田 太郎"]}),  # a fragment of the email
        ("TARO.Yamada@", {"leads": ["山田 太郎"]}),  # in any case
        ("kansa-test", {"leads": ["山田 太郎"], "companies": ["株式会社監査テスト"]}),  # the domain too
        ("0312345678", {"leads": ["山田 太郎"]}),  # the phone stored with hyphens, typed without
        ("03-1234", {"leads": ["山田 太郎"]}),
        ("1234-5678", {"leads": ["山田 太郎"]}),
        ("０３（１２３４）", {"leads": ["山田 太郎"]}),  # full-width digits and brackets
        (TOYOTA, {"companies": ["株式会社監査テスト"]}),  # the 法人番号
        ("18030101", {"companies": ["株式会社監査テスト"]}),  # a part of it
        ("存在しない会社", {}),
    ],
)
def test_it_finds_leads_companies_and_deals_by_a_part(owner, kansa, typed, found):
    assert titles(search(viewer=owner, text=typed)) == found


def test_one_or_two_characters_find_the_start_of_a_name(owner, kansa):
    """Too short for a trigram: the start of a lead's name or kana, of a company's name without its legal form, of
    a deal's name; case, width and kana folded as for longer searches."""
    make_lead(owner=owner, name="林 一郎", name_kana="ハヤシ イチロウ")
    make_lead(owner=owner, name="小林 二郎", name_kana="コバヤシ ジロウ")
    assert titles(search(viewer=owner, text="林")) == {"leads": ["林 一郎"]}  # not 小林: a start only
    assert titles(search(viewer=owner, text="こば")) == {"leads": ["小林 二郎"]}  # the kana, in hiragana
    assert titles(search(viewer=owner, text="ﾊﾔ")) == {"leads": ["林 一郎"]}  # half-width katakana
    assert Terms.parse("ｺﾊﾞ").short  # three characters typed, two once folded (ﾊﾞ is バ)
    assert titles(search(viewer=owner, text="監査")) == {
        "companies": ["株式会社監査テスト"],  # 株式会社 dropped
        "deals": ["監査クラウド導入"],
    }
    assert titles(search(viewer=owner, text="太郎")) == {}  # the middle of a name needs three characters
    assert titles(search(viewer=owner, text="山田 太")) == {"leads": ["山田 太郎"]}


def test_a_phone_typed_with_full_width_digits_finds_one_stored_so(owner):
    make_lead(owner=owner, name="全角 電話", phone="０６－９８７６－５４３２")
    assert titles(search(viewer=owner, text="06-9876"))["leads"] == ["全角 電話"]


def test_groups_keep_at_most_the_limit_and_say_there_is_more(owner):
    for n in range(LIVE_LIMIT + 1):
        make_lead(owner=owner, name=f"佐藤 {n}", total_score=n)
    group = search(viewer=owner, text="佐藤").groups[0]
    assert len(group.hits) == LIVE_LIMIT and group.more
    assert [hit.title for hit in group.hits][0] == f"佐藤 {LIVE_LIMIT}"  # the best score first
    assert group.see_all_url == "/leads/?q=%E4%BD%90%E8%97%A4"
    full = search(viewer=owner, text="佐藤", limit=PAGE_LIMIT).groups[0]
    assert len(full.hits) == LIVE_LIMIT + 1 and not full.more


# --- Who sees what ------------------------------------------------------------------------------------------------


def test_a_rep_finds_only_what_they_may_see(kansa, owner, teammate, outsider, manager, marketer):
    everything = {"leads": ["山田 太郎"], "companies": ["株式会社監査テスト"], "deals": ["監査クラウド導入"]}
    found = {
        user.username: titles(search(viewer=user, text="kansa-test 監査".split()[0]))
        | titles(search(viewer=user, text="監査"))
        for user in (owner, teammate, outsider, manager, marketer)
    }
    assert found["owner"] == everything
    assert found["teammate"] == {
        "leads": ["山田 太郎"],
        "companies": ["株式会社監査テスト"],
    }  # not a teammate's deal
    assert found["outsider"] == {}  # another team's lead, its company and deal: nothing
    assert found["manager"] == everything
    assert found["marketer"] == everything  # marketing reads every deal (the deal page's rule)


def test_a_company_nobody_works_with_yet_is_found_by_any_rep(outsider):
    make_company("株式会社未開拓テスト")
    assert titles(search(viewer=outsider, text="未開拓")) == {"companies": ["株式会社未開拓テスト"]}


def test_the_outsider_cannot_open_what_the_search_hides(client, kansa, outsider):
    client.force_login(outsider)
    body = client.get(URL, {"q": "監査"}).content.decode()
    assert "株式会社監査テスト" not in body and "山田" not in body
    assert client.get(kansa["lead"].get_absolute_url()).status_code == 404


# --- Pages ---------------------------------------------------------------------------------------------------------


def test_the_page_works_without_javascript(client, owner, kansa):
    client.force_login(owner)
    response = client.get(URL, {"q": "監査"})
    body = response.content.decode()
    assert response.status_code == 200 and "<html" in body
    assert 'value="監査"' in body
    assert f'href="{kansa["company"].get_absolute_url()}"' in body
    assert f'href="{kansa["deal"].get_absolute_url()}"' in body
    assert 'id="topsearch-q"' in body  # the header box, on every page


def test_the_header_box_gets_a_short_partial(client, owner, kansa):
    for n in range(LIVE_LIMIT + 2):
        make_lead(owner=owner, name=f"監査部 {n}")
    client.force_login(owner)
    response = client.get(URL, {"q": "監査"}, **LIVE)
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body and 'id="topsearch-q"' not in body
    assert body.count("監査部 ") == LIVE_LIMIT
    assert 'href="/leads/?q=%E7%9B%A3%E6%9F%BB"' in body  # see all leads
    assert 'href="/search/?q=%E7%9B%A3%E6%9F%BB"' in body  # every result, on the page
    assert "HX-Request" in response["Vary"]


def test_the_page_box_gets_more_per_kind(client, owner):
    for n in range(LIVE_LIMIT + 2):
        make_lead(owner=owner, name=f"監査部 {n}")
    client.force_login(owner)
    body = client.get(URL, {"q": "監査"}, **PAGE_PARTIAL).content.decode()
    assert body.count("監査部 ") == LIVE_LIMIT + 2 and "<html" not in body
    assert "/leads/?q=" not in body  # nothing more to see


def test_one_character_is_searched_and_an_empty_search_shows_nothing(client, owner, kansa):
    client.force_login(owner)
    assert "山田 太郎" in client.get(URL, {"q": "山"}, **LIVE).content.decode()
    assert client.get(URL, {"q": " "}, **LIVE).content.decode().strip() == ""


def test_nothing_found_says_so_and_escapes_the_search(client, owner):
    client.force_login(owner)
    body = client.get(URL, {"q": "<b>なし</b>"}, **LIVE).content.decode()
    assert escape("<b>なし</b>") in body and "<b>なし</b>" not in body


def test_found_names_are_escaped(client, owner):
    make_lead(owner=owner, name="監査<script>alert(1)</script>")
    client.force_login(owner)
    body = client.get(URL, {"q": "監査"}, **LIVE).content.decode()
    assert "<script>alert" not in body and escape("監査<script>alert(1)</script>") in body


def test_the_page_needs_login(client):
    response = client.get(URL, {"q": "監査"})
    assert response.status_code == 302 and "/login" in response["Location"]


def test_see_all_lists_find_what_the_search_found(client, owner, kansa):
    """The lists the groups link to match the same way (kana, digits)."""
    client.force_login(owner)
    assert "山田 太郎" in client.get("/leads/", {"q": "03-1234-5678"}).content.decode()
    assert "山田 太郎" in client.get("/leads/", {"q": "やまだ"}).content.decode()
    assert "株式会社監査テスト" in client.get("/leads/companies/", {"q": "かんさ"}).content.decode()
    assert "株式会社監査テスト" in client.get("/leads/companies/", {"q": "18030101"}).content.decode()
    assert "監査クラウド導入" in client.get("/pipeline/", {"q": "監査", "scope": "all"}).content.decode()


# --- Queries -------------------------------------------------------------------------------------------------------


def _matches(owner, n: int) -> None:
    for i in range(n):
        company = make_company(f"株式会社監査{i}")
        lead = make_lead(owner=owner, name=f"監査 {i}", company=company, phone=f"03-0000-{i:04d}")
        make_deal(owner=owner, name=f"監査案件 {i}", company=company, contact=lead)


@pytest.mark.parametrize("n", [1, PAGE_LIMIT + 3])
def test_the_partial_takes_one_query_per_group_whatever_is_found(client, owner, django_assert_num_queries, n):
    _matches(owner, n)
    client.force_login(owner)
    client.get(URL, {"q": "監査"}, **LIVE)
    # session, user (with the layout's unread count); one query each for leads, companies, deals
    with django_assert_num_queries(5):
        response = client.get(URL, {"q": "監査"}, **LIVE)
    assert response.content.decode().count("監査 ") == min(n, LIVE_LIMIT)
    with django_assert_num_queries(5):
        client.get(URL, {"q": "03-0000"}, **PAGE_PARTIAL)


@pytest.mark.parametrize("n", [1, PAGE_LIMIT + 3])
def test_the_page_takes_a_fixed_number_of_queries(client, owner, django_assert_num_queries, n):
    _matches(owner, n)
    client.force_login(owner)
    client.get(URL, {"q": "監査"})
    with django_assert_num_queries(PAGE_QUERIES):
        client.get(URL, {"q": "監査"})


PAGE_QUERIES = 5  # the partial's five: the layout's user comes with its team and unread count


def test_an_empty_search_runs_no_search_query(client, owner, django_assert_num_queries):
    client.force_login(owner)
    client.get(URL, {"q": " "}, **LIVE)
    with django_assert_num_queries(2):  # session, user (with the layout's unread count)
        client.get(URL, {"q": " "}, **LIVE)
    with django_assert_num_queries(5):  # one character: a query per group, as for longer searches
        client.get(URL, {"q": "監"}, **LIVE)


# --- PostgreSQL: the trigram indexes -------------------------------------------------------------------------------

TRGM_INDEXES = {
    "leads_lead": {"leads_lead_name_trgm", "leads_lead_name_kana_trgm", "leads_lead_email_trgm",
                   "leads_lead_phone_digits_trgm"},
    "leads_company": {"leads_company_name_trgm", "leads_company_name_kana_trgm", "leads_company_domain_trgm",
                      "leads_company_corporate_number_trgm"},
    "pipeline_deal": {"pipeline_deal_name_trgm"},
}  # fmt: skip


def _postgresql() -> None:
    require_or_skip(
        connection.vendor == "postgresql",
        "the search's indexes (pg_trgm, pattern_ops prefixes) exist on PostgreSQL only (SQLite: no index)",
    )


def test_the_migrations_made_trigram_indexes():
    _postgresql()
    with connection.cursor() as cursor:
        cursor.execute("SELECT extname FROM pg_extension WHERE extname = 'pg_trgm'")
        assert cursor.fetchall() == [("pg_trgm",)]
        for table, names in TRGM_INDEXES.items():
            cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", [table])
            defs = dict(cursor.fetchall())
            assert names <= set(defs), table
            assert all("USING gin" in defs[n] and "gin_trgm_ops" in defs[n] for n in names)


@pytest.mark.parametrize(
    ("query", "index"),
    [
        (lambda viewer, t: _leads(viewer, t, "name"), "leads_lead_name_trgm"),
        (lambda viewer, t: _leads(viewer, t, "name_kana"), "leads_lead_name_kana_trgm"),
        (lambda viewer, t: _leads(viewer, t, "email"), "leads_lead_email_trgm"),
        (lambda viewer, t: _phone(viewer, t), "leads_lead_phone_digits_trgm"),
        (lambda viewer, t: _companies(viewer, t, "domain"), "leads_company_domain_trgm"),
        (lambda viewer, t: _companies(viewer, t, "corporate_number"), "leads_company_corporate_number_trgm"),
        (lambda viewer, t: _deals(viewer, t), "pipeline_deal_name_trgm"),
    ],
)
def test_the_search_reads_through_the_trigram_indexes(marketer, query, index):
    """The index is on exactly the expression the search compares: with sequential and plain index scans priced
    out, the plan reads it (a GIN index is read by a bitmap scan), so on a large table the planner can."""
    _postgresql()
    qs = query(
        marketer, Terms.parse("0312345678" if "phone" in index or "corporate" in index else "監査テスト")
    )
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        plan = qs.order_by().explain()
    assert index in plan, plan


@pytest.mark.parametrize("typed", ["田中", "林"])
def test_a_short_search_reads_through_the_prefix_indexes(marketer, typed):
    """One or two characters, too short for a trigram: each group's condition, as the search builds it, reads the
    btree prefix indexes (with sequential and plain index scans priced out, as above; on these near-empty tables a
    rep's plan would start from their few owned rows instead: at 1M leads the planner picks by its statistics
    between the prefix, the owner and the score order)."""
    _postgresql()
    from leads.models import Lead
    from leads.records.selectors import companies_visible_to
    from leads.search.query import companies_matching, leads_matching
    from pipeline.models import Deal

    terms = Terms.parse(typed)
    assert terms.short
    queries = {
        "leads": leads_matching(Lead.objects.visible_to(marketer), terms),
        "companies": companies_matching(companies_visible_to(marketer), terms),
        "deals": Deal.objects.readable_by(marketer).filter(terms.starts("name")),  # pipeline's deal_search
    }
    plans = {}
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        for key, qs in queries.items():
            plans[key] = qs.order_by().explain()
    assert "leads_lead_name_key_prefix" in plans["leads"], plans["leads"]
    assert "leads_lead_kana_key_prefix" in plans["leads"], plans["leads"]
    assert "leads_company_name_key_prefix" in plans["companies"], plans["companies"]
    assert "pipeline_deal_name_prefix" in plans["deals"], plans["deals"]
    assert "trgm" not in "".join(plans.values())


def test_the_migrations_made_prefix_indexes():
    _postgresql()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE indexname IN "
            "('leads_lead_name_key_prefix', 'leads_lead_kana_key_prefix', 'leads_company_name_key_prefix', "
            "'pipeline_deal_name_prefix')"
        )
        defs = dict(cursor.fetchall())
    assert len(defs) == 4 and all("btree" in d and "pattern_ops" in d for d in defs.values()), defs


def _leads(viewer, terms: Terms, field: str):
    from leads.models import Lead

    return Lead.objects.filter(terms.contains(field))


def _phone(viewer, terms: Terms):
    from django.db.models import Q

    from leads.models import Lead
    from leads.search.query import PhoneDigits

    return Lead.objects.alias(phone_digits=PhoneDigits("phone")).filter(
        Q(phone_digits__contains=terms.digits)
    )


def _companies(viewer, terms: Terms, field: str):
    from django.db.models import Q

    from leads.models import Company

    if field == "corporate_number":
        return Company.objects.filter(Q(corporate_number__icontains=terms.digits))
    return Company.objects.filter(terms.contains(field))


def _deals(viewer, terms: Terms):
    from pipeline.models import Deal

    return Deal.objects.readable_by(viewer).filter(terms.contains("name"))


# --- Logs -----------------------------------------------------------------------------------------------------------


def test_the_search_is_redacted_from_request_logs():
    line = "GET /search/?q=%E5%B1%B1%E7%94%B0+%E5%A4%AA%E9%83%8E HTTP/1.1"
    assert redact(line) == "GET /search/?q=[redacted] HTTP/1.1"
    assert reverse("search:page") == URL
