"""Applicant use cases: registration, the learner-licence date, and sign-in checks."""

from __future__ import annotations

import secrets
from datetime import date

from django.db import IntegrityError, transaction
from django.utils import timezone

from applicants.models import Applicant
from applicants.validators import (
    normalise_indian_mobile,
    validate_applicant_age,
    validate_learner_licence_issued_on,
)


def application_number_new(*, today: date | None = None) -> str:
    """A 10-digit number: two digits of the year, then eight random digits."""
    today = today or timezone.localdate()
    return f"{today.year % 100:02d}{secrets.randbelow(10**8):08d}"


def applicant_register(
    *,
    full_name: str,
    date_of_birth: date,
    mobile: str,
    email: str = "",
    preferred_language: str = "en",
    learner_licence_issued_on: date | None = None,
) -> Applicant:
    """Register an applicant; raises django ValidationError on bad input."""
    today = timezone.localdate()
    validate_applicant_age(date_of_birth, today=today)
    if learner_licence_issued_on is not None:
        validate_learner_licence_issued_on(
            learner_licence_issued_on, born=date_of_birth, today=today
        )
    mobile = normalise_indian_mobile(mobile)
    for _attempt in range(5):
        try:
            with transaction.atomic():
                return Applicant.objects.create(
                    application_number=application_number_new(today=today),
                    full_name=" ".join(full_name.split()),
                    date_of_birth=date_of_birth,
                    mobile=mobile,
                    email=(email or "").strip().lower(),
                    preferred_language=preferred_language,
                    learner_licence_issued_on=learner_licence_issued_on,
                )
        except IntegrityError:
            continue  # application number collision: draw again
    raise RuntimeError("Could not allocate an application number.")


def applicant_learner_licence_set(*, applicant: Applicant, issued_on: date) -> Applicant:
    """Record (or correct) the day the applicant's learner licence was issued: a driving test
    is booked, and moved after an outage, inside 30 days to 6 months of it. Raises django
    ValidationError on a date that cannot be one."""
    validate_learner_licence_issued_on(
        issued_on, born=applicant.date_of_birth, today=timezone.localdate()
    )
    Applicant.objects.filter(pk=applicant.pk).update(learner_licence_issued_on=issued_on)
    applicant.learner_licence_issued_on = issued_on
    return applicant


def applicant_authenticate(*, application_number: str, date_of_birth: date) -> Applicant | None:
    """The applicant with this number and date of birth, or None (same answer either way)."""
    return Applicant.objects.filter(
        application_number=(application_number or "").strip(), date_of_birth=date_of_birth
    ).first()
