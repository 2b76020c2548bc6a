"""Validation of applicant input: Indian mobile numbers and minimum age."""

from __future__ import annotations

import re
from datetime import date

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

_MOBILE = re.compile(r"^(?:\+?91|0)?([6-9]\d{9})$")


def normalise_indian_mobile(value: str) -> str:
    """'98260 12345', '+91-9826012345', '09826012345' → '+919826012345'; else ValidationError."""
    digits = re.sub(r"[\s\-().]", "", value or "")
    match = _MOBILE.match(digits)
    if not match:
        raise ValidationError(
            _("Enter a 10-digit Indian mobile number starting with 6, 7, 8 or 9."),
            code="invalid_mobile",
        )
    return f"+91{match.group(1)}"


def age_on(*, born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def validate_applicant_age(born: date, *, today: date) -> None:
    if born > today:
        raise ValidationError(_("The date of birth cannot be in the future."), code="future")
    if born.year < 1900:
        raise ValidationError(_("Enter a real date of birth."), code="too_old")
    if age_on(born=born, day=today) < settings.APPLICANT_MIN_AGE_YEARS:
        raise ValidationError(
            _("You must be at least %(years)s years old to apply for a licence.")
            % {"years": settings.APPLICANT_MIN_AGE_YEARS},
            code="too_young",
        )


def validate_learner_licence_issued_on(issued: date, *, born: date | None, today: date) -> None:
    """A learner licence is issued on a real day: not in the future, not before birth."""
    if issued > today:
        raise ValidationError(_("The learner licence date cannot be in the future."), code="future")
    if (born is not None and issued < born) or issued.year < 1950:
        raise ValidationError(_("Enter the date on your learner licence."), code="invalid")
