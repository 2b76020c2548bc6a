"""Booking rules: when a slot may be booked, and by whom. Pure reads; no writes here.

Every limit comes from settings (see rto_booking/settings.py, "Booking rules").
"""

from __future__ import annotations

import functools
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Exists, OuterRef, Q, Subquery
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _

from rto_booking.db import model_columns, model_from_row, prepared_cursor
from slots.errors import OutsideLicenceWindow, SlotUnavailable
from slots.models import Closure, Outage, Service, Slot


def booking_cutoff(now: datetime) -> datetime:
    """The earliest start a new booking may have."""
    return now + timedelta(minutes=settings.BOOKING_CUTOFF_MINUTES)


def booking_horizon_end(now: datetime) -> datetime:
    """The end of the last day applicants may book (local midnight after the horizon)."""
    last_day = timezone.localdate(now) + timedelta(days=settings.BOOKING_HORIZON_DAYS)
    return timezone.make_aware(datetime.combine(last_day + timedelta(days=1), datetime.min.time()))


def reserve_held(*, starts_at: datetime, now: datetime) -> bool:
    """Whether the slot's priority seats are still held back from ordinary applicants."""
    return starts_at - now > timedelta(hours=settings.PRIORITY_RESERVE_RELEASE_HOURS)


def bookable_seats(*, slot: Slot, now: datetime, priority: bool = False) -> int:
    """Seats a new booking (ordinary, or moved by an outage when `priority`) could take now."""
    free = slot.capacity - slot.booked
    if not priority and reserve_held(starts_at=slot.starts_at, now=now):
        free -= slot.priority_reserve
    return max(free, 0)


def outages_covering(*, office_id: int, service_id: int, start: datetime, end: datetime):
    """Unresolved outages of the office and service overlapping [start, end)."""
    return (
        Outage.objects.filter(resolved_at__isnull=True, offices=office_id)
        .filter(Q(services=service_id) | Q(services__isnull=True))
        .filter(starts_at__lt=end, expected_end__gt=start)
        .distinct()
    )


def closure_on(*, office_id: int, service_id: int, day: date) -> Closure | None:
    return (
        Closure.objects.filter(office_id=office_id, date=day)
        .filter(Q(service__isnull=True) | Q(service_id=service_id))
        .first()
    )


@functools.cache
def _slot_checks_sql() -> tuple[str, list]:
    """The PostgreSQL form of `slot_with_checks`, written once from the models' metadata."""
    from slots.models import Booking, Offering, Office, Service

    parts = [(Slot, "s"), (Office, "f"), (Service, "v"), (Offering, "g")]
    columns = ", ".join(model_columns(model, alias) for model, alias in parts)
    offices = Outage.offices.through._meta.db_table
    services = Outage.services.through._meta.db_table
    active = ", ".join(f"'{status}'" for status in Booking.ACTIVE)
    sql = f"""
        SELECT {columns},
          (SELECT c.id FROM {Closure._meta.db_table} c
            WHERE c.office_id = s.office_id
              AND c.date = (s.starts_at AT TIME ZONE %(tz)s)::date
              AND (c.service_id IS NULL OR c.service_id = s.service_id) LIMIT 1),
          (SELECT o.id FROM {Outage._meta.db_table} o
             JOIN {offices} oo ON oo.outage_id = o.id AND oo.office_id = s.office_id
            WHERE o.resolved_at IS NULL
              AND o.starts_at < s.ends_at AND o.expected_end > s.starts_at
              AND (NOT EXISTS (SELECT 1 FROM {services} os WHERE os.outage_id = o.id)
                   OR EXISTS (SELECT 1 FROM {services} os
                               WHERE os.outage_id = o.id AND os.service_id = s.service_id))
            LIMIT 1),
          EXISTS (SELECT 1 FROM {Booking._meta.db_table} b
                   WHERE b.applicant_id = %(applicant)s AND b.service_id = s.service_id
                     AND b.status IN ({active}))
        FROM {Slot._meta.db_table} s
        JOIN {Office._meta.db_table} f ON f.id = s.office_id
        JOIN {Service._meta.db_table} v ON v.id = s.service_id
        JOIN {Offering._meta.db_table} g ON g.id = s.offering_id
        WHERE s.id = %(slot)s
    """  # noqa: S608 (table and column names from the models, values as parameters)
    return sql, parts


def _slot_with_checks_sql(*, slot_id: int, applicant_id: int | None) -> Slot:
    sql, parts = _slot_checks_sql()
    with prepared_cursor() as cursor:
        cursor.execute(
            sql,
            {"tz": settings.TIME_ZONE, "applicant": applicant_id or 0, "slot": slot_id},
        )
        row = cursor.fetchone()
    if row is None:
        raise Slot.DoesNotExist
    instances, start = [], 0
    for model, _alias in parts:
        instance, start = model_from_row(model, row, start)
        instances.append(instance)
    slot, office, service, offering = instances
    cache = slot._state.fields_cache
    cache["office"], cache["service"], cache["offering"] = office, service, offering
    slot.closure_id, slot.outage_id, slot.holds_active = row[start:]
    return slot


def slot_with_checks(*, slot_id: int, applicant_id: int | None = None):
    """The slot (with office, service, offering) and, in the same query, what the rules need:
    `closure_id` (a closure of its office and service on its local day), `outage_id` (an
    unresolved outage over it) and, with `applicant_id`, `holds_active` (an active booking of
    the applicant for its service). One query instead of four on the booking hot path — on
    PostgreSQL a hand-written one, since compiling the ORM form costs more than running it."""
    if connection.vendor == "postgresql":
        return _slot_with_checks_sql(slot_id=slot_id, applicant_id=applicant_id)
    return _slot_with_checks_orm(slot_id=slot_id, applicant_id=applicant_id)


def _slot_with_checks_orm(*, slot_id: int, applicant_id: int | None) -> Slot:
    """The portable form of `slot_with_checks` (SQLite); the same answers as the SQL form."""
    from slots.models import Booking

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
                Outage.objects.filter(
                    resolved_at__isnull=True,
                    offices=OuterRef("office_id"),
                    starts_at__lt=OuterRef("ends_at"),
                    expected_end__gt=OuterRef("starts_at"),
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


def check_slot_bookable(*, slot: Slot, now: datetime, system_move: bool = False) -> None:
    """Raise SlotUnavailable unless `slot` may take a booking now.

    `system_move` relaxes the horizon for moves made by the system for an outage (slots are
    generated a little beyond it precisely so those moves find room). A slot loaded by
    `slot_with_checks` carries the closure and outage answers; otherwise they are queried.
    """
    if slot.starts_at < booking_cutoff(now):
        raise SlotUnavailable(
            _("This time has passed or starts too soon to book (at least %(hours)s hours ahead).")
            % {"hours": settings.BOOKING_CUTOFF_MINUTES // 60 or 1}
        )
    if not system_move and slot.starts_at >= booking_horizon_end(now):
        raise SlotUnavailable(
            _("Bookings open %(days)s days ahead; this time is not open yet.")
            % {"days": settings.BOOKING_HORIZON_DAYS}
        )
    if not (slot.office.is_active and slot.offering.is_active):
        raise SlotUnavailable(_("This office is not taking bookings for this service."))
    prefetched = hasattr(slot, "closure_id")
    if prefetched:
        closure = Closure.objects.get(pk=slot.closure_id) if slot.closure_id else None
    else:
        closure = closure_on(
            office_id=slot.office_id,
            service_id=slot.service_id,
            day=timezone.localdate(slot.starts_at),
        )
    if closure is not None:
        raise SlotUnavailable(
            _("The office is closed that day: %(reason)s.") % {"reason": closure.display_reason}
        )
    if prefetched:
        outage = Outage.objects.get(pk=slot.outage_id) if slot.outage_id else None
    else:
        outage = outages_covering(
            office_id=slot.office_id,
            service_id=slot.service_id,
            start=slot.starts_at,
            end=slot.ends_at,
        ).first()
    if outage is not None:
        raise SlotUnavailable(
            _("This service is down at that time: %(reason)s.") % {"reason": outage.display_reason}
        )


def licence_window(*, learner_issued_on: date) -> tuple[date, date]:
    """First and last day a driving test may take place for a learner licence."""
    return (
        learner_issued_on + timedelta(days=settings.DRIVING_TEST_MIN_DAYS_AFTER_LEARNER),
        learner_issued_on + timedelta(days=settings.LEARNER_LICENCE_VALID_DAYS),
    )


def check_licence_window(*, applicant, slot: Slot) -> None:
    """A driving test must fall 30 days to 6 months after the learner licence, when recorded."""
    if slot.service.slug != Service.DRIVING_TEST or applicant.learner_licence_issued_on is None:
        return
    first, last = licence_window(learner_issued_on=applicant.learner_licence_issued_on)
    day = timezone.localdate(slot.starts_at)
    if not first <= day <= last:
        raise OutsideLicenceWindow(
            _(
                "With a learner licence issued on %(issued)s, the driving test must be between "
                "%(first)s and %(last)s."
            )
            % {"issued": applicant.learner_licence_issued_on, "first": first, "last": last}
        )
