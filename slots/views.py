"""Public pages of the slots app."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from slots.selectors import office_list_with_services, outage_active_by_office


def home(request: HttpRequest) -> HttpResponse:
    offices = office_list_with_services()
    outages = outage_active_by_office()
    return render(
        request,
        "slots/home.html",
        {
            "offices": [(office, outages.get(office.pk, [])) for office in offices],
        },
    )
