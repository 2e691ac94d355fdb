from django.urls import path

from leads import views, views_export, views_handoffs, views_import, views_privacy, views_scoring

app_name = "leads"
urlpatterns = [
    path("", views.lead_list, name="list"),
    path("export.csv", views_export.lead_export, name="export"),
    path("<int:pk>/", views.lead_detail, name="detail"),
    path("<int:pk>/accept-submitted", views.lead_accept_submitted_view, name="accept_submitted"),
    path("<int:pk>/export.json", views_privacy.lead_export_view, name="privacy_export"),
    path("<int:pk>/erase", views_privacy.lead_erase_view, name="privacy_erase"),
    path("companies/<int:pk>/", views.company_detail, name="company_detail"),
    path("scoring/", views_scoring.scoring_page, name="scoring"),
    path("scoring/progress", views_scoring.rescore_progress_view, name="scoring_progress"),
    path("scoring/thresholds", views_scoring.thresholds_update, name="scoring_thresholds"),
    path("scoring/rules/new", views_scoring.rule_edit, name="scoring_rule_new"),
    path("scoring/rules/<int:pk>/", views_scoring.rule_edit, name="scoring_rule"),
    path("scoring/groups/<int:pk>/", views_scoring.group_update, name="scoring_group"),
    path("handoffs/", views_handoffs.handoff_list, name="handoffs"),
    path("handoffs/<int:pk>/touch", views_handoffs.handoff_touch, name="handoff_touch"),
    path("handoffs/<int:pk>/accept", views_handoffs.handoff_accept_view, name="handoff_accept"),
    path("handoffs/<int:pk>/reject", views_handoffs.handoff_reject_view, name="handoff_reject"),
    path("handoffs/<int:pk>/assign", views_handoffs.handoff_assign_view, name="handoff_assign"),
    path("handoffs/<int:pk>/undo", views_handoffs.handoff_undo_view, name="handoff_undo"),
    path("import/", views_import.import_start, name="import"),
    path("import/<int:pk>/", views_import.import_detail, name="import_detail"),
    path("import/<int:pk>/run", views_import.import_run, name="import_run"),
    path("import/<int:pk>/errors.csv", views_import.import_failed_rows, name="import_failed_rows"),
]
