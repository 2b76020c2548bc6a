"""The plain (ORM) forms of the hand-written statements of slots/hotpath.py.

They are what the project would do without the speed-ups: tests/slots/test_hotpath.py holds
each statement equal to its plain form here, and the benchmarks swap them in
(`use_plain_forms`) to measure what each speed-up buys, side by side in one run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from datetime import datetime
from types import SimpleNamespace

from django.db import transaction
from django.db.models import Case, Exists, F, IntegerField, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from notifications.models import Notification
from slots import hotpath
from slots.messages import message_rows_for_events
from slots.models import Booking, BookingEvent, Closure, Outage, Slot, hold_horizon


def slot_with_checks_plain(*, slot_id: int, applicant_id: int | None = None) -> Slot:
    return (
        Slot.objects.select_related("office", "service", "offering")
        .annotate(
            local_day=TruncDate("starts_at"),
            closure_id=Subquery(
                Closure.objects.filter(office_id=OuterRef("office_id"), date=OuterRef("local_day"))
                .filter(Q(service__isnull=True) | Q(service_id=OuterRef("service_id")))
                .values("pk")[:1]
            ),
            outage_id=Subquery(
                Outage.objects.annotate(
                    blocks_until=Coalesce("expected_end", Value(hold_horizon(timezone.now())))
                )
                .filter(
                    resolved_at__isnull=True,
                    capacity_percent=0,
                    offices=OuterRef("office_id"),
                    starts_at__lt=OuterRef("ends_at"),
                    blocks_until__gt=OuterRef("starts_at"),
                )
                .filter(Q(services=OuterRef("service_id")) | Q(services__isnull=True))
                .values("pk")[:1]
            ),
            holds_active=Exists(
                Booking.objects.filter(
                    applicant_id=applicant_id or 0,
                    service_id=OuterRef("service_id"),
                    status__in=Booking.ACTIVE,
                )
            ),
        )
        .get(pk=slot_id)
    )


def booking_insert_plain(
    *, booking: Booking, event: BookingEvent, held: bool, kind: str, now: datetime
) -> hotpath.Written | None:
    """The seat, the booking, its event and its outbox rows, one ORM statement each."""
    seats = Slot.objects.filter(pk=booking.slot_id)
    if held:
        seats = seats.filter(booked__lt=F("capacity") - F("priority_reserve") - F("held_offers"))
    else:
        seats = seats.filter(booked__lt=F("capacity") - F("held_offers"))
    with transaction.atomic():
        if seats.update(booked=F("booked") + 1) != 1:
            return None
        booking.save(force_insert=True)
        event.booking = booking
        event.save(force_insert=True)
        rows = message_rows_for_events(events=[event], kind=kind)
        for row in rows:
            row.created_at = row.next_attempt_at = now
        created = Notification.objects.bulk_create(rows)
    return hotpath.Written(
        booking_id=booking.pk,
        event_id=event.pk,
        outbox=[(row.pk, row.channel, row.created_at) for row in created],
    )


def outbox_rows_for_event_ids_plain(*, event_ids: Sequence[int], kind: str) -> None:
    events = BookingEvent.objects.filter(pk__in=event_ids).select_related(
        "booking__applicant", "booking__office", "booking__service", "booking__slot", "outage"
    )
    Notification.objects.bulk_create(
        message_rows_for_events(events=list(events), kind=kind), ignore_conflicts=True
    )


def slots_booked_add_plain(deltas: dict[int, int], sign: int = 1) -> None:
    deltas = {pk: sign * n for pk, n in deltas.items() if n}
    if not deltas:
        return
    Slot.objects.filter(pk__in=list(deltas)).update(
        booked=F("booked")
        + Case(
            *[When(pk=pk, then=Value(n)) for pk, n in deltas.items()],
            default=Value(0),
            output_field=IntegerField(),
        )
    )


def slots_booked_add_if_free_plain(counts: dict[int, int]) -> int:
    return sum(
        Slot.objects.filter(pk=pk, booked__lte=F("capacity") - F("held_offers") - n).update(
            booked=F("booked") + n
        )
        for pk, n in counts.items()
    )


def bookings_point_to_plain(moves: list[tuple[int, int]], now: datetime) -> None:
    if not moves:
        return
    Booking.objects.filter(pk__in=[b for b, _s in moves]).update(
        slot_id=Case(*[When(pk=b, then=Value(s)) for b, s in moves], output_field=IntegerField()),
        status=Booking.Status.CONFIRMED,
        held_by=None,
        priority=True,
        updated_at=now,
    )


def events_insert_plain(events: list[SimpleNamespace]) -> None:
    created = BookingEvent.objects.bulk_create(
        [BookingEvent(**{k: v for k, v in vars(e).items() if k != "pk"}) for e in events],
        batch_size=2000,
    )
    for event, row in zip(events, created, strict=True):
        event.pk = row.pk


PLAIN_FORMS = {
    "slot_with_checks": slot_with_checks_plain,
    "booking_insert": booking_insert_plain,
    "outbox_rows_for_event_ids": outbox_rows_for_event_ids_plain,
    "slots_booked_add": slots_booked_add_plain,
    "slots_booked_add_if_free": slots_booked_add_if_free_plain,
    "bookings_point_to": bookings_point_to_plain,
    "events_insert": events_insert_plain,
}


def install_plain_forms(*names: str) -> None:
    """Put the plain forms in place of the named hot-path statements (all by default) for good:
    a benchmark's worker process."""
    for name in names or tuple(PLAIN_FORMS):
        setattr(hotpath, name, PLAIN_FORMS[name])


@contextlib.contextmanager
def use_plain_forms(*names: str) -> Iterator[None]:
    """Run with the plain forms in place of the named hot-path statements (all by default)."""
    chosen = names or tuple(PLAIN_FORMS)
    saved = {name: getattr(hotpath, name) for name in chosen}
    try:
        for name in chosen:
            setattr(hotpath, name, PLAIN_FORMS[name])
        yield
    finally:
        for name, original in saved.items():
            setattr(hotpath, name, original)
