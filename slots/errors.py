"""Domain errors of booking use cases. Each carries the API's machine code and HTTP status.

The messages are translatable so the same error reads well in the API, the pages and the admin.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.db import OperationalError
from django.utils.translation import gettext_lazy as _

from rto_booking.db import is_lock_timeout


class BookingError(Exception):
    code = "conflict"
    status = 409
    default_message = _("The request conflicts with the current state of the booking.")

    def __init__(self, message=None, *, fields: dict | None = None):
        self.message = message or self.default_message
        self.fields = fields
        super().__init__(str(self.message))


class SlotUnavailable(BookingError):
    code = "slot_unavailable"
    default_message = _("This time cannot be booked.")


class SlotFull(BookingError):
    code = "slot_full"
    default_message = _("Sorry, this time has just filled up. Please choose another time.")


class AlreadyBooked(BookingError):
    code = "already_booked"
    default_message = _("You already have an active booking for this service.")


class BookingNotActive(BookingError):
    code = "booking_not_active"
    default_message = _("This booking is no longer active.")


class RescheduleLimitReached(BookingError):
    code = "reschedule_limit_reached"
    default_message = _("This booking has already been moved as many times as allowed.")


class OutsideLicenceWindow(BookingError):
    code = "outside_licence_window"
    default_message = _(
        "A driving test must be at least 30 days after your learner licence and before it expires."
    )


class LearnerLicenceRequired(BookingError):
    """A driving test is booked only with the learner licence's issue date (its window)."""

    code = "learner_licence_required"
    default_message = _("To book a driving test, enter the date your learner licence was issued.")


class MobileNotVerified(BookingError):
    """A first booking needs a verified mobile (MOBILE_VERIFICATION): one code per number keeps
    a tout from booking under many made-up applications."""

    code = "mobile_not_verified"
    default_message = _(
        "Enter the code we sent to your mobile before booking. You can ask for a new code."
    )


class InvalidSlotChoice(BookingError):
    code = "invalid"
    status = 400
    default_message = _("Choose a time for the same service.")


class SlotNotForBooking(BookingError):
    """A move may only go to another time of the booking's own office and service: a booking
    walked from office to office is a seat a tout carries wherever it sells."""

    code = "invalid_slot_choice"
    status = 409
    default_message = _("Choose another time at the same office, for the same service.")


class CheckInNotToday(BookingError):
    code = "check_in_not_today"
    status = 409
    default_message = _("An applicant can be checked in only on the day of the appointment.")


class SlotNotFound(BookingError):
    code = "invalid"
    status = 400
    default_message = _("That time does not exist.")


class IdempotencyKeyReused(BookingError):
    code = "idempotency_key_reused"
    status = 409
    default_message = _("This Idempotency-Key was already used for a different request.")


class Busy(BookingError):
    """The database could not take a lock in time: the request may simply be retried."""

    code = "busy"
    status = 503
    default_message = _("The system is busy. Please try again in a moment.")


@contextlib.contextmanager
def busy_on_lock_timeout() -> Iterator[None]:
    """Turn PostgreSQL giving up on a lock (lock_timeout, statement_timeout) into `Busy`: a
    clear "try again in a moment" instead of a 500. Any other database error passes."""
    try:
        yield
    except OperationalError as error:
        if is_lock_timeout(error):
            raise Busy() from None
        raise


class AlreadyWaiting(BookingError):
    code = "already_waiting"
    default_message = _("You are already on the waiting list for this service.")


class OfferExpired(BookingError):
    code = "offer_expired"
    default_message = _("This offer has expired or was already answered.")


class WaitlistInvalid(BookingError):
    code = "invalid"
    status = 400
    default_message = _("The waiting-list request is not valid.")


class BallotOpen(BookingError):
    """A move into a day whose first minutes are drawn by lot (RELEASE_BALLOT_MINUTES): the
    applicant already has a seat, so the new day's seats go to the draw's requests first."""

    code = "ballot_open"
    default_message = _(
        "This day has just opened: its seats are drawn by lot among new requests. Try again "
        "after the draw."
    )


class InBallot(Exception):
    """Not a failure: the request for a seat was entered in the day's ballot (`entry`, a
    slots.models.BallotEntry) and is decided by the draw when the ballot closes."""

    def __init__(self, entry):
        self.entry = entry
        super().__init__(f"entered in the ballot closing at {entry.closes_at:%H:%M}")
