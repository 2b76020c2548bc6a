"""Move every booking an outage affects (DESIGN.md, "Rescheduling"), and find runs to redo.

The move is set-based: the outage's bookings are processed in chunks of RESCHEDULE_CHUNK_SIZE
(ordered by office, service, original start, booking time), each chunk one transaction that
takes the advisory locks of the outage's (office, service) groups in one sorted order (so
concurrent runs queue instead of deadlocking), moves the bookings, fixes both slot counters,
appends history and writes the outbox rows. A crash loses at most the chunk in flight, which
rolls back; a re-run finds only what is left. Running it twice, concurrently, or after
`kill -9` therefore ends in the same state as one clean run (invariant 6).
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime
from types import SimpleNamespace

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from notifications.models import Notification
from notifications.services import notifications_dispatch_on_commit
from rto_booking import locks
from slots import hotpath
from slots.messages import messages_write_for_event_ids
from slots.models import Booking, BookingEvent, Outage
from slots.rules import booking_cutoff
from slots.services.allocation import (
    Affected,
    Candidate,
    affected_rows,
    assign,
    candidates_for,
    driving_test_id,
)
from slots.services.outage_scope import Group, bookings_in_window, groups_of, lock_groups

logger = logging.getLogger(__name__)


def _process_chunk(
    *, outage: Outage, groups: list[Group], now: datetime, driving_test: int | None
) -> tuple[int, int]:
    """Move one chunk of the outage's affected bookings. Returns (moved, needs_new_slot).

    A chunk may span several (office, service) groups: it locks all of the outage's groups in
    one sorted order, so runs of overlapping outages queue behind each other, never deadlock.
    Rows travel as plain values, not model instances: a statewide chunk handles thousands.
    """
    window_end = outage.expected_end
    with transaction.atomic():
        lock_groups(groups)
        # Re-read under the locks: a resolve or a change of the expected end since this run
        # started means this run's window is stale — stop; the run passes over the new one.
        if not Outage.objects.filter(
            pk=outage.pk, resolved_at__isnull=True, expected_end=outage.expected_end
        ).exists():
            return 0, 0
        bookings = affected_rows(
            bookings_in_window(groups=groups, start=outage.starts_at, end=window_end, now=now)
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
        candidates = candidates_for(groups=list(by_group), earliest=earliest, now=now, lock=True)
        moves: list[tuple[Affected, Candidate]] = []
        stranded: list[Affected] = []
        for group, members in by_group.items():
            group_moves, group_stranded = assign(
                bookings=members, candidates=candidates[group], driving_test_id=driving_test
            )
            moves += group_moves
            stranded += group_stranded

        deltas = Counter(slot.slot_id for _b, slot in moves)
        deltas.subtract(b.slot_id for b in bookings)
        hotpath.slots_booked_add(dict(deltas))

        common = {
            "at": now,
            "actor": BookingEvent.Actor.SYSTEM,
            "actor_user_id": None,
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

        hotpath.bookings_point_to([(b.pk, slot.slot_id) for b, slot in moves], now)
        if stranded:
            Booking.objects.filter(pk__in=[b.pk for b in stranded]).update(
                status=Booking.Status.NEEDS_NEW_SLOT, priority=True, updated_at=now
            )
        hotpath.events_insert(moved_events + stranded_events)
        messages_write_for_event_ids(
            event_ids=[e.pk for e in moved_events], kind=Notification.Kind.RESCHEDULED_OUTAGE
        )
        messages_write_for_event_ids(
            event_ids=[e.pk for e in stranded_events], kind=Notification.Kind.NEEDS_NEW_SLOT
        )

        Outage.objects.filter(pk=outage.pk).update(
            moved=F("moved") + len(moves),
            needs_new_slot=F("needs_new_slot") + len(stranded),
            notified=F("notified") + len(bookings),
            run_started_at=timezone.now(),  # progress, for the outage page
        )
    return len(moves), len(stranded)


def outage_reschedule(*, outage_id: int, now: datetime | None = None) -> Outage | None:
    """Move every booking affected by the outage. Idempotent; safe to run concurrently.

    The run holds the outage's session lock (rto_booking/locks.py, OUTAGE_RUN) from start to
    finish: a second run started meanwhile (a duplicate message, the reconcile) returns at once
    and leaves the work to this one, and a run that dies frees the lock with its connection,
    which is how `outages_needing_a_run` knows to start another. A window changed while the run
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
    outage = Outage.objects.filter(pk=outage_id).prefetch_related("offices", "services").first()
    if outage is None:
        return None, True
    if outage.resolved_at is not None:
        Outage.objects.filter(pk=outage.pk).exclude(state=Outage.State.DONE).update(
            state=Outage.State.DONE, run_finished_at=timezone.now()
        )
        outage.refresh_from_db()
        return outage, True
    now = now or timezone.now()
    groups = groups_of(outage)
    remaining = (
        bookings_in_window(
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
    driving_test = driving_test_id()
    try:
        while groups:
            moved, stranded = _process_chunk(
                outage=outage, groups=groups, now=now, driving_test=driving_test
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


def outages_needing_a_run(*, now: datetime | None = None) -> list[int]:
    """Outages whose run died or was lost, or whose window holds a booking again.

    By fact, not by timer (DESIGN.md invariants 6 and 7): an unfinished outage (queued,
    running, failed) whose run lock is free has no live run — its worker was killed, its
    message was lost with Redis, or it was recorded while Redis was away; and a done,
    unresolved outage whose window holds a confirmed booking again (one booked while the outage
    was being recorded) needs another pass. The reconcile task publishes a run for each.
    """
    now = now or timezone.now()
    running = locks.held_keys(locks.OUTAGE_RUN)
    found = []
    outages = (
        Outage.objects.filter(resolved_at__isnull=True)
        .exclude(pk__in=running)
        .prefetch_related("offices", "services")
    )
    for outage in outages:
        if outage.state != Outage.State.DONE:
            found.append(outage.pk)
            continue
        groups = groups_of(outage)
        if groups and (
            bookings_in_window(
                groups=groups, start=outage.starts_at, end=outage.expected_end, now=now
            ).exists()
        ):
            found.append(outage.pk)
    return found
