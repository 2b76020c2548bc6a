"""Errors of the mobile-verification use cases (applicants.services), with translated messages
that the API and the pages show as they are."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _


class MobileVerificationError(Exception):
    code = "invalid"
    default_message = _("The code could not be checked.")

    def __init__(self, message=None):
        self.message = message or self.default_message
        super().__init__(str(self.message))


class WrongCode(MobileVerificationError):
    """Not the code (or no code to check, or an unknown application number: one answer)."""

    default_message = _("That code is not right. Check the SMS and try again.")


class CodeExpired(MobileVerificationError):
    default_message = _("That code has expired. Ask for a new code.")


class TooManyTries(MobileVerificationError):
    """Too many wrong codes, or too many codes asked for: wait `retry_after` seconds."""

    code = "throttled"
    default_message = _("Too many tries. Please wait a little and try again.")

    def __init__(self, message=None, *, retry_after: float):
        super().__init__(message)
        self.retry_after = max(1.0, retry_after)


class MobileLimitReached(MobileVerificationError):
    code = "mobile_limit_reached"
    default_message = _(
        "This mobile number is already verified for the most applicants it may serve. "
        "Use another mobile number, or visit the RTO office."
    )
