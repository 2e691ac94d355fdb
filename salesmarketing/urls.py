from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from salesmarketing import api, esp, views

handler400 = "salesmarketing.views.bad_request"
handler403 = "salesmarketing.views.permission_denied"
handler404 = "salesmarketing.views.page_not_found"
handler500 = "salesmarketing.views.server_error"

# Each app's URLs are included by name (a string), so this module imports none of the apps above it.
urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/read", views.notifications_read, name="notifications_read"),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("i18n/setlang/", views.language_switch, name="set_language"),
    path("", include("leads.urls")),  # /leads/… and the public capture URLs (/f/, /t/, /u/)
    path("campaigns/", include("campaigns.urls")),
    path("pipeline/", include("pipeline.urls")),
    # the public booking pages /book/<slug>/ and /book/team/<slug>/, and their settings at /accounts/booking/
    path("", include("pipeline.booking.urls")),
    path("nurture/", include("nurture.urls")),
    path("quotes/", include("quotes.urls")),
    path("", include("reminders.urls")),  # /tasks/ (my tasks) and /accounts/notifications/
    path("settings/integrations/", include("integrations.urls")),
    path("", include("kpis.urls")),  # the dashboard at / and /kpis/…
    path("api/v1/", api.urls()),
    path("settings/api-keys/", include("salesmarketing.views_api_keys")),
    path("admin/", admin.site.urls),
    path("email/esp/", include((esp.webhook_urls(), "anymail"))),  # providers' bounce and inbound webhooks
]
