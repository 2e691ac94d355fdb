from django.urls import path

from kpis import views

app_name = "kpis"
urlpatterns = [
    path("weekly/", views.weekly_review, name="weekly_review"),
]
