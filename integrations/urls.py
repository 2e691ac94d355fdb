from django.urls import path

from integrations import views

app_name = "integrations"
urlpatterns = [
    path("webhooks/", views.webhook_list, name="webhooks"),
    path("webhooks/<int:pk>/", views.webhook_detail, name="webhook_detail"),
    path("webhooks/<int:pk>/toggle/", views.webhook_toggle, name="webhook_toggle"),
    path("webhooks/<int:pk>/test/", views.webhook_test, name="webhook_test"),
    path("deliveries/<int:pk>/redeliver/", views.delivery_redeliver_view, name="redeliver"),
    path("chat/", views.chat_list, name="chat"),
    path("chat/<int:team_pk>/", views.chat_edit, name="chat_edit"),
    path("mailbox/", views.mailbox_settings, name="mailbox"),
    path("mailbox/disconnect/", views.mailbox_disconnect_view, name="mailbox_disconnect"),
]
