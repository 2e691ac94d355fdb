"""Every URL of kpis, mounted at the site's root by salesmarketing.urls (`include("kpis.urls")`): the shared
dashboard is the home page (`/`, name `dashboard`); the rest is under `/kpis/` (namespace `kpis`)."""

from django.urls import include, path

from kpis import views

kpi_patterns = [
    path("weekly/", views.weekly_review, name="weekly_review"),
    path("weekly/actions/", views.action_item_create, name="action_item_create"),
    path("actions/<int:pk>/done/", views.action_item_done, name="action_item_done"),
    path("targets/", views.targets, name="targets"),
    path("values/", views.manual_values, name="manual_values"),
    path("definitions/", views.definitions, name="definitions"),
    path("<slug:key>/", views.drilldown, name="drilldown"),
]

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("kpis/", include((kpi_patterns, "kpis"))),
]
