"""Admin for KPI set-up and look-ups. Snapshots are read-only: they are what a meeting saw."""

from __future__ import annotations

from django.contrib import admin

from kpis.models import ActionItem, ManualKpiValue, Target, WeeklySnapshot


@admin.register(Target)
class TargetAdmin(admin.ModelAdmin):
    list_display = ("kpi", "period_kind", "team", "value", "effective_from", "set_by", "updated_at")
    list_filter = ("period_kind", "team")
    search_fields = ("kpi",)


@admin.register(ManualKpiValue)
class ManualKpiValueAdmin(admin.ModelAdmin):
    list_display = ("kpi", "period_kind", "period_start", "value", "note", "entered_by")
    list_filter = ("kpi", "period_kind")


@admin.register(WeeklySnapshot)
class WeeklySnapshotAdmin(admin.ModelAdmin):
    list_display = ("__str__", "week_start", "team", "definitions_hash", "frozen_at")
    list_filter = ("team",)
    date_hierarchy = "week_start"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ActionItem)
class ActionItemAdmin(admin.ModelAdmin):
    list_display = ("title", "owner", "due_date", "week_start", "done_at")
    list_filter = ("done_at",)
    search_fields = ("title",)
    raw_id_fields = ("owner", "created_by")
