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
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from notifications.models import Notification
from notifications.services import notifications_dispatch_on_commit
from rto_booking import locks
from slots import hotpath
from slots.messages import messages_write_for_event_ids
from slots.models import Booking, BookingEvent, Outage, OutageSeatCut, Slot
from slots.rules import booking_cutoff
from slots.services.allocation import (
    Affected,
    Candidate,
    affected_rows,
    assign,
    candidates_for,
    driving_test_id,
    fifo_key,
)
from slots.services.outage_scope import (
    Group,
    bookings_in_window,
    groups_of,
    lock_groups,
    overflow_in,
)
from slots.services.waitlist import offers_withdraw

logger = logging.getLogger(__name__)


@dataclass
class Progress:
    """What one chunk did."""

    moved: int = 0
    stranded: int = 0
    held: int = 0
    kept: int = 0
    released: int = 0  # of the outage's held bookings: placed, kept or stranded
    slots_cut: int = 0

    @property
    def nothing(self) -> bool:
        return self.moved + self.stranded + self.held + self.kept + self.slots_cut == 0


def _unchanged(outage: Outage):
    """The outage, if its plan is still the one this run read (else the run is stale).

    By revision: every change of the plan increments it (slots/services/outages.py,
    outage_undo.py), so an end changed and changed back (open-ended, then a known end, then
    open-ended again) is a new plan too, which the window's values alone would not tell; they
    are compared as well, for a window changed without the services."""
    found = Outage.objects.filter(pk=outage.pk, revision=outage.revision)
    for name in ("expected_end", "resolved_at"):
        value = getattr(outage, name)
        found = found.filter(**({name: value} if value else {f"{name}__isnull": True}))
    return found


def _held_rows(outage: Outage) -> list[Affected]:
    """The outage's bookings on hold (no seat; `slot` their original appointment), in order."""
    return affected_rows(
        Booking.objects.filter(held_by=outage, status=Booking.Status.ON_HOLD)
        .select_for_update(of=("self",))
        .order_by("office_id", "service_id", "slot__starts_at", "created_at", "pk")[
            : settings.RESCHEDULE_CHUNK_SIZE
        ],
        holds_seat=False,
    )


def _uncut_slots(*, outage: Outage, groups: list[Group], end: datetime, now: datetime):
    """The slots of a partial outage's window (not yet ended) that it has not cut."""
    return Slot.objects.filter(
        office_id__in={g.office_id for g in groups},
        service_id__in={g.service_id for g in groups},
        starts_at__lt=end,
        ends_at__gt=max(outage.starts_at, now),
    ).exclude(pk__in=OutageSeatCut.objects.filter(outage=outage).values("slot_id"))


def _cut_slots(*, outage: Outage, groups: list[Group], end: datetime, now: datetime):
    """A partial outage: cut the next uncut slots of its window to its share of their seats.

    Returns (the overflow bookings, in fair order, and a function that cuts the slots' capacity
    once the overflow has left them) — or None when every slot of the window is cut. The ones
    that stay are the priority bookings first, then the earliest booked.
    """
    slots = list(
        _uncut_slots(outage=outage, groups=groups, end=end, now=now)
        .select_for_update(of=("self",))
        .order_by("starts_at", "pk")
        .values_list("id", "capacity", "booked", "held_offers", "priority_reserve")[
            : settings.RESCHEDULE_CHUNK_SIZE
        ]
    )
    if not slots:
        return None
    keep = {slot_id: outage.reduced(capacity) for slot_id, capacity, _b, _h, _r in slots}
    ranked = overflow_in(slots=list(keep), capacity_percent=outage.capacity_percent)
    overflow = sorted(affected_rows(ranked), key=fifo_key)
    leaving = Counter(b.slot_id for b in overflow)

    def cut() -> None:
        cuts, changed = [], []
        for slot_id, capacity, booked, held, reserve in slots:
            staying = booked - leaving[slot_id]
            # Seats held for waiting-list offers keep only what the share leaves free: the
            # others are withdrawn (their entries wait again), or an accepted offer would put
            # a booking above what the office can serve.
            held -= offers_withdraw(slot_id=slot_id, keep=max(0, keep[slot_id] - staying))
            new_capacity = max(keep[slot_id], staying + held)
            new_reserve = min(reserve, new_capacity)
            cuts.append(
                OutageSeatCut(
                    outage=outage,
                    slot_id=slot_id,
                    seats=capacity - new_capacity,
                    reserve=reserve - new_reserve,
                )
            )
            if new_capacity != capacity or new_reserve != reserve:
                changed.append(
                    Slot(pk=slot_id, capacity=new_capacity, priority_reserve=new_reserve)
                )
        OutageSeatCut.objects.bulk_create(cuts, batch_size=2000)
        Slot.objects.bulk_update(changed, ["capacity", "priority_reserve"], batch_size=500)

    return overflow, cut, len(slots)


def _process_chunk(
    *, outage: Outage, groups: list[Group], now: datetime, driving_test: int | None
) -> Progress:
    """Settle one chunk of the outage's bookings: move, hold, keep or strand them.

    As the outage is now:
    * unresolved, service down: the confirmed bookings of its window (for an open-ended one,
      the hold horizon) are moved after its end — or, open-ended, put on hold;
    * unresolved, partial: the next uncut slots of the window are cut to its share and their
      overflow is moved (or held);
    * with an end (known or resolved): its held bookings are placed once, in the same FIFO
      order, from the end on; one whose original time is still far enough ahead keeps it.

    A chunk may span several (office, service) groups: it locks all of the outage's groups in
    one sorted order, so runs of overlapping outages queue behind each other, never deadlock.
    Rows travel as plain values, not model instances: a statewide chunk handles thousands.
    """
    progress = Progress()
    with transaction.atomic():
        lock_groups(groups)
        # Re-read under the locks: a new revision (a resolve, a change of the expected end)
        # since this run started means this run's plan is stale — stop; the run passes over
        # the new one. (Not a row lock on the outage: a cancel of a held booking locks the
        # booking, then updates the outage, the opposite order. A change committed just after
        # this read leaves this chunk writing the old plan, under the old revision, the last
        # time: the pass then finds the revision changed and works the new one.)
        if not _unchanged(outage).exists():
            return progress
        resolved = outage.resolved_at is not None
        window_end = outage.window_end_at(now)
        cut = None
        bookings: list[Affected] = []
        if not resolved and outage.is_partial:
            found = _cut_slots(outage=outage, groups=groups, end=window_end, now=now)
            if found is not None:
                bookings, cut, progress.slots_cut = found
        elif not resolved:
            bookings = affected_rows(
                bookings_in_window(groups=groups, start=outage.starts_at, end=window_end, now=now)
                .select_for_update(of=("self",))
                .order_by("office_id", "service_id", "slot__starts_at", "created_at", "pk")[
                    : settings.RESCHEDULE_CHUNK_SIZE
                ]
            )
        if (resolved or not outage.is_open_ended) and cut is None:
            held = _held_rows(outage)
            bookings = sorted(bookings + held, key=fifo_key)[: settings.RESCHEDULE_CHUNK_SIZE]
        if not bookings:
            if cut is not None:
                cut()
            return progress

        common = {
            "at": now,
            "actor": BookingEvent.Actor.SYSTEM,
            "actor_user_id": None,
            "outage_id": outage.pk,
            # The plan this chunk works for: with it, the unique event_unique_outage_move lets
            # a later plan hold or place a booking from the same slot again, and no re-run of
            # this one write the same row twice.
            "outage_revision": outage.revision,
            "reason": outage.reason,
        }
        if outage.is_open_ended and not resolved:
            _hold(outage=outage, bookings=bookings, now=now, common=common)
            progress.held = len(bookings)
        else:
            _place(
                outage=outage,
                bookings=bookings,
                now=now,
                common=common,
                driving_test=driving_test,
                progress=progress,
            )
        if cut is not None:
            cut()
        Outage.objects.filter(pk=outage.pk).update(
            moved=F("moved") + progress.moved,
            needs_new_slot=F("needs_new_slot") + progress.stranded,
            on_hold=F("on_hold") + progress.held - progress.released,
            notified=F("notified") + len(bookings),
            run_started_at=timezone.now(),  # progress, for the outage page
        )
    return progress


def _hold(*, outage: Outage, bookings: list[Affected], now: datetime, common: dict) -> None:
    """Put bookings on hold: no seat (their slot's counter gives it back), no new time yet,
    priority kept; each applicant told once not to come (invariant 9)."""
    hotpath.slots_booked_add(dict(Counter(b.slot_id for b in bookings)), sign=-1)
    Booking.objects.filter(pk__in=[b.pk for b in bookings]).update(
        status=Booking.Status.ON_HOLD, held_by=outage, priority=True, updated_at=now
    )
    events = [
        SimpleNamespace(
            booking_id=b.pk,
            kind=BookingEvent.Kind.ON_HOLD,
            from_slot_id=b.slot_id,
            to_slot_id=None,
            from_starts_at=b.starts_at,
            to_starts_at=None,
            **common,
        )
        for b in bookings
    ]
    hotpath.events_insert(events)
    messages_write_for_event_ids(event_ids=[e.pk for e in events], kind=Notification.Kind.ON_HOLD)


def _place(
    *,
    outage: Outage,
    bookings: list[Affected],
    now: datetime,
    common: dict,
    driving_test: int | None,
    progress: Progress,
) -> None:
    """Move bookings (and place held ones) FIFO from the outage's end on; a held booking whose
    original time is at or after the end and still OUTAGE_RECOVERY_LEAD_MINUTES ahead keeps it
    while its slot has the seat."""
    end = outage.window_end_at(now)
    keep_from = max(end, now + timedelta(minutes=settings.OUTAGE_RECOVERY_LEAD_MINUTES))
    keepable = [b for b in bookings if not b.holds_seat and b.starts_at >= keep_from]
    seats = dict(
        Slot.objects.filter(pk__in={b.slot_id for b in keepable})
        .select_for_update()
        .annotate(free=F("capacity") - F("booked") - F("held_offers"))
        .values_list("pk", "free")
    )
    kept = []
    for booking in keepable:
        if seats.get(booking.slot_id, 0) > 0:
            seats[booking.slot_id] -= 1
            kept.append(booking)
    kept_ids = {b.pk for b in kept}
    to_place = [b for b in bookings if b.pk not in kept_ids]

    by_group: dict[Group, list[Affected]] = {}
    for booking in to_place:
        by_group.setdefault(Group(booking.office_id, booking.service_id), []).append(booking)
    earliest = max(end, booking_cutoff(now))
    candidates = candidates_for(groups=list(by_group), earliest=earliest, now=now, lock=True)
    taken = Counter(b.slot_id for b in kept)  # a kept booking's seat is no one else's
    for group_candidates in candidates.values():
        for candidate in group_candidates:
            candidate.free -= taken[candidate.slot_id]
    moves: list[tuple[Affected, Candidate]] = []
    stranded: list[Affected] = []
    for group, members in by_group.items():
        group_moves, group_stranded = assign(
            bookings=members, candidates=candidates[group], driving_test_id=driving_test
        )
        moves += group_moves
        stranded += group_stranded

    deltas = Counter(slot.slot_id for _b, slot in moves)
    deltas.update(b.slot_id for b in kept)
    deltas.subtract(b.slot_id for b in to_place if b.holds_seat)
    hotpath.slots_booked_add(dict(deltas))

    def event(booking, kind, to_slot_id, to_starts_at):
        return SimpleNamespace(
            booking_id=booking.pk,
            kind=kind,
            from_slot_id=booking.slot_id,
            to_slot_id=to_slot_id,
            from_starts_at=booking.starts_at,
            to_starts_at=to_starts_at,
            **common,
        )

    moved_events = [
        event(b, BookingEvent.Kind.RESCHEDULED, slot.slot_id, slot.starts_at) for b, slot in moves
    ]
    stranded_events = [event(b, BookingEvent.Kind.NEEDS_NEW_SLOT, None, None) for b in stranded]
    kept_events = [event(b, BookingEvent.Kind.RESTORED, b.slot_id, b.starts_at) for b in kept]

    hotpath.bookings_point_to([(b.pk, slot.slot_id) for b, slot in moves], now)
    if kept:  # (a moved one is confirmed where it goes by bookings_point_to)
        Booking.objects.filter(pk__in=[b.pk for b in kept]).update(
            status=Booking.Status.CONFIRMED, held_by=None, updated_at=now
        )
    if stranded:
        Booking.objects.filter(pk__in=[b.pk for b in stranded]).update(
            status=Booking.Status.NEEDS_NEW_SLOT, held_by=None, priority=True, updated_at=now
        )
    hotpath.events_insert(moved_events + stranded_events + kept_events)
    for events, kind in (
        (moved_events, Notification.Kind.RESCHEDULED_OUTAGE),
        (stranded_events, Notification.Kind.NEEDS_NEW_SLOT),
        (kept_events, Notification.Kind.SERVICE_RESTORED),
    ):
        messages_write_for_event_ids(event_ids=[e.pk for e in events], kind=kind)
    progress.moved, progress.stranded, progress.kept = len(moves), len(stranded), len(kept)
    progress.released = sum(not b.holds_seat for b in bookings)


def outage_reschedule(*, outage_id: int, now: datetime | None = None) -> Outage | None:
    """Move every booking affected by the outage. Idempotent; safe to run concurrently.

    The run holds the outage's session lock (rto_booking/locks.py, OUTAGE_RUN) from start to
    finish: a second run started meanwhile (a duplicate message, the reconcile) returns at once
    and leaves the work to this one, and a run that dies frees the lock with its connection,
    which is how `outages_needing_a_run` knows to start another. A plan changed while the run
    worked (extended, shortened, resolved: a new `Outage.revision`) is worked again before the
    run lets go. The task carries only the outage's id: whichever change published it, a run
    works for the revision current when each pass starts (a message of an older change that
    arrives late finds the newer plan, and nothing left to do if it is done).
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
    now = now or timezone.now()
    groups = groups_of(outage)
    held = Booking.objects.filter(held_by=outage, status=Booking.Status.ON_HOLD)
    if outage.resolved_at is not None and not held.exists():
        Outage.objects.filter(pk=outage.pk).exclude(state=Outage.State.DONE).update(
            state=Outage.State.DONE, run_finished_at=timezone.now()
        )
        outage.refresh_from_db()
        return outage, True
    remaining = 0
    if groups and outage.resolved_at is None and not outage.is_partial:
        remaining = bookings_in_window(
            groups=groups, start=outage.starts_at, end=outage.window_end_at(now), now=now
        ).count()
    Outage.objects.filter(pk=outage.pk).update(
        state=Outage.State.RUNNING,
        run_started_at=timezone.now(),
        affected=F("moved") + F("needs_new_slot") + F("on_hold") + remaining,
        last_error="",
    )
    driving_test = driving_test_id()
    try:
        while groups:
            progress = _process_chunk(
                outage=outage, groups=groups, now=now, driving_test=driving_test
            )
            if progress.nothing:
                break
            notifications_dispatch_on_commit()  # outside the chunk: publishes at once
    except Exception as error:
        Outage.objects.filter(pk=outage.pk).update(
            state=Outage.State.FAILED, last_error=f"{type(error).__name__}: {error}"[:2000]
        )
        raise
    # Done only if the outage still has the plan (revision) this pass worked on; otherwise
    # (an extension, a resolution meanwhile) the caller passes over it again.
    finished = _unchanged(outage).update(state=Outage.State.DONE, run_finished_at=timezone.now())
    outage.refresh_from_db()
    return outage, bool(finished)


def outages_needing_a_run(*, now: datetime | None = None) -> list[int]:
    """Outages whose run died or was lost, or whose window holds work again.

    By fact, not by timer (DESIGN.md invariants 6 and 7): an unfinished outage (queued,
    running, failed) whose run lock is free has no live run — its worker was killed, its
    message was lost with Redis, or it was recorded while Redis was away; and a done,
    unresolved outage whose window holds a confirmed booking again (one booked while the outage
    was being recorded; for an open-ended outage, one its rolling hold horizon has reached), or
    an uncut slot (partial), needs another pass; so does a resolved outage that still holds
    bookings. The reconcile task publishes a run for each.
    """
    now = now or timezone.now()
    running = locks.held_keys(locks.OUTAGE_RUN)
    found = []
    outages = (
        Outage.objects.filter(
            Q(resolved_at__isnull=True)
            | Q(pk__in=Booking.objects.filter(status=Booking.Status.ON_HOLD).values("held_by"))
        )
        .exclude(pk__in=running)
        .prefetch_related("offices", "services")
    )
    for outage in outages:
        if outage.state != Outage.State.DONE or outage.resolved_at is not None:
            found.append(outage.pk)
            continue
        groups = groups_of(outage)
        if groups and _has_work(outage=outage, groups=groups, now=now):
            found.append(outage.pk)
    return found


def _has_work(*, outage: Outage, groups: list[Group], now: datetime) -> bool:
    end = outage.window_end_at(now)
    if outage.is_partial:
        return _uncut_slots(outage=outage, groups=groups, end=end, now=now).exists()
    return bookings_in_window(groups=groups, start=outage.starts_at, end=end, now=now).exists()
