"""Applicant use cases: registration, the learner-licence date, sign-in checks, and the
one-time code that proves the mobile is the applicant's (docs/SECURITY.md, "Fair access")."""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from applicants.errors import (
    AlreadyRegistered,
    CodeExpired,
    MobileLimitReached,
    TooManyTries,
    WrongCode,
)
from applicants.models import Applicant, MobileCode
from applicants.selectors import applicant_to_alert, applicants_for_recovery
from applicants.validators import (
    normalise_indian_mobile,
    validate_applicant_age,
    validate_learner_licence_issued_on,
)
from notifications.models import Notification
from notifications.services import account_sms_queue
from rto_booking import locks
from rto_booking.signin_limits import (
    FailureLimit,
    SignInFailureCounter,
    SignInPolicy,
    hashed_number,
)
from slots.errors import busy_on_lock_timeout
from slots.rules import mobile_verification_on

logger = logging.getLogger(__name__)

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
                    applicant = Applicant.objects.create(
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
            if mobile_verification_on():
                try:
                    mobile_code_send(applicant=applicant, first=True)
                except TooManyTries:
                    # Codes to this number are at their hourly limit (someone registering
                    # many applicants with one number): registered all the same; a code can
                    # be asked for later from the "Enter the code" page.
                    logger.info("No code sent at registration of %s: limit", applicant.pk)
            return applicant
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


# --- The one-time code for the mobile --------------------------------------------------------

_CODE_SALT = "rto_booking.applicants.mobile_code"
HOUR = 3600


def _code_hash(salt: str, code: str) -> str:
    """HMAC-SHA256 (keyed by SECRET_KEY) of the code with the row's random salt: a database
    dump without the key cannot test the million codes against a hash."""
    return salted_hmac(_CODE_SALT, f"{salt}:{code}", algorithm="sha256").hexdigest()


def _normalised_code(code: str) -> str:
    return "".join(str(code or "").split())


@dataclass(frozen=True)
class SentCode:
    """A code just made and queued (the code itself never leaves the service but by SMS)."""

    row: MobileCode
    expires_at: datetime


def _send_limits(*, applicant: Applicant, client_address: str, first: bool) -> SignInFailureCounter:
    """Codes asked for, counted per applicant (resends), per number and per client address.
    The code sent at registration counts for the number only: the people registering at one
    kiosk must not stop one another's codes (registrations are throttled per client anyway)."""
    limits = [
        FailureLimit(
            "mobile-code:number",
            hashed_number(applicant.mobile),
            settings.MOBILE_CODES_PER_NUMBER_PER_HOUR,
            HOUR,
        )
    ]
    if not first:
        limits += [
            FailureLimit(
                "mobile-code:applicant",
                str(applicant.pk),
                settings.MOBILE_CODE_RESENDS_PER_HOUR,
                HOUR,
            ),
            FailureLimit(
                "mobile-code:address",
                client_address or "",
                settings.MOBILE_CODE_ATTEMPTS_PER_ADDRESS,
                HOUR,
            ),
        ]
    return SignInFailureCounter(limits)


def mobile_code_send(
    *,
    applicant: Applicant,
    client_address: str = "",
    first: bool = False,
    acting_user=None,
    now: datetime | None = None,
) -> SentCode | None:
    """Make a new 6-digit code for `applicant`'s mobile and queue it by SMS (the outbox,
    sent after commit). A new code replaces every earlier one. `first`: the code sent at
    registration. Returns None when there is nothing to prove (verification off, or the
    mobile already verified). Raises TooManyTries over the limits (MOBILE_CODE_* settings;
    none with RATE_LIMITS=off). `acting_user`: a staff user asking on the applicant's behalf
    (recorded in the admin's log), None for the applicant."""
    if not mobile_verification_on() or applicant.mobile_verified_at is not None:
        return None
    limits = _send_limits(applicant=applicant, client_address=client_address, first=first)
    wait = limits.retry_after()
    if wait is not None:
        raise TooManyTries(retry_after=wait)
    now = now or timezone.now()
    code = f"{secrets.randbelow(10**6):06d}"
    salt = secrets.token_hex(8)
    expires_at = now + timedelta(minutes=settings.MOBILE_CODE_MINUTES)
    with transaction.atomic():
        row = MobileCode.objects.create(
            applicant=applicant,
            mobile=applicant.mobile,
            salt=salt,
            code_hash=_code_hash(salt, code),
            created_at=now,
            expires_at=expires_at,
        )
        account_sms_queue(
            applicant=applicant,
            kind=Notification.Kind.MOBILE_CODE,
            context={
                "code": code,
                "minutes": settings.MOBILE_CODE_MINUTES,
                "expires_at": expires_at.isoformat(),
            },
            event_key=f"mobile-code:{row.pk}",  # never the code: the key is shown in the admin
        )
        if acting_user is not None:
            _log_staff_action(acting_user, applicant, "Sent a new mobile code.")
    limits.record_failure()  # one more code counted (the counter counts events, any event)
    return SentCode(row=row, expires_at=expires_at)


def _attempt_limit(client_address: str) -> SignInFailureCounter:
    """Wrong codes (and codes asked for) from one client address in an hour: one address
    cannot try codes across many applicants."""
    return SignInFailureCounter(
        [
            FailureLimit(
                "mobile-code:address",
                client_address or "",
                settings.MOBILE_CODE_ATTEMPTS_PER_ADDRESS,
                HOUR,
            )
        ]
    )


def mobile_verify(
    *,
    code: str,
    applicant: Applicant | None = None,
    application_number: str = "",
    client_address: str = "",
    acting_user=None,
    now: datetime | None = None,
) -> Applicant:
    """Check `code` against the applicant's newest code; on a match the mobile is verified.

    The applicant is given, or named by `application_number` (an unknown number answers as a
    wrong code). Raises WrongCode (tries left), CodeExpired, TooManyTries (MOBILE_CODE_MAX_TRIES
    wrong entries burn the code; or too many wrong codes from the client address) and
    MobileLimitReached (APPLICANTS_PER_MOBILE applicants already verified this number). An
    applicant already verified is answered as verified. With verification off: no code is
    asked for; the answer is the applicant as they are."""
    address = _attempt_limit(client_address)
    wait = address.retry_after()
    if wait is not None:
        raise TooManyTries(retry_after=wait)
    if applicant is None:
        applicant = Applicant.objects.filter(
            application_number=(application_number or "").strip()
        ).first()
    if applicant is None:
        address.record_failure()
        raise WrongCode()
    if applicant.mobile_verified_at is not None or not mobile_verification_on():
        return applicant
    now = now or timezone.now()
    code = _normalised_code(code)
    with transaction.atomic():
        latest = (
            MobileCode.objects.select_for_update()
            .filter(applicant=applicant, used_at__isnull=True)
            .order_by("-created_at", "-id")
            .first()
        )
        failure = _code_failure(latest, code=code, mobile=applicant.mobile, now=now)
        if failure is None:
            failure = _verify_within_cap(applicant, latest, now=now, acting_user=acting_user)
    # Raised after the transaction: a wrong code's counted try must stay counted.
    if isinstance(failure, WrongCode | CodeExpired):
        address.record_failure()
    if failure is not None:
        raise failure
    return applicant


def _code_failure(latest: MobileCode | None, *, code: str, mobile: str, now: datetime):
    """Why `code` does not verify (the error to raise after the transaction), or None."""
    max_tries = settings.MOBILE_CODE_MAX_TRIES
    if latest is None:
        return WrongCode()
    if latest.tries >= max_tries:
        return TooManyTries(
            _("Too many wrong codes. Ask for a new code."),
            retry_after=max(1.0, (latest.expires_at - now).total_seconds()),
        )
    if latest.expires_at <= now:
        return CodeExpired()
    if latest.mobile == mobile and constant_time_compare(
        _code_hash(latest.salt, code), latest.code_hash
    ):
        return None
    latest.tries += 1
    MobileCode.objects.filter(pk=latest.pk).update(tries=latest.tries)
    left = max_tries - latest.tries
    if left <= 0:
        return TooManyTries(
            _("Too many wrong codes. Ask for a new code."),
            retry_after=max(1.0, (latest.expires_at - now).total_seconds()),
        )
    return WrongCode(
        ngettext(
            "That code is not right. You can try %(count)d more time.",
            "That code is not right. You can try %(count)d more times.",
            left,
        )
        % {"count": left}
    )


def _verify_within_cap(applicant: Applicant, latest: MobileCode, *, now: datetime, acting_user):
    """Mark the mobile verified unless APPLICANTS_PER_MOBILE others verified it already.

    Every applicant with this number, this one included, is locked first (FOR UPDATE, in id
    order, so two verifications queue instead of deadlocking): two members of a family entering
    their codes at the same moment for the last place cannot both take it. Returns
    MobileLimitReached, or None once verified."""
    sharing = Applicant.objects.select_for_update().filter(mobile=applicant.mobile).order_by("pk")
    verified_others = sum(
        1
        for pk, verified_at in sharing.values_list("pk", "mobile_verified_at")
        if pk != applicant.pk and verified_at is not None
    )
    if verified_others >= settings.APPLICANTS_PER_MOBILE:
        return MobileLimitReached()
    MobileCode.objects.filter(pk=latest.pk).update(used_at=now)
    Applicant.objects.filter(pk=applicant.pk, mobile_verified_at__isnull=True).update(
        mobile_verified_at=now
    )
    applicant.mobile_verified_at = now
    if acting_user is not None:
        _log_staff_action(acting_user, applicant, "Verified the mobile.")
    return None


def _log_staff_action(user, applicant: Applicant, message: str) -> None:
    from django.contrib.admin.models import CHANGE, LogEntry

    LogEntry.objects.log_actions(
        user_id=user.pk,
        queryset=Applicant.objects.filter(pk=applicant.pk),
        action_flag=CHANGE,
        change_message=message,
        single_object=True,
    )


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
