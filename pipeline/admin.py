from django.contrib import admin

from pipeline.models import Activity, Deal, Pipeline, Stage, StageChange, Task


class StageInline(admin.TabularInline):
    model = Stage
    extra = 0
    fields = ("order", "name_ja", "name_en", "probability", "is_won", "is_lost", "stale_after_days")


@admin.register(Pipeline)
class PipelineAdmin(admin.ModelAdmin):
    list_display = ("name", "is_default", "created_at")
    inlines = [StageInline]


@admin.register(Deal)
class DealAdmin(admin.ModelAdmin):
    # Stage, status and closing go through the board and the API (services write the stage history).
    list_display = (
        "name",
        "company",
        "owner",
        "stage",
        "status",
        "amount",
        "probability",
        "expected_close_date",
    )
    list_filter = ("status", "source", "stage__pipeline", "team")
    list_select_related = ("company", "owner", "stage")
    search_fields = ("name", "company__name")
    raw_id_fields = ("company", "contact", "owner", "handoff", "first_touch_campaign")
    readonly_fields = (
        "stage",
        "status",
        "position",
        "stage_changed_at",
        "closed_at",
        "won_amount",
        "loss_cause",
        "loss_side",
        "loss_note",
        "version",
        "created_at",
        "updated_at",
    )


@admin.register(StageChange)
class StageChangeAdmin(admin.ModelAdmin):
    list_display = ("deal", "from_stage", "to_stage", "changed_by", "changed_at")
    list_select_related = ("deal", "from_stage", "to_stage", "changed_by")
    raw_id_fields = ("deal",)
    date_hierarchy = "changed_at"

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    list_display = ("subject", "type", "deal", "lead", "is_voice", "occurred_at", "created_by")
    list_filter = ("type", "is_voice")
    list_select_related = ("deal", "lead", "created_by")
    raw_id_fields = ("deal", "lead")
    search_fields = ("subject", "voice_text")


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ("title", "deal", "assignee", "due_date", "done_at")
    list_select_related = ("deal", "assignee")
    raw_id_fields = ("deal",)
