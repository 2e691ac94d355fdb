from django.http import HttpResponse
from django.shortcuts import render

from salesmarketing.htmx import HtmxHttpRequest


def weekly_review(request: HtmxHttpRequest) -> HttpResponse:
    return render(request, "kpis/weekly_review.html")
