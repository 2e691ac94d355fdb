"""salesmarketing.urls plus one trivial logged-in view, the floor of every page time."""

from django.http import HttpResponse
from django.urls import path

from salesmarketing.urls import urlpatterns as app_urlpatterns


def floor(request):
    """What every page pays before its own work: the middleware, the session and the user (login required)."""
    return HttpResponse(f"ok {request.user.pk}", content_type="text/plain")


urlpatterns = [path("bench/floor/", floor, name="bench_floor"), *app_urlpatterns]
