from django.urls import path

from nurture.segments import views as segment_views

app_name = "nurture"
urlpatterns: list = [
    # --- segments (#18 point 1) ---
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
    # --- end of segments ---
]
