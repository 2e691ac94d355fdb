from django.http import HttpResponse
from django.shortcuts import render

from salesmarketing.htmx import HtmxHttpRequest


def campaign_list(request: HtmxHttpRequest) -> HttpResponse:
    return render(request, "campaigns/campaign_list.html")
