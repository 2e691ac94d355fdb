from django.urls import path

from pipeline.booking import views

app_name = "booking"

urlpatterns = [
    path("book/team/<slug:slug>/", views.team_booking, name="team"),
    path("book/<slug:slug>/", views.rep_booking, name="rep"),
    path("accounts/booking/", views.booking_settings, name="settings"),
]
