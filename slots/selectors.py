"""Reads of offices, services, slots and outages. Keyword-only; no writes here."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from django.db.models import Prefetch
from django.utils import timezone

from slots.models import Offering, Office, Outage


def office_list_with_services(*, only_active: bool = True) -> list[Office]:
    """Offices with `active_services` (their offered services, in display order): 2 queries."""
    offerings = Offering.objects.select_related("service").order_by("service__sort_order")
    if only_active:
        offerings = offerings.filter(is_active=True)
    offices = Office.objects.order_by("code").prefetch_related(
        Prefetch("offerings", queryset=offerings, to_attr="active_offerings")
    )
    if only_active:
        offices = offices.filter(is_active=True)
    result = list(offices)
    for office in result:
        office.active_services = [offering.service for offering in office.active_offerings]
    return result


def outage_active_by_office(*, at: datetime | None = None) -> dict[int, list[Outage]]:
    """Unresolved outages keyed by office id, each with `service_list` prefetched."""
    at = at or timezone.now()
    outages = (
        Outage.objects.active(at).prefetch_related("offices", "services").order_by("starts_at")
    )
    by_office: dict[int, list[Outage]] = defaultdict(list)
    for outage in outages:
        for office in outage.offices.all():
            by_office[office.pk].append(outage)
    return dict(by_office)
