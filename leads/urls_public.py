"""Public capture URLs (no login): web-form posts, the tracking snippet's collector, email open/click tracking,
unsubscribe links."""

from django.urls import path

from leads import views_privacy, views_public

app_name = "capture"
urlpatterns = [
    path("f/<slug:site_key>", views_public.form_submit, name="form_submit"),
    path("t/collect", views_public.collect, name="collect"),
    path("t/o/<str:token>.gif", views_public.email_open, name="email_open"),
    path("t/c/<str:token>", views_public.email_click, name="email_click"),
    path("u/<str:token>", views_privacy.unsubscribe, name="unsubscribe"),
]
