"""Closures added after people booked: the day is emptied the way an outage empties it."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.utils import timezone

from slots.models import Booking, Closure, Outage
from slots.services.outages import outage_create


def closure_outage_if_booked(*, closure: Closure, created_by=None, now=None) -> Outage | None:
    """A closure on a day that already has bookings is handled like an outage of that day.

    The outage covers the closure's office (and its service, if it names one) for the whole
    local day, with the closure's reasons; `outage_create` records it and moves the bookings
    after commit, exactly as when a clerk marks the service down. No bookings: no outage.
    """
    now = now or timezone.now()
    tz = timezone.get_current_timezone()
    start = datetime.combine(closure.date, time.min, tzinfo=tz)
    end = datetime.combine(closure.date + timedelta(days=1), time.min, tzinfo=tz)
    if end <= now:
        return None
    booked = Booking.objects.filter(
        office_id=closure.office_id,
        status=Booking.Status.CONFIRMED,
        slot__starts_at__lt=end,
        slot__ends_at__gt=max(start, now),
    )
    if closure.service_id:
        booked = booked.filter(service_id=closure.service_id)
    if not booked.exists():
        return None
    return outage_create(
        offices=[closure.office],
        services=[closure.service] if closure.service_id else None,
        starts_at=start,
        expected_end=end,
        reason=closure.reason,
        reason_hi=closure.reason_hi,
        created_by=created_by,
    )
