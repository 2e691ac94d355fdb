"""The seeded scoring model: sensible defaults that marketers then edit in the UI."""

from __future__ import annotations

from django.db import transaction

from leads.models import ScoringConfig, ScoringGroup, ScoringRule

FREE_MAIL = "gmail.com,yahoo.co.jp,ymail.ne.jp,outlook.com,outlook.jp,hotmail.com,hotmail.co.jp,icloud.com,docomo.ne.jp,ezweb.ne.jp,softbank.ne.jp,au.com"

# Names are (Japanese, English): each page shows the viewer's language.
# group name, cap, [(rule name, points, field, operator, value, number)]
FIT = [
    (("役職", "Seniority"), 20, [
        (("代表取締役・取締役", "President / director"), 20, "title", "contains", "取締役", None),
        (("役員", "Executive officer"), 18, "title", "contains", "役員", None),
        (("本部長", "Division head"), 18, "title", "contains", "本部長", None),
        (("部長", "Department head"), 15, "title", "contains", "部長", None),
        (("課長", "Section manager"), 10, "title", "contains", "課長", None),
        (("マネージャー", "Manager (in Japanese)"), 10, "title", "contains", "マネージャー", None),
        (("係長", "Assistant manager"), 5, "title", "contains", "係長", None),
        (("主任", "Team lead"), 3, "title", "contains", "主任", None),
        (("Director / VP / Head", "Director / VP / Head"), 15, "title", "contains", "Director", None),
        (("CEO / CTO / CIO", "CEO / CTO / CIO"), 20, "title", "contains", "Chief", None),
        (("Manager", "Manager"), 10, "title", "contains", "Manager", None),
    ]),
    (("企業規模", "Company size"), 15, [
        (("1,000名以上", "1,000+ employees"), 15, "employees", "gte", "", 1000),
        (("300名以上", "300+ employees"), 10, "employees", "gte", "", 300),
        (("100名以上", "100+ employees"), 5, "employees", "gte", "", 100),
    ]),
    (("業種", "Industry"), 10, [
        (("重点業種 (製造・IT・物流)", "Focus industries (manufacturing, IT, logistics)"), 10, "industry", "in", "manufacturing,it,logistics", None),
    ]),
    (("地域", "Region"), 5, [
        (("営業エリア (関東・中部・近畿)", "Sales area (Kanto, Chubu, Kinki)"), 5, "region", "in", "kanto,chubu,kinki", None),
    ]),
    (("除外", "Exclusions"), None, [
        (("フリーメール", "Free email"), -10, "email_domain", "in", FREE_MAIL, None),
        (("競合ドメイン", "Competitor domain"), -50, "email_domain", "in", "competitor.example.jp", None),
    ]),
]  # fmt: skip

# group name, cap, [(rule name, points, touch type, url contains, half-life days)]
ENGAGEMENT = [
    (("サイト訪問", "Site visits"), 15, [(("ページ閲覧", "Page view"), 1, "page_view", "", 14)]),
    (("検討ページ", "High-intent pages"), 30, [
        (("料金ページ", "Pricing page"), 5, "page_view", "/pricing", 14),
        (("比較ページ", "Comparison page"), 5, "page_view", "/compare", 14),
        (("導入事例", "Case studies"), 3, "page_view", "/case", 21),
    ]),
    (("コンテンツ", "Content"), 20, [(("資料ダウンロード", "Content download"), 8, "content_download", "", 30)]),
    (("イベント", "Events"), 40, [
        (("ウェビナー申込", "Webinar registration"), 5, "webinar_registered", "", 30),
        (("ウェビナー参加", "Webinar attended"), 20, "webinar_attended", "", 45),
        (("セミナー申込", "Seminar registration"), 5, "seminar_registered", "", 30),
        (("セミナー参加", "Seminar attended"), 20, "seminar_attended", "", 45),
        (("展示会ブース訪問", "Trade show booth visit"), 10, "trade_show_visit", "", 60),
    ]),
    (("メール", "Email"), 10, [(("メール開封", "Email opened"), 1, "email_open", "", 14), (("メール内クリック", "Email clicked"), 3, "email_click", "", 21)]),
    (("広告", "Ads"), 6, [(("広告クリック", "Ad click"), 2, "ad_click", "", 14)]),
    (("問い合わせ", "Requests"), None, [
        (("デモ依頼", "Demo request"), 40, "demo_request", "", 60),
        (("フォーム送信", "Form submitted"), 5, "form_submit", "", 30),
    ]),
    ((("配信停止", "Unsubscribed"), "Opt-out"), None, [(("配信停止", "Unsubscribed"), -20, "unsubscribe", "", 365)]),
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
    for (group_name, group_name_en), cap, rules in FIT:
        group = ScoringGroup.objects.create(kind="fit", name=group_name, name_en=group_name_en, cap=cap)
        ScoringRule.objects.bulk_create(
            ScoringRule(
                kind="fit",
                name=name,
                name_en=name_en,
                group=group,
                points=points,
                field=field,
                operator=op,
                value=value,
                number=number,
            )
            for (name, name_en), points, field, op, value, number in rules
        )
    for (group_name, group_name_en), cap, rules in ENGAGEMENT:
        group = ScoringGroup.objects.create(
            kind="engagement", name=group_name, name_en=group_name_en, cap=cap
        )
        ScoringRule.objects.bulk_create(
            ScoringRule(
                kind="engagement",
                name=name,
                name_en=name_en,
                group=group,
                points=points,
                touch_type=kind,
                url_contains=url,
                half_life_days=half,
            )
            for (name, name_en), points, kind, url, half in rules
        )
