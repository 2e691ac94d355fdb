from django.urls import path

from reminders import views

app_name = "reminders"

urlpatterns = [
    path("tasks/", views.my_tasks, name="my_tasks"),
    path("tasks/<slug:kind>/<int:pk>/", views.item, name="item"),
    path("tasks/<slug:kind>/<int:pk>/snooze", views.item_snooze, name="item_snooze"),
    path("tasks/<slug:kind>/<int:pk>/done", views.item_done, name="item_done"),
    path("accounts/notifications/", views.notification_settings, name="notification_settings"),
]
