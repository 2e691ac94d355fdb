"""Demo personas and a year of campaigns with monthly costs (idempotent)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from campaigns.models import Campaign, CampaignCost, Persona
from leads.choices import AwarenessStage, Industry

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
    stdout.write(f"  campaigns: {Campaign.objects.count()} campaigns, {Persona.objects.count()} personas")
