"""Demo personas (with matching rules) and a year of campaigns with monthly costs (idempotent).

`seed` runs before the leads demo (touches need the campaigns' UTM codes); `seed_after` runs at the end of
`seed_demo`, once leads, handoffs and deals exist: it adds two small stories through the capture path and computes
personas and attribution:
- "Why did you call me?" (journey 2): senior people at large companies who downloaded the SFA whitepaper once
  become MQLs; sales rejects most of them as "too early", so that campaign shows a low acceptance rate.
- "Visitors are not buyers" (journey 4): many junior readers of the blog at small companies visit and sign up,
  so the visitor mix differs from the buyer mix on the dashboard.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from django.db.models import Min
from django.utils import timezone

from campaigns.attribution import attribution_sweep
from campaigns.models import CampaignCost, PersonaRule
from campaigns.rebuild import attribution_rebuild_now
from leads.awareness import infer_awareness
from leads.choices import AwarenessStage, Industry, TouchType
from leads.handoffs import handoff_accept, handoff_assign, handoff_reject
from leads.ingest import events_ingest
from leads.models import Campaign, Handoff, Lead, Persona, Touch
from leads.scoring.services import leads_score_and_qualify

PERSONAS = [
    dict(
        name="情シス部長 (中堅製造業)",
        role_title="情報システム部長",
        industry=Industry.MANUFACTURING,
        company_size="300〜1,000名",
        age_range="45〜55歳",
        pains="老朽化した基幹システム、少ない人員での運用負荷",
        goals="全社のDX推進、運用コストの削減",
        information_sources="展示会、業界紙、ITメディアのホワイトペーパー",
        awareness_stage=AwarenessStage.SEMI,
    ),
    dict(
        name="現場マネージャー (残業に悩む)",
        role_title="営業課長 / 現場マネージャー",
        industry=Industry.SERVICES,
        company_size="100〜500名",
        age_range="35〜45歳",
        pains="部下の残業が多い、属人化した営業管理",
        goals="残業時間の削減、チームの成果の見える化",
        information_sources="ウェビナー、SNS、同業者の口コミ",
        awareness_stage=AwarenessStage.LATENT,
    ),
    dict(
        name="中小企業の経営者",
        role_title="代表取締役",
        industry=Industry.OTHER,
        company_size="10〜100名",
        age_range="45〜65歳",
        pains="売上の伸び悩み、採用難",
        goals="少人数での売上拡大",
        information_sources="経営者セミナー、紹介、商工会",
        awareness_stage=AwarenessStage.SEMI,
    ),
    dict(
        name="営業企画担当",
        role_title="営業企画部 主任",
        industry=Industry.IT,
        company_size="100〜1,000名",
        age_range="28〜40歳",
        pains="Excelでの集計作業、データがばらばら",
        goals="KPIの自動集計と営業会議の効率化",
        information_sources="検索、比較サイト、ホワイトペーパー",
        awareness_stage=AwarenessStage.MANIFEST,
    ),
]

# persona index → rules: (title contains, department contains, industry, employees from, employees to, priority)
PERSONA_RULES = {
    0: [
        ("部長, 本部長, 室長", "情報システム, 情シス, IT", "", None, None, 10),
        ("部長, 取締役", "", Industry.MANUFACTURING, 300, 1999, 20),
    ],
    1: [("課長, マネージャー, マネジャー, 係長", "", "", None, None, 40)],
    2: [("代表, 社長, 取締役", "", "", None, 299, 5)],
    3: [("", "営業企画, 経営企画", "", None, None, 30), ("主任, 担当", "営業", "", None, None, 50)],
}

# name, channel, objective, utm code, start offset (days ago), length (days), monthly cost (yen), personas (indexes)
CAMPAIGNS = [
    (
        "DX総合展 2026 春",
        Campaign.Channel.TRADE_SHOW,
        "lead_generation",
        "dx-expo-2026-spring",
        240,
        3,
        1_800_000,
        [0],
    ),
    (
        "働き方改革EXPO 秋",
        Campaign.Channel.TRADE_SHOW,
        "lead_generation",
        "workstyle-expo-autumn",
        60,
        3,
        1_500_000,
        [1],
    ),
    (
        "営業DX入門ウェビナー",
        Campaign.Channel.WEBINAR,
        "lead_generation",
        "webinar-sales-dx",
        200,
        150,
        120_000,
        [3],
    ),
    ("残業削減ウェビナー", Campaign.Channel.WEBINAR, "nurturing", "webinar-overtime", 45, 45, 150_000, [1]),
    (
        "SFA導入ガイド (ホワイトペーパー)",
        Campaign.Channel.WHITEPAPER,
        "lead_generation",
        "wp-sfa-guide",
        300,
        300,
        200_000,
        [3, 0],
    ),
    (
        "コスト削減ホワイトペーパー",
        Campaign.Channel.WHITEPAPER,
        "lead_generation",
        "wp-cost-cut",
        180,
        180,
        180_000,
        [0],
    ),
    (
        "リスティング広告 (検索)",
        Campaign.Channel.WEB_AD,
        "lead_generation",
        "search-ads",
        330,
        330,
        600_000,
        [3],
    ),
    ("SNS広告 リード獲得", Campaign.Channel.SNS, "awareness", "sns-leadgen", 150, 150, 400_000, [1, 2]),
    ("オウンドメディア (ブログ)", Campaign.Channel.SEO, "awareness", "blog", 360, 360, 250_000, [1, 3]),
    ("月刊ニュースレター", Campaign.Channel.EMAIL, "nurturing", "newsletter", 360, 360, 50_000, []),
    (
        "経営者向けセミナー 東京",
        Campaign.Channel.SEMINAR,
        "lead_generation",
        "seminar-ceo-tokyo",
        120,
        1,
        800_000,
        [2],
    ),
    ("大阪セミナー", Campaign.Channel.SEMINAR, "lead_generation", "seminar-osaka", 90, 1, 600_000, [2, 0]),
    (
        "パートナー紹介プログラム",
        Campaign.Channel.REFERRAL,
        "lead_generation",
        "partner-referral",
        270,
        270,
        100_000,
        [2],
    ),
]


def seed(*, users, stdout) -> None:
    personas = []
    for data in PERSONAS:
        persona, _ = Persona.objects.get_or_create(name=data["name"], defaults=data)
        personas.append(persona)
    today = timezone.localdate()
    for name, channel, objective, utm, start_ago, length, monthly, persona_indexes in CAMPAIGNS:
        start = today - dt.timedelta(days=start_ago)
        end = start + dt.timedelta(days=length - 1)
        campaign, created = Campaign.objects.get_or_create(
            utm_campaign=utm,
            defaults=dict(
                name=name,
                channel=channel,
                objective=objective,
                start_date=start,
                end_date=end,
                status=Campaign.Status.DONE if end < today else Campaign.Status.ACTIVE,
                budget=Decimal(monthly) * max(1, round(length / 30)),
                utm_source={"web_ad": "google", "sns": "facebook", "email": "newsletter"}.get(channel, ""),
                owner=users.get("mktg"),
            ),
        )
        if created:
            campaign.personas.set(personas[i] for i in persona_indexes)
        # One cost line per month the campaign ran (events: one line on the first day).
        lines = []
        month = start.replace(day=1)
        while month <= min(end, today):
            lines.append(
                CampaignCost(
                    campaign=campaign,
                    date=max(month, start),
                    amount=Decimal(monthly),
                    description=f"{month:%Y-%m}",
                    external_id=f"demo-{utm}-{month:%Y-%m}",
                )
            )
            if length <= 31:
                break
            month = (month + dt.timedelta(days=32)).replace(day=1)
        CampaignCost.objects.bulk_create(lines, ignore_conflicts=True)
    for index, rules in PERSONA_RULES.items():
        persona = personas[index]
        if persona.rules.exists():
            continue  # never touch rules someone has edited
        PersonaRule.objects.bulk_create(
            PersonaRule(
                persona=persona,
                title_contains=title,
                department_contains=department,
                industry=industry,
                employees_min=low,
                employees_max=high,
                priority=priority,
            )
            for title, department, industry, low, high, priority in rules
        )
    stdout.write(f"  campaigns: {Campaign.objects.count()} campaigns, {Persona.objects.count()} personas")


# --- After the leads and pipeline demos ------------------------------------------------------------------------

SOURCE = "demo-campaigns"
# (domain, company, industry, employees, prefecture) of large companies whose senior people read one whitepaper
WHITEPAPER_COMPANIES = [
    ("toho-seiki.co.jp", "東邦精機株式会社", Industry.MANUFACTURING, 1200, "神奈川県"),
    ("nippon-logitech.co.jp", "日本ロジテック株式会社", Industry.LOGISTICS, 2100, "千葉県"),
    ("kansai-autoparts.co.jp", "関西オートパーツ株式会社", Industry.MANUFACTURING, 1600, "大阪府"),
]
WHITEPAPER_READERS = [
    ("小川 浩", "情報システム部 部長", "情報システム部", "rejected"),
    ("岡田 真一", "取締役", "経営企画部", "rejected"),
    ("藤田 恵美", "情報システム部 部長", "情報システム部", "accepted"),
    ("後藤 剛", "製造部 部長", "製造部", "rejected"),
    ("長谷川 聡", "本部長", "営業本部", "rejected"),
    ("村上 千尋", "情報システム部 部長", "情報システム部", "rejected"),
    ("近藤 大樹", "取締役 CIO", "情報システム部", "accepted"),
    ("石川 直人", "総務部 部長", "総務部", "rejected"),
]
TOO_EARLY_NOTES = [
    "資料を見ただけ、検討は来期",
    "情報収集の段階。予算化は来年度",
    "上長に共有するために資料を読んだだけ",
]
# Small companies whose junior staff read the blog (the leads demo's companies)
BLOG_COMPANIES = [
    ("yamato-kaikei.jp", "大和会計事務所", Industry.SERVICES, 35, "東京都"),
    ("kyoto-designlab.jp", "株式会社京都デザインラボ", Industry.MEDIA, 45, "京都府"),
    ("bayside-tsuhan.jp", "株式会社ベイサイド通販", Industry.RETAIL, 60, "千葉県"),
    ("ms-edu.co.jp", "株式会社エムズ教育", Industry.PUBLIC, 75, "熊本県"),
    ("cloudbridge.jp", "株式会社クラウドブリッジ", Industry.IT, 90, "東京都"),
]
BLOG_TITLES = ["担当", "担当", "一般社員", "スタッフ", "主任", "アシスタント", ""]
BLOG_PAGES = ["/blog/overtime-reduction", "/blog/sales-kpi", "/blog/dx-basics", "/features", "/"]
BLOG_READERS = 110
SITE = "https://www.kaizen-cloud.jp"


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat()


def _whitepaper_events(now: dt.datetime) -> list[dict]:
    events = []
    for i, (name, title, department, _verdict) in enumerate(WHITEPAPER_READERS):
        domain, company, industry, employees, prefecture = WHITEPAPER_COMPANIES[i % len(WHITEPAPER_COMPANIES)]
        events.append(
            dict(
                id=f"wp-reader-{i}",
                type=TouchType.CONTENT_DOWNLOAD,
                email=f"wp.reader{i}@{domain}",
                name=name,
                title=title,
                department=department,
                company=company,
                company_domain=domain,
                industry=industry,
                employee_count=employees,
                prefecture=prefecture,
                occurred_at=_iso(now - dt.timedelta(days=2 + i, hours=3)),
                url=f"{SITE}/whitepaper/sfa-guide",
                utm_campaign="wp-sfa-guide",
                utm_source="demo",
                properties={"asset": "SFA導入ガイド"},
            )
        )
    return events


def _blog_events(now: dt.datetime) -> list[dict]:
    rng = random.Random(4)
    events = []
    for i in range(BLOG_READERS):
        domain, company, industry, employees, prefecture = BLOG_COMPANIES[i % len(BLOG_COMPANIES)]
        start = now - dt.timedelta(days=rng.uniform(3, 88))
        visits = rng.randint(2, 7)
        for j in range(visits):
            events.append(
                dict(
                    id=f"blog-{i}-pv-{j}",
                    type=TouchType.PAGE_VIEW,
                    visitor_id=f"demo-blog-{i:03d}",
                    occurred_at=_iso(start + dt.timedelta(hours=6 * j)),
                    url=f"{SITE}{rng.choice(BLOG_PAGES)}",
                    utm_campaign="blog" if j == 0 else "",
                    utm_source="demo" if j == 0 else "",
                )
            )
        events.append(
            dict(
                id=f"blog-{i}-signup",
                type=TouchType.FORM_SUBMIT,
                visitor_id=f"demo-blog-{i:03d}",
                email=f"reader{i}@{domain}",
                title=rng.choice(BLOG_TITLES),
                company=company,
                company_domain=domain,
                industry=industry,
                employee_count=employees,
                prefecture=prefecture,
                occurred_at=_iso(start + dt.timedelta(hours=6 * visits)),
                url=f"{SITE}/newsletter",
                utm_campaign="newsletter",
                properties={"form": "メルマガ登録"},
            )
        )
    return events


def seed_after(*, users, stdout) -> None:
    """Stories that need leads, then personas and attribution for everyone. Idempotent: events carry fixed ids
    (replays store nothing), only still-open demo handoffs are decided, and attribution is recomputed."""
    now = timezone.now()
    events = _whitepaper_events(now) + _blog_events(now)
    for start in range(0, len(events), 500):
        events_ingest(events=events[start : start + 500], source=SOURCE, authenticated=True)
    # The capture path stamps a new lead "now"; these people arrived with their first touch.
    firsts = (
        Touch.objects.filter(source=SOURCE, lead__isnull=False)
        .values("lead_id")
        .annotate(first=Min("occurred_at"))
    )
    leads = Lead.objects.in_bulk([row["lead_id"] for row in firsts])
    for row in firsts:
        lead = leads[row["lead_id"]]
        lead.created_at = min(lead.created_at, row["first"])
    Lead.objects.bulk_update(leads.values(), ["created_at"], batch_size=500)

    readers = {
        f"wp.reader{i}@{WHITEPAPER_COMPANIES[i % len(WHITEPAPER_COMPANIES)][0]}": verdict
        for i, (_n, _t, _d, verdict) in enumerate(WHITEPAPER_READERS)
    }
    # What the worker does for touched leads (awareness, scores, MQL handoffs), now rather than after the
    # seeding transaction commits, so that the attribution below sees it.
    # The readers qualify two hours ago and the rep decides an hour later: a first touch never comes before the
    # handoff it answers (speed to lead is never negative, as in real data).
    demo_ids = list(leads)
    infer_awareness(demo_ids)
    qualified = now - dt.timedelta(hours=2)
    leads_score_and_qualify(demo_ids, now=qualified)
    reader_ids = list(Lead.objects.filter(email__in=readers).values_list("id", flat=True))
    for index, handoff in enumerate(
        Handoff.objects.filter(lead_id__in=reader_ids, state__in=Handoff.OPEN_STATES)
        .select_related("lead")
        .order_by("id")
    ):
        handoff = handoff_assign(handoff_id=handoff.pk, now=max(qualified, handoff.mql_at))
        rep = handoff.owner or users["rep1"]
        decided = max(now - dt.timedelta(hours=1), handoff.assigned_at or handoff.mql_at)
        if readers.get(handoff.lead.email) == "accepted":
            handoff_accept(handoff=handoff, by=rep, now=decided)
        else:
            note = TOO_EARLY_NOTES[index % len(TOO_EARLY_NOTES)]
            handoff_reject(
                handoff=handoff, by=rep, reason=Handoff.RejectReason.TOO_EARLY, note=note, now=decided
            )

    attribution_sweep(now=now)  # moves the sweep's watermarks past the demo data
    days = attribution_rebuild_now()
    stdout.write(
        f"  campaigns: personas matched, attribution computed ({days} days; "
        f"{Lead.objects.filter(persona__isnull=False).count()} leads with a persona)"
    )
