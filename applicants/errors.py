"""Domain errors of applicant use cases. Like slots.errors (whose base they share), each
carries the API's machine code and HTTP status, and a translated message."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from slots.errors import BookingError


class AlreadyRegistered(BookingError):
    """The same person (full name, date of birth, mobile) registered before: a second
    applicant would split their bookings and double their share of the caps. The answer never
    names the existing application number (anyone can type a name, a date and a mobile); it
    points to the recovery by SMS, which sends the number to that mobile only."""

    code = "already_registered"
    status = 409
    default_message = _(
        "You are already registered with this name, date of birth and mobile number. Forgot "
        "your application number? Ask for it with “Forgot application number” "
        "(POST /api/v1/applicants/recover/): it is sent to your mobile by SMS."
    )
