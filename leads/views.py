from django.http import HttpResponse
from django.shortcuts import render

from salesmarketing.htmx import HtmxHttpRequest


def lead_list(request: HtmxHttpRequest) -> HttpResponse:
    return render(request, "leads/lead_list.html")
