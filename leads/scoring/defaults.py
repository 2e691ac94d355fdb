"""The seeded scoring model: sensible defaults that marketers then edit in the UI."""

from __future__ import annotations

from django.db import transaction

from leads.models import ScoringConfig, ScoringGroup, ScoringRule

FREE_MAIL = "gmail.com,yahoo.co.jp,ymail.ne.jp,outlook.com,outlook.jp,hotmail.com,hotmail.co.jp,icloud.com,docomo.ne.jp,ezweb.ne.jp,softbank.ne.jp,au.com"

# group name, cap, [(rule name, points, field, operator, value, number)]
FIT = [
    ("役職 / Seniority", 20, [
        ("代表取締役・取締役", 20, "title", "contains", "取締役", None),
        ("役員", 18, "title", "contains", "役員", None),
        ("本部長", 18, "title", "contains", "本部長", None),
        ("部長", 15, "title", "contains", "部長", None),
        ("課長", 10, "title", "contains", "課長", None),
        ("マネージャー", 10, "title", "contains", "マネージャー", None),
        ("係長", 5, "title", "contains", "係長", None),
        ("主任", 3, "title", "contains", "主任", None),
        ("Director / VP / Head", 15, "title", "contains", "Director", None),
        ("CEO / CTO / CIO", 20, "title", "contains", "Chief", None),
        ("Manager", 10, "title", "contains", "Manager", None),
    ]),
    ("企業規模 / Company size", 15, [
        ("1,000名以上", 15, "employees", "gte", "", 1000),
        ("300名以上", 10, "employees", "gte", "", 300),
        ("100名以上", 5, "employees", "gte", "", 100),
    ]),
    ("業種 / Industry", 10, [
        ("重点業種 (製造・IT・物流)", 10, "industry", "in", "manufacturing,it,logistics", None),
    ]),
    ("地域 / Region", 5, [
        ("営業エリア (関東・中部・近畿)", 5, "region", "in", "kanto,chubu,kinki", None),
    ]),
    ("除外 / Exclusions", None, [
        ("フリーメール", -10, "email_domain", "in", FREE_MAIL, None),
        ("競合ドメイン", -50, "email_domain", "in", "competitor.example.jp", None),
    ]),
]  # fmt: skip

# group name, cap, [(rule name, points, touch type, url contains, half-life days)]
ENGAGEMENT = [
    ("サイト訪問 / Site visits", 15, [("ページ閲覧", 1, "page_view", "", 14)]),
    ("検討ページ / High-intent pages", 30, [
        ("料金ページ", 5, "page_view", "/pricing", 14),
        ("比較ページ", 5, "page_view", "/compare", 14),
        ("導入事例", 3, "page_view", "/case", 21),
    ]),
    ("コンテンツ / Content", 20, [("資料ダウンロード", 8, "content_download", "", 30)]),
    ("イベント / Events", 40, [
        ("ウェビナー申込", 5, "webinar_registered", "", 30),
        ("ウェビナー参加", 20, "webinar_attended", "", 45),
        ("セミナー申込", 5, "seminar_registered", "", 30),
        ("セミナー参加", 20, "seminar_attended", "", 45),
        ("展示会ブース訪問", 10, "trade_show_visit", "", 60),
    ]),
    ("メール / Email", 10, [("メール開封", 1, "email_open", "", 14), ("メール内クリック", 3, "email_click", "", 21)]),
    ("広告 / Ads", 6, [("広告クリック", 2, "ad_click", "", 14)]),
    ("問い合わせ / Requests", None, [
        ("デモ依頼", 40, "demo_request", "", 60),
        ("フォーム送信", 5, "form_submit", "", 30),
    ]),
    ("配信停止 / Opt-out", None, [("配信停止", -20, "unsubscribe", "", 365)]),
]  # fmt: skip

FIT_THRESHOLD = 15
TOTAL_THRESHOLD = 50


@transaction.atomic
def ensure_default_scoring() -> None:
    """Create the default rules and thresholds once; never touches a model someone has edited."""
    ScoringConfig.objects.get_or_create(
        pk=1, defaults={"fit_threshold": FIT_THRESHOLD, "total_threshold": TOTAL_THRESHOLD}
    )
    if ScoringRule.objects.exists():
        return
    for group_name, cap, rules in FIT:
        group = ScoringGroup.objects.create(kind="fit", name=group_name, cap=cap)
        ScoringRule.objects.bulk_create(
            ScoringRule(
                kind="fit",
                name=name,
                group=group,
                points=points,
                field=field,
                operator=op,
                value=value,
                number=number,
            )
            for name, points, field, op, value, number in rules
        )
    for group_name, cap, rules in ENGAGEMENT:
        group = ScoringGroup.objects.create(kind="engagement", name=group_name, cap=cap)
        ScoringRule.objects.bulk_create(
            ScoringRule(
                kind="engagement",
                name=name,
                group=group,
                points=points,
                touch_type=kind,
                url_contains=url,
                half_life_days=half,
            )
            for name, points, kind, url, half in rules
        )
