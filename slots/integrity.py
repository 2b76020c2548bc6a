"""Checks of DESIGN.md's invariants over the whole database.

Each check returns human-readable violations; `check_integrity` prints them and exits non-zero.
Checks read in bulk (one query each), so they run in seconds on a statewide database.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import Count, F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from slots.models import Booking, BookingEvent, Outage, Slot

LIMIT = 50  # violations listed per check; the count is always given


def _slots_within_capacity() -> list[str]:
    bad = Slot.objects.filter(Q(booked__lt=0) | Q(booked__gt=F("capacity")))
    return [
        f"slot {s.pk} ({s}) has booked={s.booked} outside 0..capacity={s.capacity}"
        for s in bad[:LIMIT]
    ]


def _reserve_within_capacity() -> list[str]:
    bad = Slot.objects.filter(Q(priority_reserve__lt=0) | Q(priority_reserve__gt=F("capacity")))
    return [
        f"slot {s.pk} ({s}) has priority_reserve={s.priority_reserve} > capacity={s.capacity}"
        for s in bad[:LIMIT]
    ]


def _counters_match_bookings() -> list[str]:
    holding = (
        Booking.objects.filter(slot=OuterRef("pk"), status__in=Booking.SEAT_HOLDING)
        .order_by()
        .values("slot")
        .annotate(n=Count("pk"))
        .values("n")
    )
    bad = (
        Slot.objects.annotate(actual=Coalesce(Subquery(holding), 0))
        .exclude(booked=F("actual"))
        .only("pk", "booked", "starts_at", "office_id", "service_id")
    )
    return [
        f"slot {s.pk} ({s}) counts booked={s.booked} but holds {s.actual} bookings"
        for s in bad[:LIMIT]
    ]


def _one_active_booking_per_service() -> list[str]:
    dupes = (
        Booking.objects.filter(status__in=Booking.ACTIVE)
        .values("applicant_id", "service_id")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
    )
    return [
        f"applicant {d['applicant_id']} holds {d['n']} active bookings for service "
        f"{d['service_id']}"
        for d in dupes[:LIMIT]
    ]


def _booking_matches_slot() -> list[str]:
    bad = Booking.objects.exclude(office_id=F("slot__office_id"), service_id=F("slot__service_id"))
    return [f"booking {b.reference} disagrees with its slot's office/service" for b in bad[:LIMIT]]


def _slot_matches_offering() -> list[str]:
    bad = Slot.objects.exclude(
        office_id=F("offering__office_id"), service_id=F("offering__service_id")
    )
    return [f"slot {s.pk} disagrees with its offering's office/service" for s in bad[:LIMIT]]


def _no_booking_inside_finished_outage() -> list[str]:
    """Invariant 4: once an outage's rescheduling is done, nobody is left in its window."""
    violations = []
    now = timezone.now()
    outages = (
        Outage.objects.active(now)
        .filter(state=Outage.State.DONE)
        .prefetch_related("offices", "services")
    )
    for outage in outages:
        office_ids = [o.pk for o in outage.offices.all()]
        service_ids = [s.pk for s in outage.services.all()]
        stranded = Booking.objects.filter(
            status=Booking.Status.CONFIRMED,
            office_id__in=office_ids,
            slot__starts_at__lt=outage.window_end,
            slot__ends_at__gt=max(outage.starts_at, now),
        )
        if service_ids:
            stranded = stranded.filter(service_id__in=service_ids)
        for booking in stranded[:LIMIT]:
            violations.append(
                f"booking {booking.reference} is still inside outage #{outage.pk}, "
                f"whose rescheduling is done"
            )
    return violations


def _outage_moves_notified() -> list[str]:
    """Invariant 4: every move made for an outage has exactly one SMS announcing it."""
    from notifications.models import Notification

    events = BookingEvent.objects.filter(
        outage__isnull=False, kind=BookingEvent.Kind.RESCHEDULED
    ).values_list("pk", "outage_id")
    # Keys are "event:<id>"; compare in Python to stay portable across databases.
    keys = set(
        Notification.objects.filter(
            channel=Notification.Channel.SMS, event_key__startswith="event:"
        ).values_list("event_key", flat=True)
    )
    return [
        f"booking event {event_id} (outage #{outage_id}) has no SMS notification"
        for event_id, outage_id in events
        if f"event:{event_id}" not in keys
    ][:LIMIT]


CHECKS: list[tuple[str, Callable[[], list[str]]]] = [
    ("booked within capacity", _slots_within_capacity),
    ("priority reserve within capacity", _reserve_within_capacity),
    ("slot counters equal bookings", _counters_match_bookings),
    ("one active booking per applicant and service", _one_active_booking_per_service),
    ("booking agrees with its slot", _booking_matches_slot),
    ("slot agrees with its offering", _slot_matches_offering),
    ("no booking left inside a rescheduled outage", _no_booking_inside_finished_outage),
    ("every outage move notified", _outage_moves_notified),
]


def integrity_violations() -> dict[str, list[str]]:
    """Run every check; return {check name: violations} for the checks that failed."""
    failed = {}
    for name, check in CHECKS:
        violations = check()
        if violations:
            failed[name] = violations
    return failed
