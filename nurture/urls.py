from django.urls import path  # noqa: F401  (each feature adds its paths below)

app_name = "nurture"
urlpatterns: list = []
