from django.urls import path

from kpis import views

app_name = "kpis"
urlpatterns = [
    path("weekly/", views.weekly_review, name="weekly_review"),
    path("weekly/actions/", views.action_item_create, name="action_item_create"),
    path("actions/<int:pk>/done/", views.action_item_done, name="action_item_done"),
    path("targets/", views.targets, name="targets"),
    path("values/", views.manual_values, name="manual_values"),
    path("definitions/", views.definitions, name="definitions"),
    path("<slug:key>/", views.drilldown, name="drilldown"),
]
