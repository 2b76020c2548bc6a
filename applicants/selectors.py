"""Reads behind the applicant pages. Keyword-only; no writes here.

Every read of a booking is scoped to its applicant, so a page can never show somebody else's
booking: a reference that belongs to another applicant reads exactly like one that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from applicants.models import Applicant
from applicants.tokens import applicant_by_id
from notifications.models import Notification
from slots.models import Booking, BookingEvent, Offering, Outage, Slot
from slots.rules import mobile_verification_on
from slots.selectors import (
    DayAvailability,
    SlotAvailability,
    availability_for_office,
    booking_events_with_undone,
)


def applicant_get(*, applicant_id) -> Applicant | None:
    try:
        return applicant_by_id(int(applicant_id))
    except (TypeError, ValueError):
        return None


def mobile_code_pending(*, applicant: Applicant, now: datetime | None = None) -> bool:
    """A code was sent and may still be entered (unused, not expired, tries left): the page
    says "enter the code we sent"; without one it offers to send one (an applicant registered
    before verification began, or whose code expired)."""
    return applicant.mobile_codes.filter(
        used_at__isnull=True,
        expires_at__gt=now or timezone.now(),
        tries__lt=settings.MOBILE_CODE_MAX_TRIES,
    ).exists()


def booking_days(*, now: datetime | None = None) -> tuple[date, date]:
    """The first and last day an applicant may pick: today to today + BOOKING_HORIZON_DAYS."""
    today = timezone.localdate(now or timezone.now())
    return today, today + timedelta(days=settings.BOOKING_HORIZON_DAYS)


def offering_of_slot(*, slot: Slot) -> Offering:
    return Offering.objects.select_related("office", "service").get(pk=slot.offering_id)


def slot_get(*, slot_id: int) -> Slot | None:
    return (
        Slot.objects.select_related("office", "service", "offering__office", "offering__service")
        .filter(pk=slot_id)
        .first()
    )


def day_availability(
    *, offering: Offering, day: date, priority: bool = False, now: datetime | None = None
) -> DayAvailability:
    return availability_for_office(
        offering=offering, date_from=day, date_to=day, priority=priority, now=now
    )[0]


def free_slots_after(
    *,
    offering: Offering,
    day: date,
    exclude_slot_ids: tuple[int | None, ...] = (),
    priority: bool = False,
    limit: int = 6,
    days: int = 7,
    now: datetime | None = None,
) -> list[SlotAvailability]:
    """The first free times from `day` on (that day and the next `days` days, within the
    booking horizon): the alternatives offered when a chosen time has just filled up."""
    first, last = booking_days(now=now)
    date_from = max(day, first)
    date_to = min(day + timedelta(days=days), last)
    if date_from > date_to:
        return []
    found: list[SlotAvailability] = []
    for entry in availability_for_office(
        offering=offering, date_from=date_from, date_to=date_to, priority=priority, now=now
    ):
        for slot in entry.slots:
            if slot.available and slot.slot.pk not in exclude_slot_ids:
                found.append(slot)
                if len(found) >= limit:
                    return found
    return found


def _bookings_of(applicant: Applicant) -> QuerySet[Booking]:
    return Booking.objects.filter(applicant=applicant).select_related(
        "slot", "office", "service", "applicant"
    )


def applicant_booking_get(*, applicant: Applicant, reference: str) -> Booking | None:
    """One of the applicant's own bookings, or None (also for another applicant's)."""
    return _bookings_of(applicant).filter(reference=reference).first()


def applicant_active_booking_for_service(
    *, applicant: Applicant, service_id: int
) -> Booking | None:
    return (
        _bookings_of(applicant)
        .filter(service_id=service_id, status__in=Booking.ACTIVE)
        .order_by("-created_at")
        .first()
    )


def booking_by_reference(*, reference: str) -> Booking | None:
    """Any booking by its reference: only for pages that verified a signed link first."""
    return (
        Booking.objects.select_related("slot", "office", "service", "applicant")
        .filter(reference=reference)
        .first()
    )


def _with_history(bookings: QuerySet[Booking]) -> QuerySet[Booking]:
    events = (
        booking_events_with_undone()
        .select_related("outage", "from_slot__office", "to_slot__office")
        .order_by("at", "id")
    )
    notifications = Notification.objects.order_by("created_at", "id").only(
        "id", "booking_id", "channel", "kind", "status", "created_at", "sent_at", "recipient"
    )
    return bookings.prefetch_related(
        Prefetch("events", queryset=events, to_attr="history"),
        Prefetch("notifications", queryset=notifications, to_attr="sent_messages"),
    )


def applicant_bookings(*, applicant: Applicant) -> list[Booking]:
    """The applicant's bookings, newest first, each with `history` (events, oldest first) and
    `sent_messages` (notifications, oldest first): four queries however many bookings."""
    return list(_with_history(_bookings_of(applicant).order_by("-created_at", "-id")))


def applicant_booking_with_history(*, applicant: Applicant, reference: str) -> Booking | None:
    return _with_history(_bookings_of(applicant).filter(reference=reference)).first()


@dataclass(frozen=True)
class OutageNotice:
    """What an outage did to one booking, for the banner at the top of "My bookings"."""

    booking: Booking
    # "on_hold", "needs_new_slot", "moved", "moved_back" (a false alarm), "restored" (the
    # service is back: the booking stands, an earlier time may be chosen)
    kind: str
    outage: Outage | None  # None only for a booking left needing a new slot by hand
    old_starts_at: datetime  # the appointment the outage took away
    event_is_false_alarm: bool = False  # the outage was undone as a false alarm


def applicant_outage_notices(
    *, bookings: list[Booking], now: datetime | None = None
) -> list[OutageNotice]:
    """The bookings an outage holds, has moved or has left needing a new slot, and those whose
    service is back since (for moves and restores: the latest news, the time still ahead). Held
    and needing a new slot first (they must act or not travel), then by appointment. Reads only
    the bookings' prefetched `history` (no query)."""
    now = now or timezone.now()
    notices = []
    for booking in bookings:
        outage_events = [event for event in booking.history if event.outage_id]
        latest = outage_events[-1] if outage_events else None
        if booking.status == Booking.Status.ON_HOLD:
            kind = "on_hold"
        elif booking.status == Booking.Status.NEEDS_NEW_SLOT:
            kind = "needs_new_slot"
        elif (
            latest is not None
            and booking.history[-1] is latest
            and booking.status == Booking.Status.CONFIRMED
            and latest.kind in (BookingEvent.Kind.RESCHEDULED, BookingEvent.Kind.RESTORED)
            and booking.slot.starts_at > now
        ):
            if latest.kind == BookingEvent.Kind.RESTORED:
                # The service is back (or it was a false alarm): the booking stands.
                kind = "restored"
            else:
                kind = "moved_back" if latest.is_false_alarm_undo else "moved"
        else:
            continue
        notices.append(
            OutageNotice(
                booking=booking,
                kind=kind,
                outage=latest.outage if latest else None,
                old_starts_at=(latest and latest.from_starts_at) or booking.slot.starts_at,
                event_is_false_alarm=bool(latest and latest.is_false_alarm),
            )
        )
    urgent = {"on_hold": 0, "needs_new_slot": 0}
    return sorted(notices, key=lambda n: (urgent.get(n.kind, 1), n.booking.slot.starts_at))


def applicant_date_of_birth_matches(*, applicant: Applicant, date_of_birth: date) -> bool:
    """Whether `date_of_birth` is the applicant's: staff check one the applicant tells them,
    they never read it (it is the applicant's sign-in secret)."""
    return Applicant.objects.filter(pk=applicant.pk, date_of_birth=date_of_birth).exists()


def applicants_for_recovery(*, mobile: str, date_of_birth: date) -> list[Applicant]:
    """Whom "forgot application number" answers: the applicants of this (normalised) mobile
    and date of birth whose mobile is proven theirs — an unproven mobile may be anybody's
    typo, and its owner must not be sent somebody else's number. With MOBILE_VERIFICATION
    off nobody is asked to prove it, so every applicant counts as proven. Oldest first."""
    applicants = Applicant.objects.filter(mobile=mobile, date_of_birth=date_of_birth)
    if mobile_verification_on():
        applicants = applicants.filter(mobile_verified_at__isnull=False)
    return list(applicants.order_by("created_at", "id"))


def applicant_to_alert(*, application_number: str) -> Applicant | None:
    """The applicant of this number whose mobile may be told about their account (proven,
    or MOBILE_VERIFICATION off: as applicants_for_recovery), or None."""
    applicants = Applicant.objects.filter(application_number=(application_number or "").strip())
    if mobile_verification_on():
        applicants = applicants.filter(mobile_verified_at__isnull=False)
    return applicants.first()
