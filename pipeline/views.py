from django.http import HttpResponse
from django.shortcuts import render

from salesmarketing.htmx import HtmxHttpRequest


def board(request: HtmxHttpRequest) -> HttpResponse:
    return render(request, "pipeline/board.html")
