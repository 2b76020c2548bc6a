"""Capacity use cases: closures, weekly and extra sessions (recovery sessions too), one
slot's seats.

Each makes the slots match at once (the hourly job would, later) and runs in one transaction
with what it implies: a closure on a day that already has bookings records the outage that
empties the day, exactly as a clerk marking the service down would.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from slots.errors import BookingError
from slots.models import Booking, Closure, ExtraSession, Offering, Outage, Slot
from slots.services.outages import outage_create
from slots.services.recovery import ProposedSession
from slots.services.slot_generation import SlotGenerationResult, slots_generate


class CapacityInvalid(BookingError):
    code = "invalid"
    status = 400


def closure_save(*, closure: Closure, acting_user, moved: bool = True) -> Outage | None:
    """Save a new or changed closure; when its day (now, after the change) already has
    bookings, record the outage that moves them — in the same transaction. `moved`: whether
    the closure is new or its office, service or date changed (otherwise only its reasons
    changed, and nothing moves)."""
    with transaction.atomic():
        closure.save()
        if not moved:
            return None
        return _closure_outage_if_booked(closure=closure, acting_user=acting_user)


def _closure_outage_if_booked(*, closure: Closure, acting_user) -> Outage | None:
    """The outage covering the closure's office (and its service, if it names one) for the
    whole local day, with the closure's reasons, if that day has confirmed bookings still to
    come; `outage_create` moves them after commit. No bookings: no outage."""
    now = timezone.now()
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
        acting_user=acting_user,
        details={"closure": closure.date.isoformat()},
    )


def offering_slots_refresh(
    *, offering: Offering, weekly_changed: bool, dates: Iterable[date | None] = ()
) -> SlotGenerationResult:
    """After an offering's weekly or extra sessions changed, make its slots match them now:
    the whole horizon when weekly sessions changed, else the days of the extra sessions."""
    offerings = Offering.objects.filter(pk=offering.pk)
    result = SlotGenerationResult()
    if weekly_changed:
        result = slots_generate(days=settings.SLOT_GENERATION_DAYS, offerings=offerings)
    today = timezone.localdate()
    for day in sorted({d for d in dates if d and d >= today}):
        one = slots_generate(first_day=day, days=1, offerings=offerings)
        result.created += one.created
        result.updated += one.updated
    return result


def extra_session_save(
    *,
    session: ExtraSession,
    previous_date: date | None = None,
    previous_offering_id: int | None = None,
) -> SlotGenerationResult:
    """Save a one-off session (e.g. recovery capacity after an outage) and make the slots of
    its day — and of the day or offering it moved from — match at once."""
    if session.date < timezone.localdate() and (
        session.pk is None or previous_date != session.date
    ):
        raise CapacityInvalid(
            _("An extra session cannot be added in the past."),
            fields={"date": [_("An extra session cannot be added in the past.")]},
        )
    with transaction.atomic():
        session.save()
        result = offering_slots_refresh(
            offering=session.offering, weekly_changed=False, dates={session.date, previous_date}
        )
        if previous_offering_id and previous_offering_id != session.offering_id:
            moved_from = Offering.objects.get(pk=previous_offering_id)
            offering_slots_refresh(offering=moved_from, weekly_changed=False, dates={previous_date})
    return result


def extra_session_delete(*, session: ExtraSession) -> SlotGenerationResult:
    """Delete a one-off session; its slots go unless bookings hold them (slot generation)."""
    offering, day = session.offering, session.date
    with transaction.atomic():
        session.delete()
        return offering_slots_refresh(offering=offering, weekly_changed=False, dates={day})


def slot_capacity_set(*, slot: Slot, capacity: int, priority_reserve: int) -> Slot:
    """Change one slot's seats, never below what is booked (re-checked under its row lock)."""
    with transaction.atomic():
        locked = Slot.objects.select_for_update().get(pk=slot.pk)
        if capacity < locked.booked + locked.held_offers:
            message = _("%(booked)s seats are already booked; capacity cannot be lower.") % {
                "booked": locked.booked + locked.held_offers
            }
            raise CapacityInvalid(message, fields={"capacity": [message]})
        if priority_reserve > capacity:
            message = _("Cannot hold more seats than the capacity.")
            raise CapacityInvalid(message, fields={"priority_reserve": [message]})
        locked.capacity, locked.priority_reserve = capacity, priority_reserve
        locked.save(update_fields=["capacity", "priority_reserve"])
    return locked


def recovery_sessions_add(*, sessions: list[ProposedSession], note: str) -> int:
    """Add the proposed sessions (their slots made at once), all seats held for priority:
    the rescheduling fills them first. Returns how many slots were made."""
    made = 0
    with transaction.atomic():
        for proposed in sessions:
            result = extra_session_save(
                session=ExtraSession(
                    offering_id=proposed.offering_id,
                    date=proposed.date,
                    start_time=proposed.start_time,
                    end_time=proposed.end_time,
                    slot_minutes=proposed.slot_minutes,
                    seats_per_slot=proposed.seats_per_slot,
                    priority_reserve=proposed.seats_per_slot,
                    note=note[:200],
                )
            )
            made += result.created + result.updated
    return made
