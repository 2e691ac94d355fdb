from django.contrib import admin

from integrations.models import TeamChannel, WebhookDelivery, WebhookSubscription


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    list_display = ("name", "url", "is_active", "flagged_at", "created_at")
    exclude = ("secret",)  # shown once, at creation on the settings page; never again


@admin.register(TeamChannel)
class TeamChannelAdmin(admin.ModelAdmin):
    list_display = ("team", "provider", "language", "is_active", "flagged_at")
    exclude = ("token",)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "event",
        "subscription",
        "channel",
        "state",
        "attempts",
        "last_status_code",
        "delivered_at",
    )
    list_filter = ("state",)
    list_select_related = ("event", "subscription", "channel__team")
    raw_id_fields = ("event",)
