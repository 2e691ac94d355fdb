from django.urls import path

from pipeline import views

app_name = "pipeline"
urlpatterns = [
    path("", views.board, name="board"),
    path("forecast/", views.forecast, name="forecast"),
    path("deals/new/", views.deal_new, name="deal_new"),
    path("deals/<int:pk>/", views.deal_detail, name="deal_detail"),
    path("deals/<int:pk>/edit/", views.deal_edit, name="deal_edit"),
    path("deals/<int:pk>/overview/", views.deal_overview, name="deal_overview"),
    path("deals/<int:pk>/move/", views.deal_move, name="deal_move"),
    path("deals/<int:pk>/close/", views.deal_close, name="deal_close"),
    path("deals/<int:pk>/activities/", views.activity_create, name="activity_create"),
    path(
        "activities/<int:pk>/attachments/<int:attachment_pk>",
        views.activity_attachment,
        name="activity_attachment",
    ),
    path("deals/<int:pk>/tasks/", views.task_create, name="task_create"),
    path("tasks/<int:pk>/done/", views.task_done, name="task_done"),
    path("leads/<int:lead_pk>/activities/", views.lead_activity_create, name="lead_activity_create"),
]
