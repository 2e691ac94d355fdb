from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render

from campaigns.models import Campaign
from salesmarketing.htmx import HtmxHttpRequest


def campaign_list(request: HtmxHttpRequest) -> HttpResponse:
    return render(request, "campaigns/campaign_list.html")


def campaign_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=pk)
    return render(request, "campaigns/campaign_detail.html", {"campaign": campaign})
