"""Demo set-up for the capture paths: two public form endpoints and an API key for the website integration.

`seed_capture(*, users, stdout)` is idempotent; call it from the leads demo seeding (leads/demo.py).
"""

from __future__ import annotations

from leads.choices import LeadSource, TouchType
from leads.models import Campaign, FormEndpoint
from salesmarketing.models import ApiKey
from salesmarketing.services import api_key_create

FORMS = [
    (
        "demo-whitepaper",
        "ホワイトペーパー請求フォーム (デモ)",
        TouchType.CONTENT_DOWNLOAD,
        Campaign.Channel.WHITEPAPER,
    ),
    ("demo-seminar", "セミナー申込フォーム (デモ)", TouchType.SEMINAR_REGISTERED, Campaign.Channel.SEMINAR),
    ("demo-contact", "お問い合わせフォーム (デモ)", TouchType.DEMO_REQUEST, None),
]
DEMO_KEY_SOURCE = "demo-website"


def seed_capture(*, users, stdout) -> None:
    for site_key, name, touch_type, channel in FORMS:
        campaign = Campaign.objects.filter(channel=channel).order_by("pk").first() if channel else None
        FormEndpoint.objects.get_or_create(
            site_key=site_key,
            defaults={
                "name": name,
                "touch_type": touch_type,
                "lead_source": LeadSource.WEB_FORM,
                "campaign": campaign,
            },
        )
    if not ApiKey.objects.filter(source=DEMO_KEY_SOURCE).exists():
        _key, plain = api_key_create(
            name="Website (demo)",
            source=DEMO_KEY_SOURCE,
            scopes=[ApiKey.Scope.EVENTS_WRITE, ApiKey.Scope.LEADS_READ, ApiKey.Scope.LEADS_WRITE],
            user=users.get("admin"),
        )
        stdout.write(f"Demo API key for POST /api/v1/events (shown once): {plain}")
