from django.urls import path

from nurture.mail import views as mail_views
from nurture.segments import views as segment_views
from nurture.sequences import views as sequence_views

app_name = "nurture"
urlpatterns = [
    # Segments
    path("segments/", segment_views.segment_list, name="segment_list"),
    path("segments/new", segment_views.segment_create, name="segment_create"),
    path("segments/count", segment_views.segment_live_count, name="segment_live_count"),
    path("segments/add-leads", segment_views.segment_add_leads, name="segment_add_leads"),
    path("segments/<int:pk>/", segment_views.segment_detail, name="segment_detail"),
    path("segments/<int:pk>/edit", segment_views.segment_edit, name="segment_edit"),
    path("segments/<int:pk>/count", segment_views.segment_count, name="segment_count"),
    path("segments/<int:pk>/delete", segment_views.segment_delete, name="segment_delete"),
    path("segments/<int:pk>/import", segment_views.segment_import, name="segment_import"),
    path(
        "segments/<int:pk>/members/remove",
        segment_views.segment_members_remove,
        name="segment_members_remove",
    ),
    # Email: sender profile, templates, broadcasts
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
    # Sequences (ステップメール)
    path("sequences/", sequence_views.sequence_list, name="sequence_list"),
    path("sequences/new/", sequence_views.sequence_edit, name="sequence_new"),
    path("sequences/enrol/", sequence_views.sequence_enrol_selection, name="sequence_enrol_selection"),
    path(
        "sequences/enrol/lead/<int:lead_pk>/", sequence_views.sequence_enrol_lead, name="sequence_enrol_lead"
    ),
    path("sequences/<int:pk>/", sequence_views.sequence_detail, name="sequence_detail"),
    path("sequences/<int:pk>/edit/", sequence_views.sequence_edit, name="sequence_edit"),
    path("sequences/<int:pk>/steps/", sequence_views.step_add, name="sequence_step_add"),
    path(
        "sequences/<int:pk>/steps/<int:step_pk>/<slug:action>/",
        sequence_views.step_action,
        name="sequence_step_action",
    ),
    path("sequences/<int:pk>/status/<slug:action>/", sequence_views.sequence_status, name="sequence_status"),
    path("sequences/<int:pk>/enrol/", sequence_views.sequence_enrol, name="sequence_enrol"),
    path(
        "sequences/<int:pk>/enrolments/<int:enrolment_pk>/remove/",
        sequence_views.enrolment_remove,
        name="sequence_enrolment_remove",
    ),
]
