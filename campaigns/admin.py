"""Django admin for campaigns: set-up and looking things up. The attribution tables are derived data (read-only
here; rebuild with `manage.py attribution_rebuild`)."""

from __future__ import annotations

from django.contrib import admin

from campaigns.models import AttributionState, CampaignCost, PersonaRule
from leads.models import Campaign, Persona


class PersonaRuleInline(admin.TabularInline):
    model = PersonaRule
    extra = 0


@admin.register(Persona)
class PersonaAdmin(admin.ModelAdmin):
    list_display = ("name", "role_title", "industry", "company_size", "awareness_stage")
    search_fields = ("name", "role_title")
    inlines = [PersonaRuleInline]


class CampaignCostInline(admin.TabularInline):
    model = CampaignCost
    extra = 0
    ordering = ("-date",)


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ("name", "channel", "status", "start_date", "end_date", "budget", "utm_campaign", "owner")
    list_filter = ("channel", "status", "objective")
    search_fields = ("name", "utm_campaign")
    filter_horizontal = ("personas",)
    raw_id_fields = ("owner",)
    inlines = [CampaignCostInline]


@admin.register(AttributionState)
class AttributionStateAdmin(admin.ModelAdmin):
    list_display = ("swept_at", "rebuilt_at", "rolled_up_at", "touch_id_seen", "visitor_id_seen")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
