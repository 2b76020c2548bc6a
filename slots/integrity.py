"""Checks of DESIGN.md's invariants over the whole database.

Each check returns human-readable violations; `check_integrity` prints them and exits non-zero.
Checks read in bulk (one query each), so they run in seconds on a statewide database.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import Count, F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from slots.models import Booking, BookingEvent, Offer, Outage, Slot

LIMIT = 50  # violations listed per check; the count is always given


def _slots_within_capacity() -> list[str]:
    bad = Slot.objects.filter(Q(booked__lt=0) | Q(booked__gt=F("capacity")))
    return [
        f"slot {s.pk} ({s}) has booked={s.booked} outside 0..capacity={s.capacity}"
        for s in bad[:LIMIT]
    ]


def _offers_within_capacity() -> list[str]:
    """Invariant 11: a seat held for an offer counts as taken, and `held_offers` counts
    exactly the slot's open offers."""
    bad = Slot.objects.filter(
        Q(held_offers__lt=0) | Q(held_offers__gt=F("capacity") - F("booked"))
    ).only("pk", "booked", "held_offers", "capacity", "starts_at", "office_id", "service_id")
    violations = [
        f"slot {s.pk} ({s}) has booked={s.booked} + held_offers={s.held_offers} "
        f"> capacity={s.capacity}"
        for s in bad[:LIMIT]
    ]
    open_offers = (
        Offer.objects.filter(slot=OuterRef("pk"), state=Offer.State.OPEN)
        .order_by()
        .values("slot")
        .annotate(n=Count("pk"))
        .values("n")
    )
    wrong = (
        Slot.objects.annotate(actual=Coalesce(Subquery(open_offers), 0))
        .exclude(held_offers=F("actual"))
        .only("pk", "held_offers", "starts_at", "office_id", "service_id")
    )
    violations += [
        f"slot {s.pk} ({s}) counts held_offers={s.held_offers} but has {s.actual} open offers"
        for s in wrong[:LIMIT]
    ]
    return violations


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
    # Unresolved only: resolving re-opens what is left of the window to new bookings (an
    # outage resolved before it began keeps a one-second window that nobody is kept out of).
    outages = (
        Outage.objects.filter(resolved_at__isnull=True)
        .filter(state=Outage.State.DONE, capacity_percent=0)
        .prefetch_related("offices", "services")
    )
    for outage in outages:
        office_ids = [o.pk for o in outage.offices.all()]
        service_ids = [s.pk for s in outage.services.all()]
        stranded = Booking.objects.filter(
            status=Booking.Status.CONFIRMED,
            office_id__in=office_ids,
            slot__starts_at__lt=outage.window_end_at(now),
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
        outage__isnull=False, kind__in=[BookingEvent.Kind.RESCHEDULED, BookingEvent.Kind.ON_HOLD]
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


def _held_bookings_hold_no_seat() -> list[str]:
    """Invariant 9: an on_hold booking is held by an outage (and holds no seat: the counters
    check counts only seat-holding bookings); no other booking names an outage holding it."""
    bad = Booking.objects.filter(
        Q(status=Booking.Status.ON_HOLD, held_by__isnull=True)
        | (Q(held_by__isnull=False) & ~Q(status=Booking.Status.ON_HOLD))
    )
    return [f"booking {b.reference} is {b.status} but held_by={b.held_by_id}" for b in bad[:LIMIT]]


def _partial_outage_within_reduced_capacity() -> list[str]:
    """Invariant 10: inside a partial outage's window (once its run is done), no slot has more
    active bookings than its reduced capacity."""
    from slots.models import OutageSeatCut

    violations = []
    now = timezone.now()
    outages = Outage.objects.filter(
        resolved_at__isnull=True, capacity_percent__gt=0, state=Outage.State.DONE
    ).prefetch_related("offices", "services")
    for outage in outages:
        office_ids = [o.pk for o in outage.offices.all()]
        service_ids = [s.pk for s in outage.services.all()]
        slots = Slot.objects.filter(
            office_id__in=office_ids,
            starts_at__lt=outage.window_end_at(now),
            ends_at__gt=max(outage.starts_at, now),
        )
        if service_ids:
            slots = slots.filter(service_id__in=service_ids)
        cut = dict(OutageSeatCut.objects.filter(outage=outage).values_list("slot_id", "seats"))
        for slot in slots.only("pk", "capacity", "booked", "starts_at", "office_id"):
            if slot.pk not in cut:
                violations.append(
                    f"slot {slot.pk} ({slot}) inside partial outage #{outage.pk} was not cut"
                )
                continue
            allowed = outage.reduced(slot.capacity + cut[slot.pk])
            # A slot whose sessions were cut below the bookings already in it keeps exactly
            # those (slot generation never shrinks a slot below its bookings, outage or not).
            kept_by_plan = cut[slot.pk] == 0 and slot.capacity == slot.booked
            if slot.booked > allowed and not kept_by_plan:
                violations.append(
                    f"slot {slot.pk} ({slot}) holds {slot.booked} bookings inside partial "
                    f"outage #{outage.pk} at {outage.capacity_percent} % ({allowed} seats)"
                )
            if len(violations) >= LIMIT:
                return violations
    return violations


CHECKS: list[tuple[str, Callable[[], list[str]]]] = [
    ("booked within capacity", _slots_within_capacity),
    ("priority reserve within capacity", _reserve_within_capacity),
    ("booked and offered seats within capacity", _offers_within_capacity),
    ("slot counters equal bookings", _counters_match_bookings),
    ("one active booking per applicant and service", _one_active_booking_per_service),
    ("booking agrees with its slot", _booking_matches_slot),
    ("slot agrees with its offering", _slot_matches_offering),
    ("no booking left inside a rescheduled outage", _no_booking_inside_finished_outage),
    ("every outage move and hold notified", _outage_moves_notified),
    ("held bookings hold no seat", _held_bookings_hold_no_seat),
    ("partial outages within their reduced capacity", _partial_outage_within_reduced_capacity),
]


def integrity_violations() -> dict[str, list[str]]:
    """Run every check; return {check name: violations} for the checks that failed."""
    failed = {}
    for name, check in CHECKS:
        violations = check()
        if violations:
            failed[name] = violations
    return failed
