"""Demo deals for `seed_demo`: a year of pipeline history for the demo reps, through the services.

Uses the companies and leads the leads demo made when there are any, else a few companies of its own. Idempotent:
the demo's partner-channel pipeline marks a finished run, and a second run adds nothing.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from django.utils import timezone

from leads.models import Campaign, Company, Lead
from leads.services import company_resolve, lead_upsert
from pipeline import services
from pipeline.models import Activity, BookingPage, Deal, Pipeline, Stage, TeamBookingPage
from pipeline.services import StageSpec

PARTNER_PIPELINE = "代理店経由"
PARTNER_STAGES = (
    StageSpec("紹介受付", "Referral received", 10, stale_after_days=10),
    StageSpec("要件確認", "Requirements", 30),
    StageSpec("提案・見積", "Proposal & quote", 60),
    StageSpec("受注", "Won", 100, is_won=True),
    StageSpec("失注", "Lost", 0, is_lost=True),
)

COMPANIES = [
    ("株式会社山田製作所", "yamada-ss.example.jp", "manufacturing", 320),
    ("東洋精機株式会社", "toyo-seiki.example.jp", "manufacturing", 850),
    ("株式会社北斗物流", "hokuto-logi.example.jp", "logistics", 540),
    ("大和建設株式会社", "yamato-kensetsu.example.jp", "construction", 1200),
    ("株式会社みなと食品", "minato-foods.example.jp", "manufacturing", 260),
    ("中央メディカル株式会社", "chuo-medical.example.jp", "healthcare", 430),
    ("株式会社さくらリテール", "sakura-retail.example.jp", "retail", 2100),
    ("日本テクノサービス株式会社", "nihon-techno.example.jp", "it", 380),
    ("株式会社青葉システム", "aoba-sys.example.jp", "it", 150),
    ("株式会社富士見電機", "fujimi-denki.example.jp", "manufacturing", 690),
    ("関西化成株式会社", "kansai-kasei.example.jp", "manufacturing", 470),
    ("株式会社ひかり保険サービス", "hikari-hoken.example.jp", "finance", 310),
    ("株式会社東邦エンジニアリング", "toho-eng.example.jp", "services", 220),
    ("株式会社九州ロジテック", "kyushu-logitec.example.jp", "logistics", 360),
    ("株式会社杉本工業", "sugimoto-kogyo.example.jp", "manufacturing", 180),
    ("株式会社グリーン不動産", "green-fudosan.example.jp", "construction", 120),
    ("株式会社明和印刷", "meiwa-print.example.jp", "media", 140),
    ("株式会社瀬戸内マリン", "setouchi-marine.example.jp", "logistics", 95),
]
CONTACTS = [
    ("田中 一郎", "人事部 部長", "人事部"),
    ("鈴木 花子", "総務課 課長", "総務部"),
    ("高木 誠", "製造部 工場長", "製造部"),
    ("森 由美", "経営企画室 室長", "経営企画室"),
    ("石井 健太", "情報システム部 マネージャー", "情報システム部"),
    ("松本 直子", "人事労務課 主任", "人事部"),
]
DEAL_KINDS = [
    ("勤怠管理クラウド導入", (1_200_000, 4_800_000)),
    ("全社展開 ({n}名)", (3_000_000, 12_000_000)),
    ("ワークフロー電子化", (800_000, 3_600_000)),
    ("残業削減コンサルティング", (1_500_000, 5_000_000)),
    ("追加ライセンス", (300_000, 1_200_000)),
    ("シフト管理オプション", (500_000, 2_400_000)),
]
VOICES = [
    "部下の残業が多くて困っている",
    "月末の締め作業で残業が常態化している",
    "勤怠の集計に毎月3日かかっている",
    "コスト削減よりも現場の負担を減らしたい",
    "紙の申請が残っていて承認に1週間かかる",
    "若手の離職が増えていて、働き方を見直したい",
    "36協定の上限を超えそうな人を早く知りたい",
]
ACTIVITY_SUBJECTS = {
    Activity.Type.CALL: ["初回ヒアリングの電話", "導入時期の確認", "決裁者との面談調整"],
    Activity.Type.MEETING: ["現場責任者と打ち合わせ", "課題整理ミーティング", "経営層への説明"],
    Activity.Type.EMAIL: ["資料送付", "見積書の送付", "導入事例の共有"],
    Activity.Type.DEMO: ["製品デモ (勤怠・残業アラート)", "管理画面デモ"],
    Activity.Type.PROPOSAL: ["提案書の提出", "見積・導入スケジュールの提示"],
    Activity.Type.NOTE: ["社内メモ: 競合状況", "社内メモ: 予算感"],
}
NEXT_STEPS = [
    "見積の再提示",
    "決裁者との面談",
    "デモ日程の確定",
    "トライアル開始",
    "稟議の進捗確認",
    "提案書のレビュー",
]
LOSS_PROFILE = [
    (Deal.LossCause.PRICE, Deal.LossSide.EXTERNAL, "他社より3割高いとの指摘"),
    (Deal.LossCause.COMPETITOR, Deal.LossSide.EXTERNAL, "既存ベンダーの追加機能で対応すると判断"),
    (Deal.LossCause.POOR_FIT, Deal.LossSide.MARKETING, "資料請求のみで導入意思なし。ターゲット外"),
    (Deal.LossCause.SLOW_FOLLOW_UP, Deal.LossSide.SALES, "初回連絡が1週間後になり他社で決定"),
    (Deal.LossCause.WEAK_PROPOSAL, Deal.LossSide.SALES, "現場の残業課題に提案が刺さらなかった"),
    (Deal.LossCause.PRODUCT_GAP, Deal.LossSide.PRODUCT, "シフト制の複雑な勤務形態に未対応"),
    (Deal.LossCause.TIMING, Deal.LossSide.EXTERNAL, "来期予算で再検討"),
    (Deal.LossCause.NO_BUDGET, Deal.LossSide.EXTERNAL, "今期の予算確保ができず"),
    (Deal.LossCause.UNRESPONSIVE, Deal.LossSide.EXTERNAL, ""),
]
# Days a deal typically spends in each open stage of the default pipeline (min, max).
STAGE_DAYS = [(2, 12), (5, 20), (7, 28), (7, 35)]
REPS = ("rep1", "rep2", "rep3", "rep4")


def seed(*, users: dict, stdout) -> None:
    services.pipeline_ensure_default()
    if Pipeline.objects.filter(name=PARTNER_PIPELINE).exists():
        stdout.write("pipeline: demo deals already present")
        return
    rng = random.Random(2026)
    now = timezone.now()
    contacts = _contacts(rng)
    campaigns = list(Campaign.objects.order_by("pk")[:20])
    default_stages = list(Stage.objects.filter(pipeline__is_default=True).order_by("order"))
    partner = services.pipeline_create(name=PARTNER_PIPELINE, stages=PARTNER_STAGES)
    partner_stages = list(partner.stages.order_by("order"))

    created = 0
    for rep_index, username in enumerate(REPS):
        rep = users[username]
        for n in range(30):
            contact = contacts[(rep_index * 30 + n) % len(contacts)]
            closed = n % 30 < 16  # about half of a rep's deals of the past year have closed
            created += _deal_story(
                rng,
                now=now,
                owner=rep,
                contact=contact,
                stages=default_stages,
                campaigns=campaigns,
                age_days=rng.randint(40, 360) if closed else rng.randint(1, 100),
                closed=closed,
            )
        if username in ("rep3", "rep4"):
            for n in range(6):
                contact = contacts[(rep_index * 7 + n * 3) % len(contacts)]
                created += _deal_story(
                    rng,
                    now=now,
                    owner=rep,
                    contact=contact,
                    stages=partner_stages,
                    campaigns=[],
                    source=Deal.Source.PARTNER,
                    age_days=rng.randint(20, 200),
                    closed=n < 2,
                )
    for username in ("sales_mgr", "sales_mgr2"):
        for n in range(3):
            contact = contacts[(n * 5 + len(username)) % len(contacts)]
            created += _deal_story(
                rng,
                now=now,
                owner=users[username],
                contact=contact,
                stages=default_stages,
                campaigns=campaigns,
                age_days=rng.randint(5, 60),
                closed=False,
            )
    stdout.write(f"pipeline: {created} demo deals with a year of stage history")
    _booking_pages(users, stdout)


def _booking_pages(users: dict, stdout) -> None:
    """Each demo rep's public booking page (/book/rep1/ …) and their team's round-robin page."""
    for username in REPS:
        BookingPage.objects.get_or_create(user=users[username], defaults={"slug": username})
    team = users[REPS[0]].team
    if team is not None:
        TeamBookingPage.objects.get_or_create(team=team, defaults={"slug": "sales"})
    stdout.write("pipeline: booking pages /book/rep1/ … /book/rep4/ and /book/team/sales/")


def _contacts(rng: random.Random) -> list[Lead]:
    """Leads with a company to sell to: the leads demo's when present, else a few of our own."""
    leads = list(Lead.objects.filter(company__isnull=False).select_related("company").order_by("pk")[:80])
    if leads:
        return leads
    own = []
    for index, (name, domain, industry, employees) in enumerate(COMPANIES):
        company = company_resolve(name=name, domain=domain, industry=industry, employee_count=employees)
        person, title, department = CONTACTS[index % len(CONTACTS)]
        lead, _created = lead_upsert(
            email=f"{['tanaka', 'suzuki', 'takagi', 'mori', 'ishii', 'matsumoto'][index % 6]}@{domain}",
            source="sales",
            company=company,
            name=person,
            title=title,
            department=department,
        )
        own.append(lead)
    rng.shuffle(own)
    return own


def _deal_story(
    rng: random.Random,
    *,
    now: dt.datetime,
    owner,
    contact: Lead,
    stages: list[Stage],
    campaigns: list[Campaign],
    age_days: int,
    closed: bool,
    source: str | None = None,
) -> int:
    """One deal from creation to where it is today: stage moves with backdated times, activities, and for the
    older ones a win or a loss."""
    open_stages = [s for s in stages if not s.is_closed]
    company: Company | None = contact.company
    kind, (low, high) = rng.choice(DEAL_KINDS)
    employees = company.employee_count if company and company.employee_count else 200
    name = f"{company.name if company else contact} {kind.format(n=employees)}"
    amount = Decimal(rng.randrange(low, high, 100_000))
    if source is None:
        source = rng.choices(
            [Deal.Source.MARKETING, Deal.Source.SALES, Deal.Source.REFERRAL], weights=[6, 3, 1]
        )[0]
    campaign = None
    if source == Deal.Source.MARKETING:
        campaign = contact.first_touch_campaign or (rng.choice(campaigns) if campaigns else None)

    will_close = closed
    created_at = now - dt.timedelta(days=age_days, hours=rng.randint(0, 9), minutes=rng.randint(0, 59))
    if will_close:
        target = len(open_stages)
    else:  # how far an open deal got: spread over the stages, older deals further along
        target = min(len(open_stages), 1 + rng.choice([0, 0, 1, 1, 2, 2, 3]) + (1 if age_days > 60 else 0))
    deal = services.deal_create(
        name=name[:200],
        owner=owner,
        by=owner,
        company=company,
        contact=contact,
        stage=open_stages[0],
        amount=amount,
        expected_close_date=(created_at + dt.timedelta(days=rng.randint(45, 120))).date(),
        source=source,
        first_touch_campaign=campaign,
        created_at=created_at,
    )
    at = created_at
    _activity(rng, deal=deal, owner=owner, at=at + dt.timedelta(hours=2), kind=Activity.Type.CALL)
    for index, stage in enumerate(open_stages[1:target], start=1):
        low_days, high_days = STAGE_DAYS[min(index - 1, len(STAGE_DAYS) - 1)]
        step = dt.timedelta(days=rng.randint(low_days, high_days), hours=rng.randint(1, 8))
        if at + step >= now - dt.timedelta(hours=1):
            break
        at += step
        deal = services.deal_move_to_stage(deal=deal, stage=stage, position=None, moved_by=owner, at=at)
        kind = [Activity.Type.MEETING, Activity.Type.DEMO, Activity.Type.PROPOSAL][min(index - 1, 2)]
        _activity(rng, deal=deal, owner=owner, at=at + dt.timedelta(hours=3), kind=kind)

    if will_close:
        low_days, high_days = STAGE_DAYS[-1]
        close_at = min(at + dt.timedelta(days=rng.randint(low_days, high_days)), now - dt.timedelta(days=1))
        close_at = max(close_at, at + dt.timedelta(hours=1))
        if rng.random() < 0.42:
            final = (amount * Decimal(rng.choice(["0.9", "0.95", "1", "1", "1.1"]))).quantize(
                Decimal(100_000)
            )
            services.deal_close_won(deal=deal, amount=final, by=owner, at=close_at, notify=False)
        else:
            cause, side, note = rng.choice(LOSS_PROFILE)
            services.deal_close_lost(deal=deal, cause=cause, side=side, note=note, by=owner, at=close_at)
        return 1

    # Still open: a next step (some of them overdue) and now and then a to-do.
    today = timezone.localdate(now)
    next_date = today + dt.timedelta(days=rng.randint(-6, 14))
    services.deal_update(
        deal=deal,
        by=owner,
        next_step=rng.choice(NEXT_STEPS),
        next_step_date=next_date,
        expected_close_date=today + dt.timedelta(days=rng.randint(-10, 150)),
    )
    if rng.random() < 0.4:
        services.task_create(
            deal=deal,
            title=rng.choice(
                ["議事録を送る", "見積書を作成する", "導入事例を共有する", "決裁フローを確認する"]
            ),
            due_date=today + dt.timedelta(days=rng.randint(-3, 10)),
            by=owner,
        )
    return 1


def _activity(rng: random.Random, *, deal: Deal, owner, at: dt.datetime, kind: str) -> None:
    if at >= timezone.now():
        return
    is_voice = rng.random() < 0.3
    services.activity_log(
        by=owner,
        deal=deal,
        type=kind,
        subject=rng.choice(ACTIVITY_SUBJECTS[kind]),
        body=rng.choice(
            [
                "現状の勤怠管理はExcelで、月末に集計が集中している。",
                "管理職が部下の残業時間をリアルタイムで把握できていない。",
                "導入時期は来期4月を希望。稟議は部長決裁。",
                "他社製品と比較検討中。価格よりも現場の使いやすさを重視。",
                "",
            ]
        ),
        outcome=rng.choice(["次回デモ設定", "資料送付", "見積依頼あり", "検討継続", ""]),
        occurred_at=at,
        is_voice=is_voice,
        voice_text=rng.choice(VOICES) if is_voice else "",
    )
