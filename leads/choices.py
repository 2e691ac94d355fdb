"""Choice sets shared by leads, campaigns, pipeline and kpis."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class AwarenessStage(models.TextChoices):
    """How far along a lead is: unaware of the problem → researching → comparing solutions."""

    LATENT = "latent", _("Unaware (latent)")
    SEMI = "semi", _("Researching (semi-aware)")
    MANIFEST = "manifest", _("Comparing solutions (aware)")


AWARENESS_RANK = {AwarenessStage.LATENT: 0, AwarenessStage.SEMI: 1, AwarenessStage.MANIFEST: 2}


class LifecycleStage(models.TextChoices):
    SUBSCRIBER = "subscriber", _("Subscriber")
    LEAD = "lead", _("Lead")
    MQL = "mql", _("MQL")
    SQL = "sql", _("SQL")
    OPPORTUNITY = "opportunity", _("Opportunity")
    CUSTOMER = "customer", _("Customer")
    RECYCLED = "recycled", _("Recycled (nurture)")
    DISQUALIFIED = "disqualified", _("Disqualified")


class ConsentMethod(models.TextChoices):
    """How a lead's consent to marketing email was obtained: the proof the email law asks to keep."""

    WEB_FORM = "web_form", _("Opted in on a web form")
    BUSINESS_CARD = "business_card", _("Exchanged business cards (exemption)")
    IN_PERSON = "in_person", _("Agreed in person or by phone")
    EMAIL = "email", _("Agreed by email")
    IMPORT = "import", _("Imported list with proof")
    OTHER = "other", _("Other")


class LeadSource(models.TextChoices):
    WEB_FORM = "web_form", _("Web form")
    API = "api", _("API")
    IMPORT = "import", _("CSV import")
    TRACKING = "tracking", _("Tracking")
    MANUAL = "manual", _("Entered by hand")
    TRADE_SHOW = "trade_show", _("Trade show")
    SEMINAR = "seminar", _("Seminar / webinar")
    REFERRAL = "referral", _("Referral")
    BUSINESS_CARD = "business_card", _("Business card")
    SALES = "sales", _("Sales-sourced")
    OTHER = "other", _("Other")


class TouchType(models.TextChoices):
    PAGE_VIEW = "page_view", _("Page view")
    FORM_SUBMIT = "form_submit", _("Form submitted")
    CONTENT_DOWNLOAD = "content_download", _("Content download")
    WEBINAR_REGISTERED = "webinar_registered", _("Webinar registration")
    WEBINAR_ATTENDED = "webinar_attended", _("Webinar attended")
    SEMINAR_REGISTERED = "seminar_registered", _("Seminar registration")
    SEMINAR_ATTENDED = "seminar_attended", _("Seminar attended")
    TRADE_SHOW_VISIT = "trade_show_visit", _("Trade show visit")
    EMAIL_OPEN = "email_open", _("Email opened")
    EMAIL_CLICK = "email_click", _("Email clicked")
    AD_CLICK = "ad_click", _("Ad click")
    DEMO_REQUEST = "demo_request", _("Demo request")
    UNSUBSCRIBE = "unsubscribe", _("Unsubscribed")
    SALES_ACTIVITY = "sales_activity", _("Sales activity")
    # An e-mail from the lead to one of us, read from the mailbox (pipeline.mailbox). Not a sales touch (it does not
    # stop a handoff's SLA clock); scoring gives it points only through a rule made for it.
    EMAIL_REPLY = "email_reply", _("E-mail from the lead")
    # A row of an imported list that says nothing about what the person did (a purchased list, business cards):
    # no default scoring rule gives it points, so importing a list does not make anyone warmer.
    LIST_IMPORT = "list_import", _("Imported from a list")


class Industry(models.TextChoices):
    MANUFACTURING = "manufacturing", _("Manufacturing")
    IT = "it", _("IT / software")
    FINANCE = "finance", _("Finance / insurance")
    RETAIL = "retail", _("Retail / wholesale")
    CONSTRUCTION = "construction", _("Construction / real estate")
    LOGISTICS = "logistics", _("Logistics")
    HEALTHCARE = "healthcare", _("Healthcare / welfare")
    SERVICES = "services", _("Professional services")
    PUBLIC = "public", _("Public sector / education")
    MEDIA = "media", _("Media / advertising")
    OTHER = "other", _("Other")


class Region(models.TextChoices):
    HOKKAIDO = "hokkaido", _("Hokkaido")
    TOHOKU = "tohoku", _("Tohoku")
    KANTO = "kanto", _("Kanto")
    CHUBU = "chubu", _("Chubu")
    KINKI = "kinki", _("Kinki")
    CHUGOKU = "chugoku", _("Chugoku")
    SHIKOKU = "shikoku", _("Shikoku")
    KYUSHU = "kyushu", _("Kyushu / Okinawa")
    OVERSEAS = "overseas", _("Overseas")


class CompanySize(models.TextChoices):
    """Employee-count bands for the company list's filter (the count itself is what a company stores)."""

    SMALL = "small", _("1–49 employees")
    MEDIUM = "medium", _("50–299 employees")
    LARGE = "large", _("300–999 employees")
    ENTERPRISE = "enterprise", _("1,000+ employees")


# (lowest, highest) employees of each band; None: no bound.
COMPANY_SIZE_BOUNDS: dict[str, tuple[int, int | None]] = {
    CompanySize.SMALL: (1, 49),
    CompanySize.MEDIUM: (50, 299),
    CompanySize.LARGE: (300, 999),
    CompanySize.ENTERPRISE: (1000, None),
}
