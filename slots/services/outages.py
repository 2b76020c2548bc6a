"""Outages: record, extend, resolve, preview, and move every affected booking.

The move (DESIGN.md, "Rescheduling") is set-based: the outage's bookings are processed in chunks
of RESCHEDULE_CHUNK_SIZE (ordered by office, service, original start, booking time), each chunk
one transaction that takes the advisory locks of the outage's (office, service) groups in one
sorted order (so concurrent runs queue instead of deadlocking), moves the bookings, fixes both
slot counters, appends history and writes the outbox rows. A crash loses at
most the chunk in flight, which rolls back; a re-run finds only what is left. Running the task
twice, concurrently, or after `kill -9` therefore ends in the same state as one clean run.
"""

from __future__ import annotations

import json
import logging
import operator
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from types import SimpleNamespace

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Case, F, IntegerField, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from rto_booking import locks
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
    from notifications.models import Notification
    from notifications.services import notifications_write

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


def _affected_in(*, groups: list[Group], start: datetime, end: datetime, now: datetime):
    """Confirmed bookings of the groups whose slot overlaps [start, end) and has not ended."""
    office_ids = {g.office_id for g in groups}
    service_ids = {g.service_id for g in groups}
    # Groups are the offerings of the outage's offices (× its services): a booking of one of
    # those offices and services always belongs to one of them, so IN × IN selects exactly them.
    return Booking.objects.filter(
        office_id__in=office_ids,
        service_id__in=service_ids,
        status=Booking.Status.CONFIRMED,
        slot__starts_at__lt=end,
        slot__ends_at__gt=max(start, now),
    )


@dataclass(slots=True)
class Candidate:
    """A slot that can take moved bookings (values only: a chunk reads thousands of them)."""

    slot_id: int
    starts_at: datetime
    day: date
    free: int


@dataclass(slots=True)
class Affected:
    """A booking to move, as far as the move needs to know it."""

    pk: int
    slot_id: int
    office_id: int
    service_id: int
    starts_at: datetime  # of its current slot
    learner_issued: date | None


def _affected_rows(queryset) -> list[Affected]:
    return [
        Affected(*row)
        for row in queryset.values_list(
            "pk",
            "slot_id",
            "office_id",
            "service_id",
            "slot__starts_at",
            "applicant__learner_licence_issued_on",
        )
    ]


def _candidates_for(
    *, groups: list[Group], earliest: datetime, now: datetime, lock: bool
) -> dict[Group, list[Candidate]]:
    """Slots that could take moved bookings, per group, earliest first: three queries in all.

    Moved bookings may use the priority reserve, so a candidate's free seats are
    capacity - booked. Slots inside another unresolved outage of their office and service, or on
    a closed day, are skipped.
    """
    office_ids = sorted({g.office_id for g in groups})
    service_ids = sorted({g.service_id for g in groups})
    latest = now + timedelta(days=settings.SLOT_GENERATION_DAYS + 1)
    slots = Slot.objects.filter(
        office_id__in=office_ids,
        service_id__in=service_ids,
        starts_at__gte=earliest,
        starts_at__lt=latest,
        booked__lt=F("capacity"),
        offering__is_active=True,
    ).order_by("office_id", "service_id", "starts_at", "pk")
    if lock:
        slots = slots.select_for_update(of=("self",))

    # Unresolved outages of these offices: (office, service or None for all) → windows.
    blocked: dict[tuple[int, int | None], list[tuple[datetime, datetime]]] = {}
    outages = (
        Outage.objects.filter(
            resolved_at__isnull=True, offices__in=office_ids, expected_end__gt=earliest
        )
        .distinct()
        .prefetch_related("offices", "services")
    )
    for other in outages:
        window = (other.starts_at, other.expected_end)
        named = [s.pk for s in other.services.all()] or [None]
        for office in other.offices.all():
            for service_id in named:
                blocked.setdefault((office.pk, service_id), []).append(window)
    closed: dict[tuple[int, int | None], set[date]] = {}
    for office_id, service_id, day in Closure.objects.filter(
        office_id__in=office_ids, date__gte=timezone.localdate(earliest)
    ).values_list("office_id", "service_id", "date"):
        closed.setdefault((office_id, service_id), set()).add(day)

    wanted = set(groups)
    result: dict[Group, list[Candidate]] = {g: [] for g in groups}
    tz = timezone.get_current_timezone()
    for slot_id, office_id, service_id, starts_at, ends_at, capacity, booked in slots.values_list(
        "id", "office_id", "service_id", "starts_at", "ends_at", "capacity", "booked"
    ):
        group = Group(office_id, service_id)
        if group not in wanted:
            continue
        day = starts_at.astimezone(tz).date()
        if day in closed.get((office_id, None), ()) or day in closed.get(
            (office_id, service_id), ()
        ):
            continue
        windows = blocked.get((office_id, None), []) + blocked.get((office_id, service_id), [])
        if any(s < ends_at and e > starts_at for s, e in windows):
            continue
        result[group].append(
            Candidate(slot_id=slot_id, starts_at=starts_at, day=day, free=capacity - booked)
        )
    return result


def _assign(
    *, bookings: list[Affected], candidates: list[Candidate], driving_test_id: int | None
) -> tuple[list[tuple[Affected, Candidate]], list[Affected]]:
    """FIFO assignment: each booking, in order, takes the earliest candidate with a free seat.

    A shared cursor only moves forward, so an earlier original appointment never gets a later
    new slot than a later one. A driving-test booking whose learner licence excludes the seat
    at the cursor looks further on without moving the cursor for the others.
    """
    moves, stranded = [], []
    cursor = 0
    for booking in bookings:
        window = None
        if booking.service_id == driving_test_id and booking.learner_issued is not None:
            window = licence_window(learner_issued_on=booking.learner_issued)
        while cursor < len(candidates) and candidates[cursor].free <= 0:
            cursor += 1
        index = cursor
        while index < len(candidates):
            candidate = candidates[index]
            if candidate.free > 0 and (window is None or window[0] <= candidate.day <= window[1]):
                break
            index += 1
        if index >= len(candidates):
            stranded.append(booking)
            continue
        candidates[index].free -= 1
        moves.append((booking, candidates[index]))
    return moves, stranded


def _driving_test_id() -> int | None:
    return Service.objects.filter(slug=Service.DRIVING_TEST).values_list("pk", flat=True).first()


# --- The move -------------------------------------------------------------------------------


def _lock_key(group: Group) -> int:
    return zlib.crc32(f"reschedule:{group.office_id}:{group.service_id}".encode()) - 2**31


def advisory_lock_groups(groups: list[Group]) -> None:
    """Take the advisory locks of several groups, in one sorted order (no lock-order cycles)."""
    locks.xact_lock_all(
        locks.RESCHEDULE_GROUP,
        [_lock_key(g) for g in groups],
        timeout_s=settings.RESCHEDULE_LOCK_TIMEOUT_S,
    )


def int_pairs_sql(rows) -> str:
    """A VALUES list of integer pairs, inlined (ints only, so nothing to quote or escape)."""
    return ", ".join(f"({int(a)}, {int(b)})" for a, b in rows)


def slots_booked_add(deltas: dict[int, int], sign: int = 1) -> None:
    """booked += sign * delta for each slot, one statement."""
    deltas = {pk: sign * n for pk, n in deltas.items() if n}
    if not deltas:
        return
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Slot._meta.db_table} AS s SET booked = s.booked + v.delta "  # noqa: S608
                f"FROM (VALUES {int_pairs_sql(list(deltas.items()))}) AS v(id, delta) "
                "WHERE s.id = v.id"
            )
        return
    Slot.objects.filter(pk__in=list(deltas)).update(
        booked=F("booked")
        + Case(
            *[When(pk=pk, then=Value(n)) for pk, n in deltas.items()],
            default=Value(0),
            output_field=IntegerField(),
        )
    )


def bookings_point_to(moves: list[tuple[int, int]], now: datetime) -> None:
    """Point each moved booking at its new slot and mark it priority, one statement."""
    if not moves:
        return
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Booking._meta.db_table} AS b "  # noqa: S608
                "SET slot_id = v.slot_id, priority = true, updated_at = %s "
                f"FROM (VALUES {int_pairs_sql(moves)}) "
                "AS v(id, slot_id) WHERE b.id = v.id",
                [now],
            )
        return
    Booking.objects.filter(pk__in=[b for b, _s in moves]).update(
        slot_id=Case(
            *[When(pk=b, then=Value(s)) for b, s in moves],
            output_field=IntegerField(),
        ),
        priority=True,
        updated_at=now,
    )


def _json_default(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()  # full precision, unlike DjangoJSONEncoder
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _events_insert(events: list[SimpleNamespace]) -> None:
    """INSERT history rows given as plain attribute bags; set each one's `pk`.

    One event per booking here: on PostgreSQL the new ids come back matched by booking.
    """
    if connection.vendor != "postgresql":
        created = BookingEvent.objects.bulk_create(
            [BookingEvent(**vars(event)) for event in events], batch_size=2000
        )
        for event, row in zip(events, created, strict=True):
            event.pk = row.pk
        return
    ids = dict(_jsonb_insert(BookingEvent, events, returning=("booking_id", "id")))
    if len(ids) != len(events):  # RETURNING is matched to events by booking
        raise RuntimeError("_events_insert takes at most one event per booking")
    for event in events:
        event.pk = ids[event.booking_id]


def _jsonb_insert(model, rows: list, *, ignore_conflicts: bool = False, returning=()) -> list:
    """INSERT unsaved instances in one statement: the rows travel as one JSON document.

    Django's bulk_create sends them as UNNEST arrays, and quoting those client-side (strings
    with quotes, the JSON contexts above all) costs more than everything else a chunk does.
    The document is [json_values, rows]: each row an array of column values, a JSON column
    holding an index into json_values, where a value shared by several rows (one outbox context
    for the SMS and the e-mail) is written once. For models whose fields need no pre_save hook
    (no auto_now), like the history and the outbox.
    """
    if not rows:
        return []
    quote = connection.ops.quote_name
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    json_columns = [i for i, f in enumerate(fields) if f.get_internal_type() == "JSONField"]
    names = ", ".join(quote(f.column) for f in fields)
    values = ", ".join(
        f"nullif(d.doc->0->((e->>{i})::int), 'null')"
        if i in json_columns
        else f"(e->>{i})::{f.db_type(connection).split('(')[0]}"
        for i, f in enumerate(fields)
    )
    row_values = operator.attrgetter(*(f.attname for f in fields))
    shared: list = []
    index: dict[int, int] = {}
    table = []
    for row in rows:
        row_list = list(row_values(row))
        for i in json_columns:
            value = row_list[i]
            position = index.get(id(value))
            if position is None:
                position = index[id(value)] = len(shared)
                shared.append(value)
            row_list[i] = position
        table.append(row_list)
    document = json.dumps([shared, table], default=_json_default, ensure_ascii=False)
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({names}) SELECT {values} "  # noqa: S608
        "FROM (SELECT %s::jsonb AS doc) AS d, jsonb_array_elements(d.doc->1) AS e"
    )
    if ignore_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    if returning:
        sql += " RETURNING " + ", ".join(quote(c) for c in returning)
    with connection.cursor() as cursor:
        cursor.execute(sql, [document])
        return cursor.fetchall() if returning else []


def _process_chunk(
    *, outage: Outage, groups: list[Group], now: datetime, driving_test_id: int | None
) -> tuple[int, int]:
    """Move one chunk of the outage's affected bookings. Returns (moved, needs_new_slot).

    A chunk may span several (office, service) groups: it locks all of the outage's groups in
    one sorted order, so runs of overlapping outages queue behind each other, never deadlock.
    Rows travel as plain values, not model instances: a statewide chunk handles thousands.
    """
    from notifications.models import Notification
    from notifications.services import notifications_write_for_event_ids

    window_end = outage.expected_end
    with transaction.atomic():
        advisory_lock_groups(groups)
        # Re-read under the locks: a resolve or a change of the expected end since this run
        # started means this run's window is stale — stop; the new state has its own run.
        if not Outage.objects.filter(
            pk=outage.pk, resolved_at__isnull=True, expected_end=outage.expected_end
        ).exists():
            return 0, 0
        bookings = _affected_rows(
            _affected_in(groups=groups, start=outage.starts_at, end=window_end, now=now)
            .select_for_update(of=("self",))
            .order_by("office_id", "service_id", "slot__starts_at", "created_at", "pk")[
                : settings.RESCHEDULE_CHUNK_SIZE
            ]
        )
        if not bookings:
            return 0, 0
        by_group: dict[Group, list[Affected]] = {}
        for booking in bookings:
            by_group.setdefault(Group(booking.office_id, booking.service_id), []).append(booking)
        earliest = max(window_end, booking_cutoff(now))
        candidates = _candidates_for(groups=list(by_group), earliest=earliest, now=now, lock=True)
        moves: list[tuple[Affected, Candidate]] = []
        stranded: list[Affected] = []
        for group, members in by_group.items():
            group_moves, group_stranded = _assign(
                bookings=members, candidates=candidates[group], driving_test_id=driving_test_id
            )
            moves += group_moves
            stranded += group_stranded

        deltas = Counter(slot.slot_id for _b, slot in moves)
        deltas.subtract(b.slot_id for b in bookings)
        slots_booked_add(dict(deltas))

        common = {
            "at": now,
            "actor": BookingEvent.Actor.SYSTEM,
            "outage_id": outage.pk,
            "reason": outage.reason,
        }
        moved_events = [
            SimpleNamespace(
                booking_id=booking.pk,
                kind=BookingEvent.Kind.RESCHEDULED,
                from_slot_id=booking.slot_id,
                to_slot_id=slot.slot_id,
                from_starts_at=booking.starts_at,
                to_starts_at=slot.starts_at,
                **common,
            )
            for booking, slot in moves
        ]
        stranded_events = [
            SimpleNamespace(
                booking_id=booking.pk,
                kind=BookingEvent.Kind.NEEDS_NEW_SLOT,
                from_slot_id=booking.slot_id,
                to_slot_id=None,
                from_starts_at=booking.starts_at,
                to_starts_at=None,
                **common,
            )
            for booking in stranded
        ]

        bookings_point_to([(b.pk, slot.slot_id) for b, slot in moves], now)
        if stranded:
            Booking.objects.filter(pk__in=[b.pk for b in stranded]).update(
                status=Booking.Status.NEEDS_NEW_SLOT, priority=True, updated_at=now
            )
        _events_insert(moved_events + stranded_events)
        notifications_write_for_event_ids(
            event_ids=[e.pk for e in moved_events], kind=Notification.Kind.RESCHEDULED_OUTAGE
        )
        notifications_write_for_event_ids(
            event_ids=[e.pk for e in stranded_events], kind=Notification.Kind.NEEDS_NEW_SLOT
        )

        Outage.objects.filter(pk=outage.pk).update(
            moved=F("moved") + len(moves),
            needs_new_slot=F("needs_new_slot") + len(stranded),
            notified=F("notified") + len(bookings),
            run_started_at=timezone.now(),  # heartbeat for reconcile_outages
        )
    return len(moves), len(stranded)


def outage_reschedule(*, outage_id: int, now: datetime | None = None) -> Outage | None:
    """Move every booking affected by the outage. Idempotent; safe to run concurrently.

    The run holds the outage's session lock (rto_booking/locks.py, OUTAGE_RUN) from start to
    finish: a second run started meanwhile (a duplicate message, the reconcile) returns at once
    and leaves the work to this one, and a run that dies frees the lock with its connection,
    which is how `outages_reconcile` knows to start another. A window changed while the run
    worked (extended, shortened) is worked again before the run lets go.
    """
    with locks.session_lock(locks.OUTAGE_RUN, outage_id) as mine:
        if not mine:
            return Outage.objects.filter(pk=outage_id).first()
        while True:
            outage, finished = _reschedule_once(outage_id=outage_id, now=now)
            if outage is None or finished:
                return outage
            now = None  # the window moved on: work it again, as of now


def _reschedule_once(*, outage_id: int, now: datetime | None) -> tuple[Outage | None, bool]:
    """One pass over the outage's window as it is now; (outage, whether it is done)."""
    from notifications.services import notifications_dispatch_on_commit

    outage = Outage.objects.filter(pk=outage_id).first()
    if outage is None:
        return None, True
    if outage.resolved_at is not None:
        Outage.objects.filter(pk=outage.pk).exclude(state=Outage.State.DONE).update(
            state=Outage.State.DONE, run_finished_at=timezone.now()
        )
        outage.refresh_from_db()
        return outage, True
    now = now or timezone.now()
    groups = outage_groups(
        office_ids=list(outage.offices.values_list("pk", flat=True)),
        service_ids=list(outage.services.values_list("pk", flat=True)),
    )
    remaining = (
        _affected_in(
            groups=groups, start=outage.starts_at, end=outage.expected_end, now=now
        ).count()
        if groups
        else 0
    )
    Outage.objects.filter(pk=outage.pk).update(
        state=Outage.State.RUNNING,
        run_started_at=timezone.now(),
        affected=F("moved") + F("needs_new_slot") + remaining,
        last_error="",
    )
    driving_test_id = _driving_test_id()
    try:
        while groups:
            moved, stranded = _process_chunk(
                outage=outage, groups=groups, now=now, driving_test_id=driving_test_id
            )
            if moved + stranded == 0:
                break
            notifications_dispatch_on_commit()  # outside the chunk: publishes at once
    except Exception as error:
        Outage.objects.filter(pk=outage.pk).update(
            state=Outage.State.FAILED, last_error=f"{type(error).__name__}: {error}"[:2000]
        )
        raise
    # Done only if the outage still has the window this pass worked on; otherwise (an
    # extension, a resolution meanwhile) the caller passes over it again.
    finished = Outage.objects.filter(
        pk=outage.pk, expected_end=outage.expected_end, resolved_at__isnull=True
    ).update(state=Outage.State.DONE, run_finished_at=timezone.now())
    outage.refresh_from_db()
    return outage, bool(finished)


# --- Reconcile ------------------------------------------------------------------------------


# A lost run is re-published at most this often per outage: a message waiting behind a long run
# in the queue is not lost, and need not be doubled every time the reconcile comes round.
REPUBLISH_KEY = "outages:republished:{id}"


def outages_reconcile(*, now: datetime | None = None) -> list[int]:
    """Find outages whose run died or was lost, or whose window holds a booking again; re-run.

    By fact, not by timer (DESIGN.md invariants 6 and 7): an unfinished outage (queued, running,
    failed) whose run lock is free has no live run — its worker was killed, its message was lost
    with Redis, or it was recorded while Redis was away — so it is published again; and a done,
    unresolved outage whose window holds a confirmed booking again (one booked while the outage
    was being recorded) is run again. Beat runs this every RECONCILE_INTERVAL_SECONDS, and every
    worker once when it starts.
    """
    from rto_booking.queueing import enqueue_now
    from slots.tasks import reschedule_outage

    now = now or timezone.now()
    running = locks.held_keys(locks.OUTAGE_RUN)
    rerun = []
    outages = (
        Outage.objects.filter(resolved_at__isnull=True)
        .exclude(pk__in=running)
        .prefetch_related("offices", "services")
    )
    for outage in outages:
        lost = outage.state != Outage.State.DONE
        stray = False
        if not lost:
            groups = outage_groups(
                office_ids=[o.pk for o in outage.offices.all()],
                service_ids=[s.pk for s in outage.services.all()],
            )
            stray = bool(groups) and (
                _affected_in(
                    groups=groups, start=outage.starts_at, end=outage.expected_end, now=now
                ).exists()
            )
        if not (lost or stray):
            continue
        marker = REPUBLISH_KEY.format(id=outage.pk)
        if not cache.add(marker, 1, timeout=settings.RECONCILE_INTERVAL_SECONDS * 2):
            continue  # published a moment ago; its message may still be on its way
        rerun.append(outage.pk)
        if not enqueue_now(reschedule_outage, outage.pk):
            cache.delete(marker)  # nothing went out: try again next time
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
    driving_test_id = _driving_test_id()
    for group in groups:
        bookings = _affected_rows(
            _affected_in(groups=[group], start=starts_at, end=expected_end, now=now).order_by(
                "slot__starts_at", "created_at", "pk"
            )
        )
        row = PreviewRow(office=codes[group.office_id], service=slugs[group.service_id])
        row.affected = len(bookings)
        if bookings:
            candidates = _candidates_for(groups=[group], earliest=earliest, now=now, lock=False)[
                group
            ]
            moves, stranded = _assign(
                bookings=bookings, candidates=candidates, driving_test_id=driving_test_id
            )
            row.would_move, row.needs_new_slot = len(moves), len(stranded)
            if moves:
                row.first_new = min(s.starts_at for _b, s in moves)
                row.last_new = max(s.starts_at for _b, s in moves)
        preview.rows.append(row)
    return preview
