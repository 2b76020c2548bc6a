"""Booking rules: when a slot may be booked, and by whom. Pure reads; no writes here.

Every limit comes from settings (see rto_booking/settings.py, "Booking rules").
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from rto_booking.formats import format_date
from slots.errors import LearnerLicenceRequired, OutsideLicenceWindow, SlotUnavailable
from slots.models import Closure, Outage, Service, Slot


def mobile_verification_on() -> bool:
    return getattr(settings, "MOBILE_VERIFICATION", "on") != "off"


def mobile_verification_required(*, applicant) -> bool:
    """The applicant must enter the code sent to their mobile before booking."""
    return mobile_verification_on() and applicant.mobile_verified_at is None


def booking_cutoff(now: datetime) -> datetime:
    """The earliest start a new booking may have."""
    return now + timedelta(minutes=settings.BOOKING_CUTOFF_MINUTES)


def booking_horizon_end(now: datetime) -> datetime:
    """The end of the last day applicants may book (local midnight after the horizon)."""
    last_day = timezone.localdate(now) + timedelta(days=settings.BOOKING_HORIZON_DAYS)
    return timezone.make_aware(datetime.combine(last_day + timedelta(days=1), datetime.min.time()))


def ballot_window(day: date) -> tuple[datetime, datetime] | None:
    """When `day`'s ballot opens and closes, or None without ballots.

    A day becomes bookable at the local midnight BOOKING_HORIZON_DAYS before it (the horizon
    rolling); for its first RELEASE_BALLOT_MINUTES its requests are drawn by lot
    (slots.services.ballot). 0 minutes: no ballot, first come first served."""
    minutes = settings.RELEASE_BALLOT_MINUTES
    if minutes <= 0:
        return None
    opened_at = timezone.make_aware(
        datetime.combine(day - timedelta(days=settings.BOOKING_HORIZON_DAYS), datetime.min.time())
    )
    return opened_at, opened_at + timedelta(minutes=minutes)


def ballot_open_until(*, day: date, now: datetime) -> datetime | None:
    """When `day`'s ballot closes, if it is open now; else None."""
    window = ballot_window(day)
    if window is None or not window[0] <= now < window[1]:
        return None
    return window[1]


def ballot_closes_at(*, starts_at: datetime, now: datetime) -> datetime | None:
    """When the ballot of the day of `starts_at` closes, if it is open now; else None."""
    return ballot_open_until(day=timezone.localdate(starts_at), now=now)


def reserve_held(*, starts_at: datetime, now: datetime) -> bool:
    """Whether the slot's priority seats are still held back from ordinary applicants."""
    return starts_at - now > timedelta(hours=settings.PRIORITY_RESERVE_RELEASE_HOURS)


def bookable_seats(*, slot: Slot, now: datetime, priority: bool = False) -> int:
    """Seats a new booking (ordinary, or moved by an outage when `priority`) could take now."""
    free = slot.capacity - slot.booked - slot.held_offers  # an offer's seat is taken
    if not priority and reserve_held(starts_at=slot.starts_at, now=now):
        free -= slot.priority_reserve
    return max(free, 0)


def outages_covering(
    *, office_id: int, service_id: int, start: datetime, end: datetime, now: datetime
):
    """Unresolved outages of the office and service that close [start, end) to new bookings
    as of `now` (Outage.objects.blocking)."""
    return (
        Outage.objects.blocking(start=start, end=end, now=now)
        .filter(offices=office_id)
        .filter(Q(services=service_id) | Q(services__isnull=True))
        .distinct()
    )


def closure_on(*, office_id: int, service_id: int, day: date) -> Closure | None:
    return (
        Closure.objects.filter(office_id=office_id, date=day)
        .filter(Q(service__isnull=True) | Q(service_id=service_id))
        .first()
    )


def check_slot_bookable(*, slot: Slot, now: datetime, system_move: bool = False) -> None:
    """Raise SlotUnavailable unless `slot` may take a booking now.

    `system_move` relaxes the horizon for moves made by the system for an outage (slots are
    generated a little beyond it precisely so those moves find room). A slot loaded by
    `slots.hotpath.slot_with_checks` carries the closure and outage answers; otherwise they
    are queried.
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
            now=now,
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


def check_learner_licence_known(*, applicant, slot: Slot) -> None:
    """A new driving-test booking needs the learner licence's issue date: without it neither
    the booking nor a move after an outage could keep the test inside its window."""
    if slot.service.slug == Service.DRIVING_TEST and applicant.learner_licence_issued_on is None:
        raise LearnerLicenceRequired()


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
            % {
                "issued": format_date(applicant.learner_licence_issued_on),
                "first": format_date(first),
                "last": format_date(last),
            }
        )
