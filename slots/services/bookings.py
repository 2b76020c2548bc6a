"""Booking use cases: create, reschedule, cancel, check in, mark no-show.

Capacity is taken with one conditional UPDATE (`booked < capacity - held`) inside a short
transaction, then the booking row is inserted; the CHECK constraint on `Slot.booked` is the
backstop. No Redis locks, no network I/O inside transactions: messages go to the outbox and
are sent after commit.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import secrets
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from applicants.models import Applicant
from rto_booking.db import numbered_placeholders, prepared_cursor
from slots.errors import (
    AlreadyBooked,
    BookingError,
    BookingNotActive,
    Busy,
    IdempotencyKeyReused,
    InvalidSlotChoice,
    RescheduleLimitReached,
    SlotFull,
    SlotNotFound,
)
from slots.models import Booking, BookingEvent, IdempotencyKey, Slot
from slots.rules import (
    check_licence_window,
    check_slot_bookable,
    reserve_held,
    slot_with_checks,
)

# 32 symbols without look-alikes (no 0/O, 1/I/L): 10 characters carry 50 random bits.
REFERENCE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
REFERENCE_LENGTH = 10


def booking_reference_new() -> str:
    return "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))


def _constraint_name(error: IntegrityError) -> str:
    diag = getattr(getattr(error, "__cause__", None), "diag", None)
    return getattr(diag, "constraint_name", "") or str(error)


def _is_lock_timeout(error: OperationalError) -> bool:
    sqlstate = getattr(getattr(error, "__cause__", None), "sqlstate", None)
    return sqlstate in {"55P03", "57014"}  # lock_not_available, query_canceled (timeouts)


def _load_slot(slot_id, *, applicant_id: int | None = None) -> Slot:
    """The slot with the answers the rules need, in one query (see `slot_with_checks`)."""
    try:
        return slot_with_checks(slot_id=int(slot_id), applicant_id=applicant_id)
    except (Slot.DoesNotExist, TypeError, ValueError, OverflowError):
        raise SlotNotFound(fields={"slot": [str(SlotNotFound.default_message)]}) from None


def _take_seat(*, slot: Slot, now: datetime, priority: bool) -> None:
    """Take one seat of `slot` or raise SlotFull. Must run inside a transaction.

    One conditional UPDATE: PostgreSQL re-evaluates the WHERE clause on the latest row version
    after waiting for any concurrent writer, so two requests can never both take the last seat.
    """
    seats = Slot.objects.filter(pk=slot.pk)
    if not priority and reserve_held(starts_at=slot.starts_at, now=now):
        seats = seats.filter(booked__lt=F("capacity") - F("priority_reserve"))
    else:
        seats = seats.filter(booked__lt=F("capacity"))
    if seats.update(booked=F("booked") + 1) != 1:
        raise SlotFull()
    slot.booked += 1


def _release_seat(*, slot_id: int) -> None:
    Slot.objects.filter(pk=slot_id, booked__gt=0).update(booked=F("booked") - 1)


def _write_notifications(*, event: BookingEvent, kind: str, extra: dict | None = None) -> list:
    """Write the event's outbox rows; return them (unsaved ids) for the caller's response."""
    from notifications.models import Notification
    from notifications.services import (
        notification_rows_for_events,
        notifications_dispatch_on_commit,
    )

    rows = notification_rows_for_events(events=[event], kind=kind, extra=extra)
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    notifications_dispatch_on_commit()
    return rows


def _keep_in_hand(booking: Booking, **related: list) -> None:
    """Keep rows just written with `booking` as `booking.in_hand` (relation name → rows), so
    its API representation (BookingOutSerializer) reads nothing back. Only the serializer
    looks there; `booking.events` and the other relations still query as usual, which is why
    this is not the prefetch cache: building a related queryset per relation cost a fifteenth
    of a booking's CPU."""
    booking.in_hand = {name: list(objects) for name, objects in related.items()}


def _event(booking: Booking, **fields) -> BookingEvent:
    event = BookingEvent.objects.create(booking=booking, **fields)
    event.booking = booking
    return event


def booking_create(
    *,
    applicant: Applicant,
    slot_id,
    actor: str = BookingEvent.Actor.APPLICANT,
    now: datetime | None = None,
) -> Booking:
    """Book one seat of `slot_id` for `applicant`.

    Raises SlotNotFound, SlotUnavailable, OutsideLicenceWindow, AlreadyBooked, SlotFull or Busy.
    """
    from notifications.services import notifications_dispatch_on_commit

    now = now or timezone.now()
    slot = _load_slot(slot_id, applicant_id=applicant.pk)
    check_slot_bookable(slot=slot, now=now)
    check_licence_window(applicant=applicant, slot=slot)
    if slot.holds_active:
        raise AlreadyBooked()

    write = _book_in_one_statement if connection.vendor == "postgresql" else _book_with_orm
    for _attempt in range(3):
        try:
            booking = write(applicant=applicant, slot=slot, now=now, actor=actor)
        except IntegrityError as error:
            if "booking_one_active_per_applicant_service" in _constraint_name(error):
                raise AlreadyBooked() from None
            if "reference" not in _constraint_name(error):
                raise
            continue  # nothing was written; try a fresh reference
        except OperationalError as error:
            if _is_lock_timeout(error):
                raise Busy() from None
            raise
        notifications_dispatch_on_commit()
        return booking
    raise Busy()


def _new_booking(*, applicant: Applicant, slot: Slot, now: datetime, actor: str):
    """The unsaved booking, its BOOKED event and its outbox rows, related in memory."""
    from notifications.models import Notification
    from notifications.services import notification_rows_for_events

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
        actor=actor,
        to_slot=slot,
        to_starts_at=slot.starts_at,
    )
    rows = notification_rows_for_events(events=[event], kind=Notification.Kind.BOOKING_CONFIRMED)
    return booking, event, rows


def _book_with_orm(*, applicant: Applicant, slot: Slot, now: datetime, actor: str) -> Booking:
    """The portable form of `_book_in_one_statement` (SQLite): the same rows, one query each."""
    from notifications.models import Notification

    booking, event, rows = _new_booking(applicant=applicant, slot=slot, now=now, actor=actor)
    try:
        with transaction.atomic():
            _take_seat(slot=slot, now=now, priority=False)
            booking.save(force_insert=True)
            event.booking = booking
            event.save(force_insert=True)
            _saved_event_into_rows(event, rows)
            Notification.objects.bulk_create(rows, ignore_conflicts=True)
    except IntegrityError:
        slot.booked -= 1  # the seat went back with the rolled-back transaction
        raise
    _keep_in_hand(booking, events=[event], notifications=rows)
    return booking


def _saved_event_into_rows(event: BookingEvent, rows: list) -> None:
    """Outbox rows are built before their event has an id; put it in once it has one."""
    for row in rows:
        row.booking_id = event.booking_id
        row.event_key = f"event:{event.pk}"
        row.context["event_id"] = event.pk


@functools.cache
def _insert_layout(model, skip: tuple[str, ...]) -> tuple[list, str, list[str]]:
    """The fields an INSERT … SELECT of `model` writes (all but the key and `skip`), their
    quoted columns, and the type each value is cast to: the column's (text for varchar, so a
    value too long is still an error, as in an INSERT … VALUES)."""
    fields = [
        field
        for field in model._meta.concrete_fields
        if not field.primary_key and field.attname not in skip
    ]
    casts = []
    for field in fields:
        db_type = field.db_type(connection)
        casts.append("text" if db_type.startswith("varchar") else db_type)
    columns = ", ".join(f'"{field.column}"' for field in fields)
    return fields, columns, casts


def _insert_values(instance, skip: tuple[str, ...], db) -> list:
    """What the ORM would write for `instance` (unsaved), in `_insert_layout`'s order."""
    fields = _insert_layout(type(instance), skip)[0]
    return [field.get_db_prep_save(field.pre_save(instance, add=True), db) for field in fields]


_EVENT_SKIP = ("booking_id",)
_OUTBOX_SKIP = ("booking_id", "event_key", "context")


@functools.cache
def _booking_statement(outbox_rows: int) -> str:
    """`_book_in_one_statement`'s SQL for a booking with `outbox_rows` messages, with numbered
    placeholders in the order `_book_in_one_statement` passes the values."""
    from notifications.models import Notification

    _f, b_columns, b_casts = _insert_layout(Booking, ())
    _f, e_columns, e_casts = _insert_layout(BookingEvent, _EVENT_SKIP)
    _f, n_columns, n_casts = _insert_layout(Notification, _OUTBOX_SKIP)
    b_places, at = numbered_placeholders(b_casts, 3)  # $1 the slot, $2 whether seats are held
    e_places, at = numbered_placeholders(e_casts, at)
    sql = f"""
        WITH seat AS (
            UPDATE "{Slot._meta.db_table}" SET "booked" = "booked" + 1
             WHERE "id" = $1 AND "booked" < "capacity" - $2 * "priority_reserve"
            RETURNING "id"
        ), b AS (
            INSERT INTO "{Booking._meta.db_table}" ({b_columns})
            SELECT {b_places} FROM seat RETURNING "id"
        ), e AS (
            INSERT INTO "{BookingEvent._meta.db_table}" ("booking_id", {e_columns})
            SELECT b.id, {e_places} FROM b RETURNING "id"
        )"""  # noqa: S608 (names from the models, values as parameters)
    if outbox_rows:
        selects = []
        for _row in range(outbox_rows):
            context = f"CAST(${at} AS jsonb) || jsonb_build_object('event_id', e.id)"
            n_places, at = numbered_placeholders(n_casts, at + 1)
            selects.append(f"SELECT b.id, 'event:' || e.id, {context}, {n_places} FROM b, e")  # noqa: S608
        sql += f""", n AS (
            INSERT INTO "{Notification._meta.db_table}"
                ("booking_id", "event_key", "context", {n_columns})
            {" UNION ALL ".join(selects)}
            ON CONFLICT DO NOTHING
        )"""
    return sql + " SELECT b.id, e.id FROM b, e"  # noqa: S608


def _book_in_one_statement(
    *, applicant: Applicant, slot: Slot, now: datetime, actor: str
) -> Booking:
    """Take the seat and write the booking, its BOOKED event and its outbox rows in one
    PostgreSQL statement (a data-modifying WITH): if the seat UPDATE matches no row, nothing
    else is written and the statement returns no row (SlotFull). Outside a transaction the
    statement is its own transaction: one round trip where the ORM form needs six (BEGIN, four
    writes, COMMIT). The seat condition is `_take_seat`'s; tests compare the rows with
    `_book_with_orm`'s (tests/slots/test_booking_statement.py)."""
    from notifications.models import Notification

    db = transaction.get_connection()
    booking, event, rows = _new_booking(applicant=applicant, slot=slot, now=now, actor=actor)
    held = int(reserve_held(starts_at=slot.starts_at, now=now))
    params = [
        slot.pk,
        held,
        *_insert_values(booking, (), db),
        *_insert_values(event, _EVENT_SKIP, db),
    ]
    context_field = Notification._meta.get_field("context")
    for row in rows:
        params.append(context_field.get_db_prep_save(row.context, db))
        params += _insert_values(row, _OUTBOX_SKIP, db)
    statement = transaction.atomic() if db.in_atomic_block else contextlib.nullcontext()
    with statement, prepared_cursor(db, numbered=True) as cursor:
        cursor.execute(_booking_statement(len(rows)), params)
        written = cursor.fetchone()
    if written is None:
        raise SlotFull()
    slot.booked += 1
    booking.pk, event.pk = written
    for instance in (booking, event):
        instance._state.adding, instance._state.db = False, db.alias
    event.booking_id = booking.pk
    _saved_event_into_rows(event, rows)
    _keep_in_hand(booking, events=[event], notifications=rows)
    return booking


def _request_fingerprint(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def booking_create_idempotent(
    *, applicant: Applicant, slot_id, key: str, now: datetime | None = None
) -> tuple[int, Booking | None, dict]:
    """`booking_create` that answers a repeated `key` with the first answer.

    Returns (status, booking, error_body). The key row is inserted first in the same transaction
    as the booking: a concurrent retry blocks on the unique index until the first request
    commits, then reads its answer — so 50 simultaneous retries still make one booking.
    """
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
        try:
            with transaction.atomic():
                booking = booking_create(applicant=applicant, slot_id=slot_id, now=now)
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


def booking_reschedule(
    *,
    booking: Booking,
    slot_id,
    actor: str = BookingEvent.Actor.APPLICANT,
    now: datetime | None = None,
) -> Booking:
    """Move an active booking to another slot of the same service, atomically.

    The old seat is released and the new one taken in one transaction. Applicants may move a
    booking BOOKING_MAX_SELF_RESCHEDULES times; choosing a slot after an outage left the booking
    without one is not counted, and bookings moved by an outage keep their priority seats.
    """
    from notifications.models import Notification

    now = now or timezone.now()
    if booking.status not in Booking.ACTIVE:
        raise BookingNotActive()
    slot = _load_slot(slot_id)
    if slot.service_id != booking.service_id:
        raise InvalidSlotChoice(fields={"slot": [str(InvalidSlotChoice.default_message)]})
    if slot.pk == booking.slot_id and booking.status == Booking.Status.CONFIRMED:
        raise InvalidSlotChoice(
            _("The booking is already at this time."),
            fields={"slot": [str(_("The booking is already at this time."))]},
        )
    check_slot_bookable(slot=slot, now=now)
    check_licence_window(applicant=booking.applicant, slot=slot)

    try:
        with transaction.atomic():
            current = _lock_booking(booking)
            if current.status not in Booking.ACTIVE:
                raise BookingNotActive()
            counts = (
                actor == BookingEvent.Actor.APPLICANT and current.status == Booking.Status.CONFIRMED
            )
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
            if current.status == Booking.Status.CONFIRMED:
                _release_seat(slot_id=old_slot.pk)
            current.slot = slot
            current.office = slot.office
            current.status = Booking.Status.CONFIRMED
            if counts:
                current.self_reschedules += 1
            current.save(
                update_fields=["slot", "office", "status", "self_reschedules", "updated_at"]
            )
            event = _event(
                current,
                at=now,
                kind=BookingEvent.Kind.RESCHEDULED,
                actor=actor,
                from_slot=old_slot,
                to_slot=slot,
                from_starts_at=old_slot.starts_at,
                to_starts_at=slot.starts_at,
            )
            _write_notifications(event=event, kind=Notification.Kind.RESCHEDULED)
            return current
    except OperationalError as error:
        if _is_lock_timeout(error):
            raise Busy() from None
        raise


def booking_cancel(
    *,
    booking: Booking,
    actor: str = BookingEvent.Actor.APPLICANT,
    reason: str = "",
    now: datetime | None = None,
) -> Booking:
    """Cancel an active booking; its seat is free for others as soon as this commits."""
    from notifications.models import Notification

    now = now or timezone.now()
    try:
        with transaction.atomic():
            current = _lock_booking(booking)
            if current.status not in Booking.ACTIVE:
                raise BookingNotActive()
            if current.status == Booking.Status.CONFIRMED:
                _release_seat(slot_id=current.slot_id)
            previous_start = current.slot.starts_at
            current.status = Booking.Status.CANCELLED
            current.save(update_fields=["status", "updated_at"])
            event = _event(
                current,
                at=now,
                kind=BookingEvent.Kind.CANCELLED,
                actor=actor,
                from_slot=current.slot,
                from_starts_at=previous_start,
                reason=reason,
            )
            _write_notifications(event=event, kind=Notification.Kind.CANCELLED)
            return current
    except OperationalError as error:
        if _is_lock_timeout(error):
            raise Busy() from None
        raise


def _finish(*, booking: Booking, status: str, kind: str, actor: str, now: datetime) -> Booking:
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
            from_slot_id=booking.slot_id,
            from_starts_at=booking.slot.starts_at,
        )
    booking.refresh_from_db()
    return booking


def booking_check_in(
    *, booking: Booking, actor: str = BookingEvent.Actor.STAFF, now: datetime | None = None
) -> Booking:
    return _finish(
        booking=booking,
        status=Booking.Status.ATTENDED,
        kind=BookingEvent.Kind.ATTENDED,
        actor=actor,
        now=now or timezone.now(),
    )


def booking_mark_no_show(
    *, booking: Booking, actor: str = BookingEvent.Actor.STAFF, now: datetime | None = None
) -> Booking:
    now = now or timezone.now()
    if booking.slot.ends_at > now:
        raise BookingNotActive(_("A booking can be marked as a no-show only after its time."))
    return _finish(
        booking=booking,
        status=Booking.Status.NO_SHOW,
        kind=BookingEvent.Kind.NO_SHOW,
        actor=actor,
        now=now,
    )


def bookings_mark_no_shows(*, now: datetime | None = None, chunk: int = 5000) -> int:
    """Mark confirmed bookings of slots that ended before today (local) as no-shows. Set-based."""
    now = now or timezone.now()
    day_start = timezone.make_aware(datetime.combine(timezone.localdate(now), datetime.min.time()))
    total = 0
    while True:
        with transaction.atomic():
            rows = list(
                Booking.objects.select_for_update(skip_locked=_skip_locked(), of=("self",))
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


def _skip_locked() -> bool:
    from django.db import connection

    return connection.features.has_select_for_update_skip_locked
