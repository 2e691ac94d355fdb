"""Every URL of leads, mounted at the site's root by salesmarketing.urls (`include("leads.urls")`):

- `/leads/…` (namespace `leads`): the lead list and pages, and the feature pages (scoring, handoffs, import,
  privacy), each feature's views in its package;
- `/search/` (namespace `search`): the header's search over leads, companies and (through hooks.SEARCH) deals;
- `/settings/custom-fields/` (namespace `custom_fields`): the admins' custom fields of leads, companies, deals;
- the public capture URLs at the root (namespace `capture`, no login): web-form posts, the tracking snippet's
  collector, email open/click tracking and unsubscribe links, which customers' sites and sent emails link to.
"""

from django.urls import include, path

from leads import views
from leads.bulk_actions import views as bulk_views
from leads.capture import views as capture_views
from leads.custom_fields import views as custom_field_views
from leads.handoffs import views as handoff_views
from leads.importing import views as import_views
from leads.merge import views as merge_views
from leads.owners import views as owner_views
from leads.privacy import views as privacy_views
from leads.records import views as record_views
from leads.scoring import views as scoring_views
from leads.search import views as search_views

lead_patterns = [
    path("", views.lead_list, name="list"),
    path("export.csv", privacy_views.lead_export, name="export"),
    path("new", record_views.lead_new, name="new"),
    path("views/", bulk_views.saved_views, name="saved_views"),
    path("views/new", bulk_views.saved_view_new, name="saved_view_new"),
    path("views/<int:pk>/edit", bulk_views.saved_view_update, name="saved_view_update"),
    path("views/<int:pk>/delete", bulk_views.saved_view_delete, name="saved_view_delete"),
    path("bulk/", bulk_views.bulk_jobs, name="bulk_jobs"),
    path("bulk/new", bulk_views.bulk_new, name="bulk_new"),
    path("bulk/<int:pk>/", bulk_views.bulk_job, name="bulk_job"),
    path("business-card", record_views.business_card, name="business_card"),
    path("<int:pk>/", views.lead_detail, name="detail"),
    path("<int:pk>/edit", record_views.lead_edit, name="edit"),
    path("<int:pk>/lifecycle", record_views.lead_lifecycle, name="lifecycle"),
    path("<int:pk>/accept-submitted", views.lead_accept_submitted_view, name="accept_submitted"),
    path("<int:pk>/export.json", privacy_views.lead_export_view, name="privacy_export"),
    path("<int:pk>/erase", privacy_views.lead_erase_view, name="privacy_erase"),
    path("<int:pk>/owner", owner_views.lead_owner_change_view, name="owner_change"),
    path("duplicates/", merge_views.duplicates, name="duplicates"),
    path("duplicates/dismiss", merge_views.duplicate_dismiss, name="duplicate_dismiss"),
    path("<int:pk>/merge/<int:other>", merge_views.lead_merge, name="lead_merge"),
    path("companies/<int:pk>/merge/<int:other>", merge_views.company_merge, name="company_merge"),
    path("companies/", record_views.company_list, name="company_list"),
    path("companies/new", record_views.company_new, name="company_new"),
    path("companies/<int:pk>/", record_views.company_detail, name="company_detail"),
    path("companies/<int:pk>/edit", record_views.company_edit, name="company_edit"),
    path("companies/<int:pk>/owner", owner_views.company_owner_change_view, name="company_owner_change"),
    path("scoring/", scoring_views.scoring_page, name="scoring"),
    path("scoring/progress", scoring_views.rescore_progress_view, name="scoring_progress"),
    path("scoring/thresholds", scoring_views.thresholds_update, name="scoring_thresholds"),
    path("scoring/rules/new", scoring_views.rule_edit, name="scoring_rule_new"),
    path("scoring/rules/<int:pk>/", scoring_views.rule_edit, name="scoring_rule"),
    path("scoring/groups/<int:pk>/", scoring_views.group_update, name="scoring_group"),
    path("handoffs/", handoff_views.handoff_list, name="handoffs"),
    path("handoffs/<int:pk>/touch", handoff_views.handoff_touch, name="handoff_touch"),
    path("handoffs/<int:pk>/accept", handoff_views.handoff_accept_view, name="handoff_accept"),
    path("handoffs/<int:pk>/reject", handoff_views.handoff_reject_view, name="handoff_reject"),
    path("handoffs/<int:pk>/assign", handoff_views.handoff_assign_view, name="handoff_assign"),
    path("handoffs/<int:pk>/undo", handoff_views.handoff_undo_view, name="handoff_undo"),
    path("teams/", handoff_views.team_list, name="teams"),
    path("teams/<int:pk>/", handoff_views.team_detail, name="team"),
    path("teams/<int:pk>/reps/<int:rep_pk>", handoff_views.team_rep_update, name="team_rep"),
    path(
        "teams/<int:pk>/handoffs/<int:handoff_pk>/assign",
        handoff_views.team_handoff_assign,
        name="team_assign",
    ),
    path("import/", import_views.import_start, name="import"),
    path("import/<int:pk>/", import_views.import_detail, name="import_detail"),
    path("import/<int:pk>/run", import_views.import_run, name="import_run"),
    path("import/<int:pk>/errors.csv", import_views.import_failed_rows, name="import_failed_rows"),
]

capture_patterns = [
    path("f/<slug:site_key>", capture_views.form_submit, name="form_submit"),
    path("t/collect", capture_views.collect, name="collect"),
    path("t/o/<str:token>.gif", capture_views.email_open, name="email_open"),
    path("t/c/<str:token>", capture_views.email_click, name="email_click"),
    path("u/<str:token>", privacy_views.unsubscribe, name="unsubscribe"),
]

custom_field_patterns = [
    path("", custom_field_views.definition_list, name="list"),
    path("new", custom_field_views.definition_new, name="new"),
    path("<int:pk>/", custom_field_views.definition_edit, name="edit"),
    path("<int:pk>/archive", custom_field_views.definition_archive, name="archive"),
]

search_patterns = [
    path("", search_views.search_page, name="page"),
]

urlpatterns = [
    path("leads/", include((lead_patterns, "leads"))),
    path("search/", include((search_patterns, "search"))),
    path("settings/custom-fields/", include((custom_field_patterns, "custom_fields"))),
    path("", include((capture_patterns, "capture"))),
]
