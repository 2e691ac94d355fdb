from django.contrib import admin

from reminders.models import DigestSent, DigestSetting, ReminderSent, Snooze


@admin.register(DigestSetting)
class DigestSettingAdmin(admin.ModelAdmin):
    list_display = ("user", "enabled", "send_at")
    list_filter = ("enabled",)


@admin.register(DigestSent)
class DigestSentAdmin(admin.ModelAdmin):
    list_display = ("user", "day", "claimed_at", "sent_at")
    date_hierarchy = "day"


@admin.register(ReminderSent)
class ReminderSentAdmin(admin.ModelAdmin):
    list_display = ("kind", "object_id", "stage", "at", "user", "sent_at")
    list_filter = ("kind", "stage")


@admin.register(Snooze)
class SnoozeAdmin(admin.ModelAdmin):
    list_display = ("kind", "object_id", "user", "until")
