from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from salesmarketing.models import Notification, NotificationEmail, Team, User

# Through gettext, so the admin is named in the viewer's language (not "Django 管理サイト").
admin.site.site_header = _("salesmarketing administration")
admin.site.site_title = _("salesmarketing administration")
admin.site.index_title = _("Set-up")


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "display_name", "email", "role", "team", "is_active")
    list_filter = ("role", "team", "is_active")
    search_fields = ("username", "display_name", "email")
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        (_("Sales and marketing"), {"fields": ("display_name", "role", "team")}),
    )
    add_fieldsets = (
        *BaseUserAdmin.add_fieldsets,
        (_("Sales and marketing"), {"fields": ("display_name", "role", "team")}),
    )


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "manager")
    list_select_related = ("manager",)


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("__str__", "recipient", "created_at", "read_at")
    list_select_related = ("recipient",)
    raw_id_fields = ("recipient",)


@admin.register(NotificationEmail)
class NotificationEmailAdmin(admin.ModelAdmin):
    """Whether a notification's e-mail went out (and why not): the ledger is the mail task's, read-only here."""

    list_display = ("__str__", "recipient", "state", "attempts", "created_at", "sent_at")
    list_filter = ("state",)
    list_select_related = ("recipient",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
