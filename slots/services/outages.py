"""Outages: record, extend, resolve, preview, and move every affected booking.

The move (DESIGN.md, "Rescheduling") is set-based: each (office, service) group is processed in
chunks of RESCHEDULE_CHUNK_SIZE bookings, each chunk one transaction that locks the group
(a transaction-level advisory lock, so concurrent runs queue instead of deadlocking), moves the
bookings, fixes both slot counters, appends history and writes the outbox rows. A crash loses at
most the chunk in flight, which rolls back; a re-run finds only what is left. Running the task
twice, concurrently, or after `kill -9` therefore ends in the same state as one clean run.
"""

from __future__ import annotations

import logging
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, F, IntegerField, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from slots.errors import BookingError
from slots.models import (
    Booking,
    BookingEvent,
    Closure,
    Offering,
    Office,
    Outage,
    Service,
    Slot,
)
from slots.rules import booking_cutoff, licence_window

logger = logging.getLogger(__name__)


class OutageInvalid(BookingError):
    code = "invalid"
    status = 400


# --- Recording ------------------------------------------------------------------------------


def _validate_window(*, starts_at: datetime, expected_end: datetime) -> None:
    if expected_end <= starts_at:
        message = _("The expected end must be after the start.")
        raise OutageInvalid(message, fields={"expected_end": [message]})


def outage_create(
    *,
    offices: list[Office],
    services: list[Service] | None = None,
    expected_end: datetime,
    reason: str,
    reason_hi: str = "",
    starts_at: datetime | None = None,
    created_by=None,
) -> Outage:
    """Record an outage and start rescheduling after commit."""
    starts_at = starts_at or timezone.now()
    if not offices:
        message = _("Name at least one office.")
        raise OutageInvalid(message, fields={"offices": [message]})
    _validate_window(starts_at=starts_at, expected_end=expected_end)
    with transaction.atomic():
        outage = Outage.objects.create(
            starts_at=starts_at,
            expected_end=expected_end,
            reason=reason.strip(),
            reason_hi=reason_hi.strip(),
            created_by=created_by,
        )
        outage.offices.set(offices)
        outage.services.set(services or [])
        outage_reschedule_on_commit(outage=outage)
    return outage


def outage_reschedule_on_commit(*, outage: Outage) -> None:
    from rto_booking.queueing import enqueue_on_commit
    from slots.tasks import reschedule_outage

    enqueue_on_commit(reschedule_outage, outage.pk)


def outage_extend(*, outage: Outage, expected_end: datetime) -> Outage:
    """Change the expected end; extending moves the newly covered bookings."""
    if outage.resolved_at is not None:
        raise OutageInvalid(_("This outage is already resolved."))
    _validate_window(starts_at=outage.starts_at, expected_end=expected_end)
    with transaction.atomic():
        Outage.objects.filter(pk=outage.pk).update(
            expected_end=expected_end, state=Outage.State.QUEUED
        )
        outage.refresh_from_db()
        outage_reschedule_on_commit(outage=outage)
    return outage


def outage_resolve(*, outage: Outage, now: datetime | None = None) -> Outage:
    """End the outage now: the rest of its window takes bookings again at once.

    Applicants it moved (or left needing a new slot) are told the service is back and that they
    may choose an earlier time; their priority stays.
    """
    from notifications.services import notifications_write

    from notifications.models import Notification

    now = now or timezone.now()
    with transaction.atomic():
        # Compare-and-swap: resolving twice tells nobody twice.
        changed = Outage.objects.filter(pk=outage.pk, resolved_at__isnull=True).update(
            resolved_at=max(now, outage.starts_at + timedelta(seconds=1))
        )
        outage.refresh_from_db()
        if changed != 1:
            return outage
        booking_ids = set(
            BookingEvent.objects.filter(
                outage=outage,
                kind__in=[BookingEvent.Kind.RESCHEDULED, BookingEvent.Kind.NEEDS_NEW_SLOT],
                booking__status__in=Booking.ACTIVE,
            ).values_list("booking_id", flat=True)
        )
        bookings = Booking.objects.filter(pk__in=booking_ids).select_related(
            "applicant", "office", "service", "slot"
        )
        events = BookingEvent.objects.bulk_create(
            [
                BookingEvent(
                    booking=booking,
                    at=now,
                    kind=BookingEvent.Kind.RESTORED,
                    actor=BookingEvent.Actor.SYSTEM,
                    outage=outage,
                    reason=outage.reason,
                )
                for booking in bookings
            ],
            batch_size=2000,
        )
        for event in events:
            event.outage = outage
        if events:
            notifications_write(events=events, kind=Notification.Kind.SERVICE_RESTORED)
    return outage


# --- Scope ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Group:
    office_id: int
    service_id: int


def outage_groups(*, office_ids: list[int], service_ids: list[int]) -> list[Group]:
    """The (office, service) pairs an outage covers; no services named means all offered."""
    offerings = Offering.objects.filter(office_id__in=office_ids)
    if service_ids:
        offerings = offerings.filter(service_id__in=service_ids)
    return sorted(
        {Group(o, s) for o, s in offerings.values_list("office_id", "service_id")},
        key=lambda g: (g.office_id, g.service_id),
    )


def _affected(*, group: Group, start: datetime, end: datetime, now: datetime):
    """Confirmed bookings of the group whose slot overlaps [start, end) and has not ended."""
    return Booking.objects.filter(
        office_id=group.office_id,
        service_id=group.service_id,
        status=Booking.Status.CONFIRMED,
        slot__starts_at__lt=end,
        slot__ends_at__gt=max(start, now),
    )


def _blocked_intervals(*, group: Group, since: datetime) -> list[tuple[datetime, datetime]]:
    """Windows of every unresolved outage of the group ending after `since`."""
    return list(
        Outage.objects.filter(
            resolved_at__isnull=True, offices=group.office_id, expected_end__gt=since
        )
        .filter(Q(services=group.service_id) | Q(services__isnull=True))
        .values_list("starts_at", "expected_end")
        .distinct()
    )


def _closed_days(*, group: Group, since: date) -> set[date]:
    return set(
        Closure.objects.filter(office_id=group.office_id, date__gte=since)
        .filter(Q(service__isnull=True) | Q(service_id=group.service_id))
        .values_list("date", flat=True)
    )


@dataclass
class Candidate:
    slot: Slot
    free: int


def _candidates(*, group: Group, earliest: datetime, now: datetime, lock: bool) -> list[Candidate]:
    """Slots that could take moved bookings, earliest first, with the seats each can give.

    Moved bookings may use the priority reserve, so a candidate's free seats are
    capacity - booked. Slots inside another unresolved outage or on a closed day are skipped.
    """
    latest = now + timedelta(days=settings.SLOT_GENERATION_DAYS + 1)
    slots = Slot.objects.filter(
        office_id=group.office_id,
        service_id=group.service_id,
        starts_at__gte=earliest,
        starts_at__lt=latest,
        booked__lt=F("capacity"),
        offering__is_active=True,
    ).order_by("starts_at", "pk")
    if lock:
        slots = slots.select_for_update(of=("self",))
    blocked = _blocked_intervals(group=group, since=earliest)
    closed = _closed_days(group=group, since=timezone.localdate(earliest))
    result = []
    for slot in slots.only("id", "starts_at", "ends_at", "capacity", "booked", "priority_reserve"):
        if timezone.localdate(slot.starts_at) in closed:
            continue
        if any(s < slot.ends_at and e > slot.starts_at for s, e in blocked):
            continue
        result.append(Candidate(slot=slot, free=slot.capacity - slot.booked))
    return result


def _assign(
    *, bookings: list[Booking], candidates: list[Candidate]
) -> tuple[list[tuple[Booking, Slot]], list[Booking]]:
    """FIFO assignment: each booking, in order, takes the earliest candidate with a free seat.

    A shared cursor only moves forward, so an earlier original appointment never gets a later
    new slot than a later one. A driving-test booking whose learner licence excludes the seat
    at the cursor looks further on without moving the cursor for the others.
    """
    moves, stranded = [], []
    cursor = 0
    for booking in bookings:
        window = None
        issued = booking.applicant.learner_licence_issued_on
        if booking.service.slug == Service.DRIVING_TEST and issued is not None:
            window = licence_window(learner_issued_on=issued)
        while cursor < len(candidates) and candidates[cursor].free <= 0:
            cursor += 1
        index = cursor
        while index < len(candidates):
            candidate = candidates[index]
            day = timezone.localdate(candidate.slot.starts_at)
            if candidate.free > 0 and (window is None or window[0] <= day <= window[1]):
                break
            index += 1
        if index >= len(candidates):
            stranded.append(booking)
            continue
        candidates[index].free -= 1
        moves.append((booking, candidates[index].slot))
    return moves, stranded


# --- The move -------------------------------------------------------------------------------


def advisory_lock_group(group: Group) -> None:
    """Serialise runs touching one (office, service): concurrent runs wait, never deadlock."""
    if connection.vendor != "postgresql":
        return
    key = zlib.crc32(f"reschedule:{group.office_id}:{group.service_id}".encode())
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL lock_timeout = %s", [f"{settings.RESCHEDULE_LOCK_TIMEOUT_S}s"])
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [7001, key - 2**31])


def _counter_update(deltas: dict[int, int], sign: int) -> None:
    """booked += sign * delta for each slot, one statement."""
    if not deltas:
        return
    Slot.objects.filter(pk__in=list(deltas)).update(
        booked=F("booked")
        + Case(
            *[When(pk=pk, then=Value(sign * n)) for pk, n in deltas.items()],
            default=Value(0),
            output_field=IntegerField(),
        )
    )


def _process_chunk(*, outage: Outage, group: Group, now: datetime) -> tuple[int, int]:
    """Move one chunk of the group's affected bookings. Returns (moved, needs_new_slot)."""
    from notifications.services import notification_rows_for_events

    from notifications.models import Notification

    window_end = outage.expected_end
    with transaction.atomic():
        advisory_lock_group(group)
        bookings = list(
            _affected(group=group, start=outage.starts_at, end=window_end, now=now)
            .select_for_update(of=("self",))
            .select_related("applicant", "slot", "office", "service")
            .order_by("slot__starts_at", "created_at", "pk")[: settings.RESCHEDULE_CHUNK_SIZE]
        )
        if not bookings:
            return 0, 0
        earliest = max(window_end, booking_cutoff(now))
        candidates = _candidates(group=group, earliest=earliest, now=now, lock=True)
        moves, stranded = _assign(bookings=bookings, candidates=candidates)

        released = Counter(b.slot_id for b in bookings)
        taken = Counter(slot.pk for _b, slot in moves)
        _counter_update(dict(released), -1)
        _counter_update(dict(taken), +1)

        events: list[BookingEvent] = []
        for booking, new_slot in moves:
            events.append(
                BookingEvent(
                    booking=booking,
                    at=now,
                    kind=BookingEvent.Kind.RESCHEDULED,
                    actor=BookingEvent.Actor.SYSTEM,
                    from_slot_id=booking.slot_id,
                    to_slot_id=new_slot.pk,
                    from_starts_at=booking.slot.starts_at,
                    to_starts_at=new_slot.starts_at,
                    outage=outage,
                    reason=outage.reason,
                )
            )
            booking.slot = new_slot
        for booking in stranded:
            events.append(
                BookingEvent(
                    booking=booking,
                    at=now,
                    kind=BookingEvent.Kind.NEEDS_NEW_SLOT,
                    actor=BookingEvent.Actor.SYSTEM,
                    from_slot_id=booking.slot_id,
                    from_starts_at=booking.slot.starts_at,
                    outage=outage,
                    reason=outage.reason,
                )
            )
            booking.status = Booking.Status.NEEDS_NEW_SLOT

        if moves:
            moved_ids = [b.pk for b, _s in moves]
            Booking.objects.filter(pk__in=moved_ids).update(
                slot_id=Case(
                    *[When(pk=b.pk, then=Value(s.pk)) for b, s in moves],
                    output_field=IntegerField(),
                ),
                priority=True,
                updated_at=now,
            )
        if stranded:
            Booking.objects.filter(pk__in=[b.pk for b in stranded]).update(
                status=Booking.Status.NEEDS_NEW_SLOT, priority=True, updated_at=now
            )
        BookingEvent.objects.bulk_create(events, batch_size=2000)

        for event in events:
            event.outage = outage
        rows = notification_rows_for_events(
            events=[e for e in events if e.kind == BookingEvent.Kind.RESCHEDULED],
            kind=Notification.Kind.RESCHEDULED_OUTAGE,
        ) + notification_rows_for_events(
            events=[e for e in events if e.kind == BookingEvent.Kind.NEEDS_NEW_SLOT],
            kind=Notification.Kind.NEEDS_NEW_SLOT,
        )
        Notification.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True)

        Outage.objects.filter(pk=outage.pk).update(
            moved=F("moved") + len(moves),
            needs_new_slot=F("needs_new_slot") + len(stranded),
            notified=F("notified") + len(bookings),
            run_started_at=timezone.now(),  # heartbeat for reconcile_outages
        )
    return len(moves), len(stranded)


def outage_reschedule(*, outage_id: int, now: datetime | None = None) -> Outage | None:
    """Move every booking affected by the outage. Idempotent; safe to run concurrently."""
    from notifications.services import notifications_dispatch_on_commit

    outage = Outage.objects.filter(pk=outage_id).first()
    if outage is None:
        return None
    if outage.resolved_at is not None:
        Outage.objects.filter(pk=outage.pk).exclude(state=Outage.State.DONE).update(
            state=Outage.State.DONE, run_finished_at=timezone.now()
        )
        outage.refresh_from_db()
        return outage
    now = now or timezone.now()
    groups = outage_groups(
        office_ids=list(outage.offices.values_list("pk", flat=True)),
        service_ids=list(outage.services.values_list("pk", flat=True)),
    )
    remaining = sum(
        _affected(group=g, start=outage.starts_at, end=outage.expected_end, now=now).count()
        for g in groups
    )
    Outage.objects.filter(pk=outage.pk).update(
        state=Outage.State.RUNNING,
        run_started_at=timezone.now(),
        affected=F("moved") + F("needs_new_slot") + remaining,
        last_error="",
    )
    try:
        for group in groups:
            while True:
                moved, stranded = _process_chunk(outage=outage, group=group, now=now)
                if moved + stranded == 0:
                    break
                notifications_dispatch_on_commit()  # outside the chunk: publishes at once
    except Exception as error:
        Outage.objects.filter(pk=outage.pk).update(
            state=Outage.State.FAILED, last_error=f"{type(error).__name__}: {error}"[:2000]
        )
        raise
    # Done only if the outage still has the window this run worked on (an extension made
    # meanwhile queued another run, which will finish the job).
    Outage.objects.filter(
        pk=outage.pk, expected_end=outage.expected_end, resolved_at__isnull=True
    ).update(state=Outage.State.DONE, run_finished_at=timezone.now())
    outage.refresh_from_db()
    return outage


# --- Reconcile ------------------------------------------------------------------------------


def outages_reconcile(*, now: datetime | None = None) -> list[int]:
    """Find outages whose run was lost or whose window holds a booking again; re-run them.

    Catches (a) runs lost with their worker or broker message, (b) a booking that slipped into
    an outage window while the outage was being recorded (DESIGN.md invariant 7).
    """
    from rto_booking.queueing import enqueue_now
    from slots.tasks import reschedule_outage

    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.RESCHEDULE_STALE_SECONDS)
    rerun = []
    outages = Outage.objects.filter(resolved_at__isnull=True).prefetch_related(
        "offices", "services"
    )
    for outage in outages:
        lost = outage.state in (Outage.State.QUEUED, Outage.State.FAILED) and (
            outage.created_at < stale if outage.run_started_at is None else True
        )
        lost = lost or (
            outage.state == Outage.State.RUNNING
            and (outage.run_started_at is None or outage.run_started_at < stale)
        )
        stray = False
        if outage.state == Outage.State.DONE:
            groups = outage_groups(
                office_ids=[o.pk for o in outage.offices.all()],
                service_ids=[s.pk for s in outage.services.all()],
            )
            stray = any(
                _affected(group=g, start=outage.starts_at, end=outage.expected_end, now=now)
                .filter(slot__starts_at__gte=booking_cutoff(now) - timedelta(days=365))
                .exists()
                for g in groups
            )
        if lost or stray:
            rerun.append(outage.pk)
            enqueue_now(reschedule_outage, outage.pk)
    return rerun


# --- Preview --------------------------------------------------------------------------------


@dataclass
class PreviewRow:
    office: str
    service: str
    affected: int = 0
    would_move: int = 0
    needs_new_slot: int = 0
    first_new: datetime | None = None
    last_new: datetime | None = None


@dataclass
class OutagePreview:
    rows: list[PreviewRow] = field(default_factory=list)

    @property
    def affected(self) -> int:
        return sum(r.affected for r in self.rows)

    @property
    def would_move(self) -> int:
        return sum(r.would_move for r in self.rows)

    @property
    def needs_new_slot(self) -> int:
        return sum(r.needs_new_slot for r in self.rows)

    @property
    def first_new(self):
        return min((r.first_new for r in self.rows if r.first_new), default=None)

    @property
    def last_new(self):
        return max((r.last_new for r in self.rows if r.last_new), default=None)


def outage_preview(
    *,
    offices: list[Office],
    services: list[Service] | None,
    expected_end: datetime,
    starts_at: datetime | None = None,
    now: datetime | None = None,
) -> OutagePreview:
    """A dry run: how many bookings would move per office and service, and to which dates."""
    now = now or timezone.now()
    starts_at = starts_at or now
    _validate_window(starts_at=starts_at, expected_end=expected_end)
    groups = outage_groups(
        office_ids=[o.pk for o in offices], service_ids=[s.pk for s in services or []]
    )
    codes = dict(
        Office.objects.filter(pk__in=[g.office_id for g in groups]).values_list("pk", "code")
    )
    slugs = dict(
        Service.objects.filter(pk__in=[g.service_id for g in groups]).values_list("pk", "slug")
    )
    preview = OutagePreview()
    earliest = max(expected_end, booking_cutoff(now))
    for group in groups:
        bookings = list(
            _affected(group=group, start=starts_at, end=expected_end, now=now)
            .select_related("applicant", "service", "slot")
            .order_by("slot__starts_at", "created_at", "pk")
        )
        row = PreviewRow(office=codes[group.office_id], service=slugs[group.service_id])
        row.affected = len(bookings)
        if bookings:
            candidates = _candidates(group=group, earliest=earliest, now=now, lock=False)
            moves, stranded = _assign(bookings=bookings, candidates=candidates)
            row.would_move, row.needs_new_slot = len(moves), len(stranded)
            if moves:
                row.first_new = min(s.starts_at for _b, s in moves)
                row.last_new = max(s.starts_at for _b, s in moves)
        preview.rows.append(row)
    return preview


def outage_affected_by_group(*, outage: Outage) -> dict[Group, int]:
    """Bookings still inside the window, per group (for progress pages and tests)."""
    now = timezone.now()
    groups = outage_groups(
        office_ids=list(outage.offices.values_list("pk", flat=True)),
        service_ids=list(outage.services.values_list("pk", flat=True)),
    )
    return {
        g: _affected(group=g, start=outage.starts_at, end=outage.expected_end, now=now).count()
        for g in groups
    }
