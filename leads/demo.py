"""Demo companies, leads and a few months of touches (deterministic and idempotent)."""

from __future__ import annotations

import datetime as dt
import random

from django.db.models import Count, Max, Min
from django.utils import timezone

from leads.awareness import ensure_default_rules, infer_awareness
from leads.choices import Industry, LeadSource, LifecycleStage, Region, TouchType
from leads.demo_capture import seed_capture
from leads.handoffs import handoff_accept, handoff_assign, handoff_reject
from leads.handoffs.sla import add_business_hours
from leads.models import Campaign, Company, Handoff, Lead, TerritoryRule, Touch, Visitor
from leads.scoring.defaults import ensure_default_scoring
from leads.scoring.services import leads_score_and_qualify

SITE = "https://www.kaizen-cloud.jp"

# name, domain, industry, employees, region, prefecture
COMPANIES = [
    ("株式会社山田製作所", "yamada-seisakusho.co.jp", Industry.MANUFACTURING, 420, Region.CHUBU, "愛知県"),
    ("東邦精機株式会社", "toho-seiki.co.jp", Industry.MANUFACTURING, 1200, Region.KANTO, "神奈川県"),
    ("株式会社北斗システムズ", "hokuto-sys.co.jp", Industry.IT, 260, Region.HOKKAIDO, "北海道"),
    ("みらい物流株式会社", "mirai-logi.co.jp", Industry.LOGISTICS, 850, Region.KANTO, "埼玉県"),
    ("さくら銀行ソリューションズ株式会社", "sakura-bs.co.jp", Industry.FINANCE, 600, Region.KANTO, "東京都"),
    ("株式会社なにわ商事", "naniwa-shoji.co.jp", Industry.RETAIL, 180, Region.KINKI, "大阪府"),
    ("西日本建設株式会社", "nishinihon-kensetsu.co.jp", Industry.CONSTRUCTION, 950, Region.KYUSHU, "福岡県"),
    ("株式会社青葉メディカル", "aoba-medical.co.jp", Industry.HEALTHCARE, 320, Region.TOHOKU, "宮城県"),
    ("瀬戸内化学工業株式会社", "setouchi-chem.co.jp", Industry.MANUFACTURING, 700, Region.CHUGOKU, "岡山県"),
    ("株式会社クラウドブリッジ", "cloudbridge.jp", Industry.IT, 90, Region.KANTO, "東京都"),
    ("四国フーズ株式会社", "shikoku-foods.co.jp", Industry.MANUFACTURING, 240, Region.SHIKOKU, "香川県"),
    ("株式会社京都デザインラボ", "kyoto-designlab.jp", Industry.MEDIA, 45, Region.KINKI, "京都府"),
    ("日本ロジテック株式会社", "nippon-logitech.co.jp", Industry.LOGISTICS, 2100, Region.KANTO, "千葉県"),
    ("株式会社グリーンエナジー", "green-energy.co.jp", Industry.OTHER, 150, Region.CHUBU, "静岡県"),
    ("大和会計事務所", "yamato-kaikei.jp", Industry.SERVICES, 35, Region.KANTO, "東京都"),
    ("株式会社フジ人材サービス", "fuji-jinzai.co.jp", Industry.SERVICES, 510, Region.KANTO, "東京都"),
    ("中部精密工業株式会社", "chubu-seimitsu.co.jp", Industry.MANUFACTURING, 380, Region.CHUBU, "岐阜県"),
    ("株式会社ひかり不動産", "hikari-fudosan.co.jp", Industry.CONSTRUCTION, 130, Region.KINKI, "兵庫県"),
    ("市立みなと病院", "minato-hospital.jp", Industry.HEALTHCARE, 900, Region.KANTO, "神奈川県"),
    ("株式会社エムズ教育", "ms-edu.co.jp", Industry.PUBLIC, 75, Region.KYUSHU, "熊本県"),
    ("株式会社トーホクITサービス", "tohoku-its.co.jp", Industry.IT, 140, Region.TOHOKU, "福島県"),
    (
        "株式会社丸の内コンサルティング",
        "marunouchi-consult.co.jp",
        Industry.SERVICES,
        220,
        Region.KANTO,
        "東京都",
    ),
    (
        "関西オートパーツ株式会社",
        "kansai-autoparts.co.jp",
        Industry.MANUFACTURING,
        1600,
        Region.KINKI,
        "大阪府",
    ),
    ("株式会社ベイサイド通販", "bayside-tsuhan.jp", Industry.RETAIL, 60, Region.KANTO, "千葉県"),
]

FAMILY = [("佐藤", "sato"), ("鈴木", "suzuki"), ("高橋", "takahashi"), ("田中", "tanaka"), ("伊藤", "ito"),
          ("渡辺", "watanabe"), ("山本", "yamamoto"), ("中村", "nakamura"), ("小林", "kobayashi"), ("加藤", "kato"),
          ("吉田", "yoshida"), ("山田", "yamada"), ("佐々木", "sasaki"), ("松本", "matsumoto"), ("井上", "inoue"),
          ("木村", "kimura"), ("林", "hayashi"), ("清水", "shimizu"), ("山口", "yamaguchi"), ("森", "mori")]  # fmt: skip
GIVEN = [("健一", "kenichi"), ("直子", "naoko"), ("大輔", "daisuke"), ("美穂", "miho"), ("翔", "sho"),
         ("由美", "yumi"), ("浩二", "koji"), ("恵", "megumi"), ("拓也", "takuya"), ("彩", "aya"),
         ("誠", "makoto"), ("陽子", "yoko"), ("亮", "ryo"), ("真理子", "mariko"), ("隆", "takashi")]  # fmt: skip
TITLES = [("代表取締役", 3), ("取締役", 4), ("部長", 14), ("課長", 18), ("係長", 10), ("主任", 14), ("マネージャー", 8),
          ("担当", 22), ("一般社員", 7)]  # fmt: skip
DEPARTMENTS = [
    "情報システム部",
    "営業部",
    "営業企画部",
    "経営企画部",
    "人事部",
    "総務部",
    "マーケティング部",
    "製造部",
]
FREE_MAIL = ["gmail.com", "yahoo.co.jp"]

PAGES = ["/", "/features", "/features/pipeline", "/blog/overtime-reduction", "/blog/sales-kpi", "/blog/dx-basics",
         "/case-studies/manufacturing", "/case-studies/logistics", "/pricing", "/compare", "/contact"]  # fmt: skip
TOUCH_WEIGHTS = [
    (TouchType.PAGE_VIEW, 50), (TouchType.EMAIL_OPEN, 14), (TouchType.EMAIL_CLICK, 6), (TouchType.CONTENT_DOWNLOAD, 6),
    (TouchType.AD_CLICK, 6), (TouchType.WEBINAR_REGISTERED, 4), (TouchType.WEBINAR_ATTENDED, 3),
    (TouchType.SEMINAR_ATTENDED, 2), (TouchType.TRADE_SHOW_VISIT, 3), (TouchType.FORM_SUBMIT, 3),
    (TouchType.DEMO_REQUEST, 1),
]  # fmt: skip
CAMPAIGN_FOR_TYPE = {
    TouchType.WEBINAR_REGISTERED: ["webinar-sales-dx", "webinar-overtime"],
    TouchType.WEBINAR_ATTENDED: ["webinar-sales-dx", "webinar-overtime"],
    TouchType.SEMINAR_ATTENDED: ["seminar-ceo-tokyo", "seminar-osaka"],
    TouchType.TRADE_SHOW_VISIT: ["dx-expo-2026-spring", "workstyle-expo-autumn"],
    TouchType.CONTENT_DOWNLOAD: ["wp-sfa-guide", "wp-cost-cut"],
    TouchType.AD_CLICK: ["search-ads", "sns-leadgen"],
    TouchType.EMAIL_OPEN: ["newsletter"],
    TouchType.EMAIL_CLICK: ["newsletter"],
    TouchType.PAGE_VIEW: ["blog", "search-ads", "", "", ""],
}
SOURCE = "demo"
LEAD_COUNT = 240
ANONYMOUS_VISITORS = 60


def seed(*, users, stdout) -> None:
    rng = random.Random(2026)
    ensure_default_rules()
    now = timezone.now()
    companies = []
    for name, domain, industry, employees, region, prefecture in COMPANIES:
        company, _ = Company.objects.get_or_create(
            domain=domain,
            defaults=dict(
                name=name,
                industry=industry,
                employee_count=employees,
                region=region,
                prefecture=prefecture,
                website=f"https://www.{domain}/",
            ),
        )
        companies.append(company)
    campaigns = {c.utm_campaign: c for c in Campaign.objects.exclude(utm_campaign="")}
    type_population = [t for t, _ in TOUCH_WEIGHTS]
    type_weights = [w for _, w in TOUCH_WEIGHTS]
    titles = [t for t, _ in TITLES]
    title_weights = [w for _, w in TITLES]

    touches: list[Touch] = []
    for i in range(LEAD_COUNT):
        family, family_r = rng.choice(FAMILY)
        given, given_r = rng.choice(GIVEN)
        company = rng.choice(companies)
        free = rng.random() < 0.08
        email = f"{given_r}.{family_r}{i}@{rng.choice(FREE_MAIL) if free else company.domain}"
        created_days_ago = rng.randint(1, 150)
        lead, _ = Lead.objects.get_or_create(
            email=email,
            defaults=dict(
                name=f"{family} {given}",
                title=rng.choices(titles, title_weights)[0],
                department=rng.choice(DEPARTMENTS),
                phone=f"0{rng.randint(3, 9)}-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}",
                company=company,
                source=rng.choice(
                    [
                        LeadSource.WEB_FORM,
                        LeadSource.WEB_FORM,
                        LeadSource.TRADE_SHOW,
                        LeadSource.SEMINAR,
                        LeadSource.IMPORT,
                    ]
                ),
                consent_email=rng.random() < 0.8,
            ),
        )
        # A few hot leads, most cold: a heavy-tailed number of touches.
        count = min(40, int(rng.paretovariate(1.3) * 2))
        for j in range(count):
            kind = rng.choices(type_population, type_weights)[0]
            utm = rng.choice(CAMPAIGN_FOR_TYPE.get(kind, [""]))
            page = rng.choice(PAGES) if kind == TouchType.PAGE_VIEW else ""
            occurred = now - dt.timedelta(days=rng.uniform(0, created_days_ago), minutes=rng.randint(0, 600))
            touches.append(
                Touch(
                    lead=lead,
                    type=kind,
                    occurred_at=occurred,
                    url=f"{SITE}{page}" if page else "",
                    utm_campaign=utm,
                    utm_source="demo" if utm else "",
                    campaign=campaigns.get(utm),
                    source=SOURCE,
                    idempotency_key=f"lead-{i}-{j}",
                    properties={"subject": "月刊ニュースレター"} if kind == TouchType.EMAIL_OPEN else {},
                )
            )
    # Anonymous visitors who have not identified themselves yet (they count as site visitors).
    for v in range(ANONYMOUS_VISITORS):
        visitor_id = f"demo-visitor-{v:04d}"
        Visitor.objects.get_or_create(visitor_id=visitor_id)
        for j in range(rng.randint(1, 6)):
            touches.append(
                Touch(
                    visitor_id=visitor_id,
                    type=TouchType.PAGE_VIEW,
                    occurred_at=now - dt.timedelta(days=rng.uniform(0, 60)),
                    url=f"{SITE}{rng.choice(PAGES)}",
                    source=SOURCE,
                    idempotency_key=f"visitor-{v}-{j}",
                )
            )
    Touch.objects.bulk_create(touches, batch_size=2000, ignore_conflicts=True)
    _fill_first_and_last_touch()
    infer_awareness()
    _seed_scoring_and_handoffs(users, rng, now)
    _company_owners([company.pk for company in companies])
    seed_capture(users=users, stdout=stdout)
    stdout.write(
        f"  leads: {Company.objects.count()} companies, {Lead.objects.count()} leads, {Touch.objects.count()} touches"
    )


def _seed_scoring_and_handoffs(users, rng: random.Random, now: dt.datetime) -> None:
    """Default scoring, territories, then score everyone; the first time, play out weeks of handoff history."""
    ensure_default_scoring()
    east = users["rep1"].team
    west = users["rep3"].team
    if not TerritoryRule.objects.exists():
        for region in (Region.KINKI, Region.CHUGOKU, Region.SHIKOKU, Region.KYUSHU):
            TerritoryRule.objects.create(team=west, region=region, priority=10)
        TerritoryRule.objects.create(team=east, priority=100)  # everything else
    users["rep4"].away_until = timezone.localdate() + dt.timedelta(days=3)  # on holiday: skipped
    users["rep4"].save(update_fields=["away_until"])
    first_time = not Handoff.objects.exists()
    lead_ids = list(Lead.objects.values_list("id", flat=True))
    for start in range(0, len(lead_ids), 500):
        leads_score_and_qualify(lead_ids[start : start + 500], now=now)
    if not first_time:
        return
    for handoff_id in Handoff.objects.filter(state=Handoff.State.UNASSIGNED).values_list("id", flat=True):
        handoff_assign(handoff_id=handoff_id)  # the on-commit task would do it only after seeding
    # History: MQLs spread over the last twelve weeks; most decided, some accepted (→ deals), some rejected.
    reasons = ["too_early", "too_early", "not_a_fit", "no_budget", "bad_contact", "competitor"]
    notes = {
        "too_early": "資料を見ただけ、検討は来期",
        "not_a_fit": "個人利用のため対象外",
        "no_budget": "今期は予算なし",
    }
    for handoff in Handoff.objects.select_related("lead", "owner").order_by("id"):
        if handoff.owner is None:
            continue
        mql_at = min(now - dt.timedelta(hours=2), handoff.lead.last_touch_at or now)
        mql_at -= dt.timedelta(days=rng.uniform(0, 80))
        assigned_at = mql_at + dt.timedelta(minutes=rng.randint(1, 20))
        touched_at = assigned_at + dt.timedelta(minutes=rng.choice([15, 40, 90, 180, 300, 600]))
        Handoff.objects.filter(pk=handoff.pk).update(
            mql_at=mql_at,
            assigned_at=assigned_at,
            sla_due_at=add_business_hours(assigned_at, 4),
            first_touch_at=touched_at,
        )
        Lead.objects.filter(pk=handoff.lead_id).update(mql_at=mql_at)
        handoff.refresh_from_db()
        roll = rng.random()
        if now - mql_at < dt.timedelta(days=2) or roll < 0.15:
            Handoff.objects.filter(pk=handoff.pk).update(
                first_touch_at=None,
                state=Handoff.State.ASSIGNED,
                sla_due_at=add_business_hours(now, 4 * rng.random()),
            )
        elif roll < 0.65:
            handoff_accept(
                handoff=handoff, by=handoff.owner, now=touched_at + dt.timedelta(hours=rng.randint(1, 48))
            )
        else:
            reason = rng.choice(reasons)
            handoff_reject(
                handoff=handoff, by=handoff.owner, reason=reason, note=notes.get(reason, ""),
                now=touched_at + dt.timedelta(hours=rng.randint(1, 48)),
            )  # fmt: skip
    # The replayed history ends now: recycled leads need behaviour from here on to qualify again.
    Lead.objects.filter(lifecycle_stage=LifecycleStage.RECYCLED).update(recycled_at=now)


def _company_owners(company_ids: list[int]) -> None:
    """Each demo company nobody owns yet gets the owner of most of its leads (ties: the lower user id); one whose
    leads nobody owns stays without an owner."""
    counts = (
        Lead.objects.filter(company_id__in=company_ids, company__owner__isnull=True, owner__isnull=False)
        .values("company_id", "owner_id")
        .annotate(n=Count("pk"))
        .order_by("company_id", "-n", "owner_id")
    )
    owners: dict[int, int] = {}
    for row in counts:
        owners.setdefault(row["company_id"], row["owner_id"])
    for company_id, owner_id in owners.items():
        Company.objects.filter(pk=company_id).update(owner_id=owner_id)


def _fill_first_and_last_touch() -> None:
    """Set last touch, creation date and first-touch campaign from the stored touches (demo leads only)."""
    stats = (
        Touch.objects.filter(source=SOURCE, lead__isnull=False)
        .values("lead_id")
        .annotate(last=Max("occurred_at"), first=Min("occurred_at"))
    )
    first_campaign = {}
    for lead_id, campaign_id in (
        Touch.objects.filter(source=SOURCE, lead__isnull=False, campaign__isnull=False)
        .order_by("lead_id", "occurred_at")
        .values_list("lead_id", "campaign_id")
    ):
        first_campaign.setdefault(lead_id, campaign_id)
    leads = Lead.objects.in_bulk([row["lead_id"] for row in stats])
    for row in stats:
        lead = leads[row["lead_id"]]
        lead.last_touch_at = row["last"]
        lead.created_at = min(lead.created_at, row["first"])
        lead.first_touch_campaign_id = lead.first_touch_campaign_id or first_campaign.get(lead.pk)
    Lead.objects.bulk_update(
        leads.values(), ["last_touch_at", "created_at", "first_touch_campaign_id"], batch_size=1000
    )
