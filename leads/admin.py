"""Django admin for the leads app: set-up (form endpoints, awareness rules) and looking things up.

Tables that grow large (leads, touches, visitors) skip the full result count and use raw-id widgets, so an
admin page stays fast with millions of rows.
"""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from leads.models import (
    AssignmentLog,
    AwarenessRule,
    Company,
    FormEndpoint,
    Handoff,
    ImportJob,
    Lead,
    LifecycleChange,
    ScoringConfig,
    ScoringGroup,
    ScoringRule,
    TerritoryRule,
    Touch,
    Visitor,
)


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "domain",
        "corporate_number",
        "industry",
        "employee_count",
        "prefecture",
        "region",
    )
    list_filter = ("industry", "region")
    search_fields = ("name", "name_kana", "domain", "corporate_number")
    raw_id_fields = ("parent",)
    readonly_fields = ("merged_into", "merged_at")  # set by a merge (leads.merge), never by hand
    show_full_result_count = False


@admin.register(LifecycleChange)
class LifecycleChangeAdmin(admin.ModelAdmin):
    """The history is written by leads.lifecycle only: read here, never edited."""

    list_display = ("lead", "from_stage", "to_stage", "at", "by", "reason")
    list_filter = ("to_stage",)
    raw_id_fields = ("lead", "by")
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    list_display = (
        "email",
        "name",
        "company",
        "lifecycle_stage",
        "awareness_stage",
        "total_score",
        "owner",
        "last_touch_at",
    )
    list_filter = ("lifecycle_stage", "awareness_stage", "source")
    list_select_related = ("company", "owner")
    search_fields = ("email", "name", "name_kana")
    raw_id_fields = ("company", "owner", "first_touch_campaign", "persona")
    readonly_fields = (
        "merged_into",  # set by a merge (leads.merge), never by hand
        "merged_at",
        "fit_score",
        "engagement_score",
        "total_score",
        "scored_at",
        "mql_at",
        "last_touch_at",
        "created_at",
        "updated_at",
    )
    show_full_result_count = False


@admin.register(Touch)
class TouchAdmin(admin.ModelAdmin):
    list_display = ("occurred_at", "type", "lead", "visitor_id", "campaign", "source")
    list_filter = ("type", "source")
    list_select_related = ("lead", "campaign")
    search_fields = ("idempotency_key", "visitor_id", "lead__email")
    raw_id_fields = ("lead", "campaign")
    readonly_fields = ("created_at",)
    date_hierarchy = "occurred_at"
    show_full_result_count = False


@admin.register(Visitor)
class VisitorAdmin(admin.ModelAdmin):
    list_display = ("visitor_id", "lead", "first_seen_at", "identified_at")
    list_select_related = ("lead",)
    search_fields = ("visitor_id", "lead__email")
    raw_id_fields = ("lead",)
    show_full_result_count = False


@admin.register(AwarenessRule)
class AwarenessRuleAdmin(admin.ModelAdmin):
    list_display = ("name", "stage", "field", "value", "min_count", "is_active")
    list_filter = ("stage", "is_active")
    list_editable = ("is_active",)


@admin.register(TerritoryRule)
class TerritoryRuleAdmin(admin.ModelAdmin):
    list_display = ("__str__", "team", "region", "industry", "priority", "is_active")
    list_editable = ("priority", "is_active")
    list_select_related = ("team",)


@admin.register(ScoringGroup)
class ScoringGroupAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "cap")
    list_filter = ("kind",)


@admin.register(ScoringRule)
class ScoringRuleAdmin(admin.ModelAdmin):
    """For looking up; edit rules on the scoring page, which rescores everyone after a change."""

    list_display = ("name", "kind", "group", "points", "is_active")
    list_filter = ("kind", "group", "is_active")
    readonly_fields = [f.name for f in ScoringRule._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(ScoringConfig)
class ScoringConfigAdmin(admin.ModelAdmin):
    list_display = ("__str__", "updated_at", "updated_by")
    readonly_fields = ("fit_threshold", "total_threshold", "version", "updated_at", "updated_by")

    def has_add_permission(self, request):
        return False


class AssignmentLogInline(admin.TabularInline):
    model = AssignmentLog
    extra = 0
    readonly_fields = ("user", "team", "reason", "created_at")
    can_delete = False


@admin.register(Handoff)
class HandoffAdmin(admin.ModelAdmin):
    inlines = [AssignmentLogInline]
    list_display = ("lead", "owner", "state", "mql_at", "sla_due_at", "first_touch_at", "decided_at")
    list_filter = ("state", "reject_reason")
    list_select_related = ("lead", "owner")
    search_fields = ("lead__email", "lead__name")
    raw_id_fields = ("lead", "owner", "team", "campaign", "decided_by")


@admin.register(FormEndpoint)
class FormEndpointAdmin(admin.ModelAdmin):
    list_display = ("name", "site_key", "touch_type", "campaign", "is_active")
    list_filter = ("is_active", "touch_type")
    list_select_related = ("campaign",)
    search_fields = ("name", "site_key")
    raw_id_fields = ("campaign",)
    readonly_fields = ("embed_example", "created_at")

    @admin.display(description=_("How to use"))
    def embed_example(self, obj: FormEndpoint) -> str:
        if not obj.pk:
            return _("Save first; the form's address appears here.")
        action = reverse("capture:form_submit", args=[obj.site_key])
        snippet = (
            f'<form method="post" action="https://YOUR-APP-HOST{action}">\n'
            '  <input type="email" name="email" required>\n'
            '  <input type="text" name="name">\n'
            '  <input type="text" name="company">\n'
            '  <input type="checkbox" name="consent_email" value="1">\n'
            '  <input type="text" name="sm_hp" tabindex="-1" autocomplete="off" style="display:none">\n'
            '  <button type="submit">Send</button>\n'
            "</form>\n"
            '<script async src="https://YOUR-APP-HOST/static/leads/t.js"></script>'
        )
        # A read-only textarea wraps long lines and copies easily, with no inline style (the CSP forbids those).
        return format_html(
            '<textarea readonly rows="10" cols="90" class="vLargeTextField">{}</textarea>', snippet
        )


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = (
        "file_name",
        "status",
        "rows_total",
        "accepted_count",
        "error_count",
        "created_by",
        "created_at",
    )
    list_filter = ("status",)
    list_select_related = ("created_by",)
    exclude = ("content",)
    readonly_fields = [f.name for f in ImportJob._meta.fields if f.name != "content"]

    def has_add_permission(self, request) -> bool:
        return False  # files come in through the import page or `manage.py import_leads`
