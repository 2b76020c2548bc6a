"""Applicant use cases: registration, the learner-licence date, and sign-in checks."""

from __future__ import annotations

import hashlib
import secrets
import time
from datetime import date

from django.db import IntegrityError, transaction
from django.utils import timezone

from applicants.errors import AlreadyRegistered
from applicants.models import Applicant
from applicants.selectors import applicant_to_alert, applicants_for_recovery
from applicants.validators import (
    normalise_indian_mobile,
    validate_applicant_age,
    validate_learner_licence_issued_on,
)
from notifications.models import Notification
from notifications.services import account_sms_queue
from rto_booking import locks
from rto_booking.signin_limits import SignInPolicy
from slots.errors import busy_on_lock_timeout

# How long a registration waits for an identical one in flight before answering "busy".
REGISTRATION_LOCK_TIMEOUT_S = 5
# "Forgot application number" sends at most this many numbers (one SMS each, newest
# registrations first) to one mobile per request: each SMS is one segment.
RECOVER_MAX_NUMBERS = 5


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
    full_name = normalise_full_name(full_name)
    # Check, then insert, under a lock on the person: without it two identical registrations
    # at once (a double tap, a retried request) would both find nobody and both insert. A
    # unique index on the normalised key would say the same in the database, but the table
    # may already hold such pairs (clerks' corrections, imports), which would fail the
    # migration; the lock needs nothing from the rows already there.
    with transaction.atomic(), busy_on_lock_timeout():
        person = registration_lock_key(
            full_name=full_name, date_of_birth=date_of_birth, mobile=mobile
        )
        locks.xact_lock_all(locks.REGISTRATION, [person], timeout_s=REGISTRATION_LOCK_TIMEOUT_S)
        if applicant_registered_before(
            full_name=full_name, date_of_birth=date_of_birth, mobile=mobile
        ):
            raise AlreadyRegistered()
        for _attempt in range(5):
            try:
                with transaction.atomic():
                    return Applicant.objects.create(
                        application_number=application_number_new(today=today),
                        full_name=full_name,
                        date_of_birth=date_of_birth,
                        mobile=mobile,
                        email=(email or "").strip().lower(),
                        preferred_language=preferred_language,
                        learner_licence_issued_on=learner_licence_issued_on,
                    )
            except IntegrityError:
                continue  # application number collision: draw again
    raise RuntimeError("Could not allocate an application number.")


def normalise_full_name(full_name: str) -> str:
    """The name as stored: inner runs of spaces made one, the ends trimmed."""
    return " ".join((full_name or "").split())


def registration_lock_key(*, full_name: str, date_of_birth: date, mobile: str) -> int:
    """The advisory lock key (an int4) of one person: their normalised name (any case),
    date of birth and normalised mobile. Two people sharing a key only wait for each other."""
    person = f"{normalise_full_name(full_name).upper()}|{date_of_birth.isoformat()}|{mobile}"
    digest = hashlib.sha256(person.encode("utf-8", "replace")).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def applicant_registered_before(*, full_name: str, date_of_birth: date, mobile: str) -> bool:
    """Whether someone with this name (case and spacing aside), date of birth and normalised
    mobile is registered. The mobile's index finds the few rows to compare."""
    return Applicant.objects.filter(
        mobile=mobile,
        date_of_birth=date_of_birth,
        full_name__iexact=normalise_full_name(full_name),
    ).exists()


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


def applicant_number_recover(*, mobile: str, date_of_birth: date) -> int:
    """ "Forgot application number": the application numbers of the applicants registered with
    this mobile and date of birth (mobile proven) go to that mobile by SMS, one each (kind
    `application_number`, through the outbox) — to the owner of the mobile only, so the asker
    learns nothing they could not learn from the phone itself. Raises django ValidationError
    on a mobile that cannot be one. Returns how many SMS were queued: for tests and logs; the
    asker's answer must never depend on it. The web request does the same lookup either way;
    a match adds one insert (milliseconds) and the dispatcher sends the SMS after the answer."""
    mobile = normalise_indian_mobile(mobile)
    matches = applicants_for_recovery(mobile=mobile, date_of_birth=date_of_birth)
    matches = matches[-RECOVER_MAX_NUMBERS:]
    request_key = secrets.token_hex(8)  # every request is its own message
    queued = 0
    with transaction.atomic():
        for applicant in matches:
            row = account_sms_queue(
                applicant=applicant,
                kind=Notification.Kind.APPLICATION_NUMBER,
                context={"application_number": applicant.application_number},
                event_key=f"application-number:{applicant.pk}:{request_key}",
            )
            queued += row is not None
    return queued


def applicant_signin_failed(*, failures: SignInPolicy, application_number: str) -> None:
    """A failed sign-in (page or API) with this number: count it under the one policy, and
    when the number's lockout reaches a step for the first time (rto_booking.signin_limits),
    tell its applicant by SMS (kind `signin_guessed`) — somebody is guessing their date of
    birth; without it nobody gets in. A number nobody has is counted, and nobody is told; nor
    is a mobile not proven (it may be somebody else's, who should not learn the number)."""
    step = failures.record_failure()
    if step is None:
        return
    applicant = applicant_to_alert(application_number=application_number)
    if applicant is None:
        return
    account_sms_queue(
        applicant=applicant,
        kind=Notification.Kind.SIGNIN_GUESSED,
        context={"application_number": applicant.application_number, "step": step},
        event_key=f"signin-guessed:{applicant.pk}:{step}:{int(time.time())}",
    )
