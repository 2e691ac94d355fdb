from django.urls import path  # noqa: F401  (each feature adds its paths below)

from nurture.mail import views as mail_views

app_name = "nurture"
urlpatterns: list = []

# --- Email (nurture.mail): sender profile, templates, broadcasts ---
urlpatterns += [
    path("mail/sender/", mail_views.sender_profile, name="mail_sender"),
    path("mail/templates/", mail_views.template_list, name="mail_templates"),
    path("mail/templates/new/", mail_views.template_edit, name="mail_template_new"),
    path("mail/templates/<int:pk>/", mail_views.template_edit, name="mail_template_edit"),
    path("mail/templates/<int:pk>/preview/", mail_views.template_preview, name="mail_template_preview"),
    path("mail/templates/<int:pk>/test/", mail_views.template_test_send, name="mail_template_test"),
    path("mail/broadcasts/", mail_views.broadcast_list, name="mail_broadcasts"),
    path("mail/broadcasts/new/", mail_views.broadcast_create, name="mail_broadcast_new"),
    path("mail/broadcasts/<int:pk>/", mail_views.broadcast_detail, name="mail_broadcast_detail"),
    path(
        "mail/broadcasts/<int:pk>/<slug:action>/", mail_views.broadcast_action, name="mail_broadcast_action"
    ),
]
