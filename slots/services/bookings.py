"""Booking use cases: create, reschedule, cancel, check in, mark no-show.

Capacity is taken with one conditional UPDATE (`booked < capacity - reserve - held_offers`: a
seat held for a waiting-list offer is taken) inside a short transaction, then the booking row
is inserted; the CHECK constraints on `Slot` are the backstop. No Redis locks, no network I/O
inside transactions: messages go to the outbox and are sent after commit.

`applicant` is an applicants.Applicant (named as a plain model here: the booking engine reads
only its id, its learner licence date and its contact details). Who did it: every use case
takes `acting_user` — None for the applicant's own action (or the
system's), the staff user otherwise — and records it on the history row it writes.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Model
from django.utils import timezone
from django.utils.translation import gettext as _

from notifications.models import Notification
from notifications.services import notifications_dispatch_on_commit
from rto_booking.formats import format_time
from slots import hotpath
from slots.errors import (
    AlreadyBooked,
    BallotOpen,
    BookingError,
    BookingNotActive,
    Busy,
    CheckInNotToday,
    IdempotencyKeyReused,
    InBallot,
    InvalidSlotChoice,
    MobileNotVerified,
    RescheduleLimitReached,
    SlotFull,
    SlotNotForBooking,
    SlotNotFound,
    busy_on_lock_timeout,
)
from slots.messages import messages_write_for_events
from slots.models import Booking, BookingEvent, IdempotencyKey, Outage, Slot
from slots.references import booking_reference_new
from slots.rules import (
    ballot_closes_at,
    check_learner_licence_known,
    check_licence_window,
    check_slot_bookable,
    mobile_verification_required,
    reserve_held,
)
from slots.services.ballot import ballot_enter, ballot_undrawn
from slots.services.waitlist import offers_make_on_commit


def _constraint_name(error: IntegrityError) -> str:
    diag = getattr(getattr(error, "__cause__", None), "diag", None)
    return getattr(diag, "constraint_name", "") or str(error)


def _actor(acting_user) -> str:
    return BookingEvent.Actor.STAFF if acting_user is not None else BookingEvent.Actor.APPLICANT


def _load_slot(slot_id, *, applicant_id: int | None = None) -> Slot:
    """The slot with the answers the rules need, in one query (hotpath.slot_with_checks)."""
    try:
        return hotpath.slot_with_checks(slot_id=int(slot_id), applicant_id=applicant_id)
    except (Slot.DoesNotExist, TypeError, ValueError, OverflowError):
        raise SlotNotFound(fields={"slot": [str(SlotNotFound.default_message)]}) from None


def _take_seat(*, slot: Slot, now: datetime, priority: bool) -> None:
    """Take one seat of `slot` or raise SlotFull. Must run inside a transaction.

    One conditional UPDATE: PostgreSQL re-evaluates the WHERE clause on the latest row version
    after waiting for any concurrent writer, so two requests can never both take the last seat.
    """
    seats = Slot.objects.filter(pk=slot.pk)
    if not priority and reserve_held(starts_at=slot.starts_at, now=now):
        seats = seats.filter(booked__lt=F("capacity") - F("priority_reserve") - F("held_offers"))
    else:
        seats = seats.filter(booked__lt=F("capacity") - F("held_offers"))
    if seats.update(booked=F("booked") + 1) != 1:
        raise SlotFull()
    slot.booked += 1


def _release_seat(*, slot_id: int) -> None:
    Slot.objects.filter(pk=slot_id, booked__gt=0).update(booked=F("booked") - 1)


def _show_with(booking: Booking, *, events: list, notifications: list) -> Booking:
    """Give `booking` the rows just written with it, under the names the booking selectors
    prefetch them to (`history_rows`, `notification_rows`): its answer reads nothing back."""
    booking.history_rows = list(events)
    booking.notification_rows = list(notifications)
    return booking


def booking_create(
    *,
    applicant: Model,
    slot_id,
    acting_user=None,
    now: datetime | None = None,
) -> Booking:
    """Book one seat of `slot_id` for `applicant`.

    Raises MobileNotVerified, SlotNotFound, SlotUnavailable, LearnerLicenceRequired,
    OutsideLicenceWindow, AlreadyBooked, SlotFull or Busy — or, for a day in its first
    RELEASE_BALLOT_MINUTES, InBallot: the request was entered in the day's ballot instead
    (slots.services.ballot), and BallotOpen while that ballot is being drawn.
    """
    if mobile_verification_required(applicant=applicant):
        raise MobileNotVerified()
    now = now or timezone.now()
    slot = _load_slot(slot_id, applicant_id=applicant.pk)
    check_slot_bookable(slot=slot, now=now)
    check_learner_licence_known(applicant=applicant, slot=slot)
    check_licence_window(applicant=applicant, slot=slot)
    if slot.holds_active:
        raise AlreadyBooked()
    check_ballot(slot=slot, applicant=applicant, now=now)
    return _booking_write(applicant=applicant, slot=slot, acting_user=acting_user, now=now)


def booking_create_drawn(*, applicant: Model, slot: Slot, now: datetime) -> Booking:
    """Book a seat of `slot` for an applicant drawn in its day's ballot (slots.services.
    ballot_draw): the draw has checked the slot bookable for the chunk it decides and the
    mobile when the request was entered; the applicant's own rules are checked here, and the
    seat's conditional UPDATE and the one-active-booking index have the last word.

    Raises LearnerLicenceRequired, OutsideLicenceWindow, AlreadyBooked, SlotFull or Busy."""
    check_learner_licence_known(applicant=applicant, slot=slot)
    check_licence_window(applicant=applicant, slot=slot)
    return _booking_write(applicant=applicant, slot=slot, acting_user=None, now=now)


def _booking_write(*, applicant: Model, slot: Slot, acting_user, now: datetime) -> Booking:
    """The booking, its `booked` history row and its outbox rows, and the seat, in one
    statement (slots.hotpath.booking_insert)."""
    held = reserve_held(starts_at=slot.starts_at, now=now)
    for _attempt in range(3):
        booking = Booking(
            reference=booking_reference_new(),
            applicant=applicant,
            slot=slot,
            office=slot.office,
            service=slot.service,
            created_at=now,
        )
        event = BookingEvent(
            booking=booking,
            at=now,
            kind=BookingEvent.Kind.BOOKED,
            actor=_actor(acting_user),
            actor_user=acting_user,
            to_slot=slot,
            to_starts_at=slot.starts_at,
        )
        try:
            with busy_on_lock_timeout():
                written = hotpath.booking_insert(
                    booking=booking,
                    event=event,
                    held=held,
                    kind=Notification.Kind.BOOKING_CONFIRMED,
                    now=now,
                )
        except IntegrityError as error:
            if "booking_one_active_per_applicant_service" in _constraint_name(error):
                raise AlreadyBooked() from None
            if "reference" not in _constraint_name(error):
                raise
            continue  # nothing was written; try a fresh reference
        if written is None:
            raise SlotFull()
        slot.booked += 1
        booking.pk, event.pk = written.booking_id, written.event_id
        event.booking_id = booking.pk
        outbox = [
            Notification(
                pk=pk,
                booking_id=booking.pk,
                channel=channel,
                kind=Notification.Kind.BOOKING_CONFIRMED,
                status=Notification.Status.PENDING,
                created_at=created_at,
            )
            for pk, channel, created_at in sorted(written.outbox, key=lambda row: row[0])
        ]
        notifications_dispatch_on_commit()
        return _show_with(booking, events=[event], notifications=outbox)
    raise Busy()


def check_ballot(*, slot: Slot, applicant: Model | None, now: datetime) -> None:
    """A seat of a day in its first RELEASE_BALLOT_MINUTES goes to the draw: a new booking's
    request is entered (InBallot), a move into it (`applicant` None) refused (BallotOpen). Once
    the ballot has closed, the day waits for its draw (BallotOpen) so no click after the close
    takes a seat before the requests made in time."""
    closes_at = ballot_closes_at(starts_at=slot.starts_at, now=now)
    if closes_at is not None:
        if applicant is None:
            raise BallotOpen(
                _("This day has just opened: its seats are drawn by lot at %(time)s.")
                % {"time": format_time(closes_at)}
            )
        raise InBallot(ballot_enter(applicant=applicant, slot=slot, closes_at=closes_at, now=now))
    if ballot_undrawn(slot=slot, now=now):
        raise BallotOpen(
            _("The seats of this day are being drawn by lot right now. Try again in a minute.")
        )


def _request_fingerprint(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def booking_create_idempotent(
    *, applicant: Model, slot_id, key: str, now: datetime | None = None
) -> tuple[int, Booking | None, dict]:
    """`booking_create` that answers a repeated `key` with the first answer.

    Returns (status, booking, error_body); 202 with `{"ballot_entry": <id>}` when the request
    was entered in a day's ballot (InBallot). The key row is inserted first in the same transaction
    as the booking: a concurrent retry blocks on the unique index until the first request
    commits, then reads its answer — so 50 simultaneous retries still make one booking.
    """
    if mobile_verification_required(applicant=applicant):
        # Not remembered under the key: once the mobile is verified, the retry must book.
        raise MobileNotVerified()
    fingerprint = _request_fingerprint({"slot": slot_id})
    with transaction.atomic():
        record, created = IdempotencyKey.objects.get_or_create(
            applicant=applicant,
            key=key,
            defaults={
                "request_fingerprint": fingerprint,
                "status_code": 0,
                "response_body": {},
            },
        )
        if not created:
            if record.request_fingerprint != fingerprint:
                raise IdempotencyKeyReused()
            booking = Booking.objects.filter(pk=record.booking_id).first()
            return record.status_code, booking, record.response_body
        entered = None
        try:
            with transaction.atomic():
                try:
                    booking = booking_create(applicant=applicant, slot_id=slot_id, now=now)
                except InBallot as answer:  # caught inside: the entry stays written
                    entered = answer
        except Busy:
            raise  # not an answer worth remembering: the retry should try again
        except BookingError as error:
            record.status_code = error.status
            record.response_body = {"code": error.code, "detail": str(error.message)}
            if error.fields:
                record.response_body["fields"] = {
                    k: [str(m) for m in v] for k, v in error.fields.items()
                }
            record.save(update_fields=["status_code", "response_body"])
            return record.status_code, None, record.response_body
        if entered is not None:
            record.status_code = 202
            record.response_body = {"ballot_entry": entered.entry.pk}
            record.save(update_fields=["status_code", "response_body"])
            return 202, None, record.response_body
        record.status_code = 201
        record.booking = booking
        record.save(update_fields=["status_code", "booking"])
        return 201, booking, {}


def _lock_booking(booking: Booking) -> Booking:
    """Re-read `booking` under a row lock: its status may have changed since it was loaded."""
    return (
        Booking.objects.select_for_update(of=("self",))
        .select_related("applicant", "slot", "office", "service")
        .get(pk=booking.pk)
    )


def _event(booking: Booking, **fields) -> BookingEvent:
    event = BookingEvent.objects.create(booking=booking, **fields)
    event.booking = booking
    return event


def booking_reschedule(
    *,
    booking: Booking,
    slot_id,
    acting_user=None,
    now: datetime | None = None,
) -> Booking:
    """Move an active booking to another slot of the same office and service, atomically.

    The old seat is released and the new one taken in one transaction. Applicants may move a
    booking BOOKING_MAX_SELF_RESCHEDULES times; choosing a slot after an outage left the booking
    without one is not counted, and bookings moved by an outage keep their priority seats.
    """
    now = now or timezone.now()
    if booking.status not in Booking.ACTIVE:
        raise BookingNotActive()
    slot = _load_slot(slot_id)
    if slot.service_id != booking.service_id or slot.office_id != booking.office_id:
        raise SlotNotForBooking(fields={"slot": [str(SlotNotForBooking.default_message)]})
    if slot.pk == booking.slot_id and booking.status == Booking.Status.CONFIRMED:
        raise InvalidSlotChoice(
            _("The booking is already at this time."),
            fields={"slot": [str(_("The booking is already at this time."))]},
        )
    check_slot_bookable(slot=slot, now=now)
    check_licence_window(applicant=booking.applicant, slot=slot)
    check_ballot(slot=slot, applicant=None, now=now)

    with busy_on_lock_timeout(), transaction.atomic():
        current = _lock_booking(booking)
        if current.status not in Booking.ACTIVE:
            raise BookingNotActive()
        counts = acting_user is None and current.status == Booking.Status.CONFIRMED
        if counts and current.self_reschedules >= settings.BOOKING_MAX_SELF_RESCHEDULES:
            raise RescheduleLimitReached()
        old_slot = current.slot
        # Lock both slots in id order first: two moves crossing between the same two slots
        # would otherwise each hold one row and wait for the other (a deadlock).
        list(
            Slot.objects.select_for_update()
            .filter(pk__in=[old_slot.pk, slot.pk])
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        _take_seat(slot=slot, now=now, priority=current.priority)
        was_confirmed = current.status == Booking.Status.CONFIRMED
        if was_confirmed:
            _release_seat(slot_id=old_slot.pk)
        _unhold(current)
        current.slot = slot
        current.office = slot.office
        current.status = Booking.Status.CONFIRMED
        if counts:
            current.self_reschedules += 1
        current.save(
            update_fields=["slot", "office", "status", "held_by", "self_reschedules", "updated_at"]
        )
        event = _event(
            current,
            at=now,
            kind=BookingEvent.Kind.RESCHEDULED,
            actor=_actor(acting_user),
            actor_user=acting_user,
            from_slot=old_slot,
            to_slot=slot,
            from_starts_at=old_slot.starts_at,
            to_starts_at=slot.starts_at,
        )
        messages_write_for_events(events=[event], kind=Notification.Kind.RESCHEDULED)
        if was_confirmed:
            # The old seat is free: the waiting list may have it (after commit).
            offers_make_on_commit(office_id=old_slot.office_id, service_id=old_slot.service_id)
        return current


def _unhold(booking: Booking) -> None:
    """A booking on hold leaves its outage's hold (the applicant chose a time, or cancelled):
    the outage counts one fewer on hold and will not place it."""
    if booking.status == Booking.Status.ON_HOLD and booking.held_by_id is not None:
        Outage.objects.filter(pk=booking.held_by_id, on_hold__gt=0).update(on_hold=F("on_hold") - 1)
    booking.held_by = None


def booking_cancel(
    *,
    booking: Booking,
    acting_user=None,
    reason: str = "",
    release_unconfirmed: bool = False,
    now: datetime | None = None,
) -> Booking:
    """Cancel an active booking; its seat is free for others as soon as this commits.

    `release_unconfirmed`: the system releases a booking nobody confirmed after the last call
    (slots.services.reminders): the same cancel, by the system, with a `released` history row
    and message — and only if, under the lock, it is still confirmed, at the same slot and
    unconfirmed (else BookingNotActive: the applicant answered, or it moved, meanwhile).
    """
    now = now or timezone.now()
    with busy_on_lock_timeout(), transaction.atomic():
        current = _lock_booking(booking)
        if current.status not in Booking.ACTIVE:
            raise BookingNotActive()
        if release_unconfirmed and (
            current.status != Booking.Status.CONFIRMED
            or current.confirmed_at is not None
            or current.slot_id != booking.slot_id
        ):
            raise BookingNotActive()
        if current.status == Booking.Status.CONFIRMED:
            _release_seat(slot_id=current.slot_id)
        _unhold(current)
        previous_start, previous_status = current.slot.starts_at, current.status
        current.status = Booking.Status.CANCELLED
        current.save(update_fields=["status", "held_by", "updated_at"])
        event = _event(
            current,
            at=now,
            kind=BookingEvent.Kind.RELEASED if release_unconfirmed else BookingEvent.Kind.CANCELLED,
            actor=BookingEvent.Actor.SYSTEM if release_unconfirmed else _actor(acting_user),
            actor_user=acting_user,
            from_slot=current.slot,
            from_starts_at=previous_start,
            reason=reason,
        )
        messages_write_for_events(
            events=[event],
            kind=Notification.Kind.RELEASED if release_unconfirmed else Notification.Kind.CANCELLED,
        )
        if previous_status == Booking.Status.CONFIRMED:
            offers_make_on_commit(office_id=current.office_id, service_id=current.service_id)
        return current


def booking_attendance_confirm(
    *, booking: Booking, acting_user=None, now: datetime | None = None
) -> Booking:
    """The applicant answers the reminder "I'll come": `confirmed_at` is set and a `confirmed`
    history row written, once (confirming again changes nothing). A compare-and-swap on the
    booking row, so a release running at the same moment either sees the confirmation or
    released it first (then this raises BookingNotActive). Only for a confirmed booking whose
    time has not passed."""
    now = now or timezone.now()
    if booking.slot.ends_at <= now:
        raise BookingNotActive()
    with transaction.atomic():
        # Only the booking's own columns in the WHERE: a condition on the slot would make
        # Django write `id IN (SELECT … JOIN slot)`, whose status test PostgreSQL does not
        # re-check after waiting for a concurrent release — a released booking then got
        # confirmed. A plain WHERE is re-evaluated on the row's newest version.
        changed = Booking.objects.filter(
            pk=booking.pk,
            status=Booking.Status.CONFIRMED,
            confirmed_at__isnull=True,
        ).update(confirmed_at=now, updated_at=now)
        if changed == 1:
            BookingEvent.objects.create(
                booking_id=booking.pk,
                at=now,
                kind=BookingEvent.Kind.CONFIRMED,
                actor=_actor(acting_user),
                actor_user=acting_user,
                from_slot_id=booking.slot_id,
                from_starts_at=booking.slot.starts_at,
            )
    booking.refresh_from_db()
    if booking.status != Booking.Status.CONFIRMED or booking.confirmed_at is None:
        raise BookingNotActive()
    return booking


def _finish(
    *, booking: Booking, status: str, kind: str, acting_user, actor: str, now: datetime
) -> Booking:
    """Compare-and-swap a confirmed booking to attended / no-show; its seat stays used."""
    with transaction.atomic():
        changed = Booking.objects.filter(pk=booking.pk, status=Booking.Status.CONFIRMED).update(
            status=status, updated_at=now
        )
        if changed != 1:
            raise BookingNotActive()
        BookingEvent.objects.create(
            booking_id=booking.pk,
            at=now,
            kind=kind,
            actor=actor,
            actor_user=acting_user,
            from_slot_id=booking.slot_id,
            from_starts_at=booking.slot.starts_at,
        )
    booking.refresh_from_db()
    return booking


def check_in_open(*, starts_at: datetime, now: datetime) -> bool:
    """Whether an appointment at `starts_at` may be checked in at `now`: on its own (local)
    day, from CHECK_IN_EARLY_MINUTES before its time."""
    early = timedelta(minutes=settings.CHECK_IN_EARLY_MINUTES)
    return timezone.localdate(now) == timezone.localdate(starts_at) and now >= starts_at - early


def booking_check_in(*, booking: Booking, acting_user=None, now: datetime | None = None) -> Booking:
    """A clerk checks the applicant in at the counter: on the appointment's own (local) day,
    from CHECK_IN_EARLY_MINUTES before its time; a check-in weeks ahead would mark a seat as
    used that nobody has come for."""
    now = now or timezone.now()
    if booking.status != Booking.Status.CONFIRMED:
        raise BookingNotActive()
    if not check_in_open(starts_at=booking.slot.starts_at, now=now):
        raise CheckInNotToday()
    return _finish(
        booking=booking,
        status=Booking.Status.ATTENDED,
        kind=BookingEvent.Kind.ATTENDED,
        acting_user=acting_user,
        actor=BookingEvent.Actor.STAFF,
        now=now,
    )


def booking_mark_no_show(
    *, booking: Booking, acting_user=None, now: datetime | None = None
) -> Booking:
    """A clerk records that the applicant did not come (only after the slot's time)."""
    now = now or timezone.now()
    if booking.slot.ends_at > now:
        raise BookingNotActive(_("A booking can be marked as a no-show only after its time."))
    return _finish(
        booking=booking,
        status=Booking.Status.NO_SHOW,
        kind=BookingEvent.Kind.NO_SHOW,
        acting_user=acting_user,
        actor=BookingEvent.Actor.STAFF,
        now=now,
    )


def bookings_mark_no_shows(*, now: datetime | None = None, chunk: int = 5000) -> int:
    """Mark confirmed bookings of slots that ended before today (local) as no-shows: the
    system closing the books (beat). Set-based."""
    now = now or timezone.now()
    day_start = timezone.make_aware(datetime.combine(timezone.localdate(now), datetime.min.time()))
    total = 0
    while True:
        with transaction.atomic():
            rows = list(
                Booking.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(status=Booking.Status.CONFIRMED, slot__ends_at__lte=day_start)
                .values_list("pk", "slot_id", "slot__starts_at")[:chunk]
            )
            if not rows:
                return total
            Booking.objects.filter(pk__in=[r[0] for r in rows]).update(
                status=Booking.Status.NO_SHOW, updated_at=now
            )
            BookingEvent.objects.bulk_create(
                [
                    BookingEvent(
                        booking_id=pk,
                        at=now,
                        kind=BookingEvent.Kind.NO_SHOW,
                        actor=BookingEvent.Actor.SYSTEM,
                        from_slot_id=slot_id,
                        from_starts_at=starts_at,
                    )
                    for pk, slot_id, starts_at in rows
                ]
            )
            total += len(rows)
