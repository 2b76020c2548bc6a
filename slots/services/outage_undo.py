"""Undo a false alarm: resolve the outage and put the bookings it moved back where they were.

Allowed within OUTAGE_UNDO_WINDOW_MINUTES of the outage being recorded, while it is unresolved
and its rescheduling has finished (done or failed; not queued or running, so no chunk of the
rescheduler can move a booking again behind our back). In one transaction:

1. the outage is resolved (compare-and-swap on `resolved_at IS NULL`, under its row lock);
2. every booking the outage moved (or left needing a new slot) that nobody has touched since —
   still at the slot the outage gave it, or still waiting for a new slot — and whose original
   slot has not started, is open (no closure, no other unresolved outage of the office and
   service) and has a seat left, goes back to its original slot. Seats are given FIFO per
   original slot (original booking time, then id), taken with one conditional UPDATE per
   statement (`booked + n <= capacity`, the seat counters of DESIGN.md invariant 1) and the
   seat it held since the move is released. History: `rescheduled`, actor staff, reason
   "false alarm", naming the outage;
3. the rest stay where they are (history: `restored`), and may choose an earlier time;
4. each of those applicants is told once, one outbox row per channel: `rescheduled` for those
   moved back, `service_restored` for those who stay (event keys are the new history rows).

It is set-based (a handful of statements whatever the number of bookings), and it never calls
`outage_resolve`, which would also send "service restored" to the bookings moved back.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from notifications.models import Notification
from slots import hotpath
from slots.errors import busy_on_lock_timeout
from slots.messages import messages_write_for_events
from slots.models import (
    FALSE_ALARM_REASON,
    Booking,
    BookingEvent,
    Closure,
    Outage,
    OutageEvent,
    Slot,
)
from slots.services.outage_scope import Group, groups_of, lock_groups
from slots.services.outages import OutageInvalid, outage_event_record


class OutageUndoRefused(OutageInvalid):
    code = "undo_refused"
    status = 409


@dataclass
class OutageUndoResult:
    moved_back: int = 0
    stayed: int = 0

    @property
    def told(self) -> int:
        return self.moved_back + self.stayed


def outage_undo_deadline(*, outage: Outage) -> datetime:
    return outage.created_at + timedelta(minutes=settings.OUTAGE_UNDO_WINDOW_MINUTES)


def outage_undo_available(*, outage: Outage, now: datetime | None = None) -> bool:
    """Whether the admin should offer "undo" for `outage` now (the service re-checks)."""
    now = now or timezone.now()
    return (
        outage.resolved_at is None
        and not (outage.is_open_ended or outage.is_partial)
        and outage.state in (Outage.State.DONE, Outage.State.FAILED)
        and now <= outage_undo_deadline(outage=outage)
    )


def outage_undo(
    *, outage: Outage, acting_user=None, now: datetime | None = None
) -> OutageUndoResult:
    """Undo a false alarm (see module doc). Raises OutageUndoRefused or Busy."""
    now = now or timezone.now()
    if outage.is_open_ended or outage.is_partial:
        # Resolving does what an undo would: held bookings whose time is still ahead keep it.
        raise OutageUndoRefused(
            _(
                "An outage until further notice or at reduced capacity is not undone: resolve "
                "it, and held bookings whose time is still ahead keep it."
            )
        )
    deadline = outage_undo_deadline(outage=outage)
    if now > deadline:
        raise OutageUndoRefused(
            _(
                "An outage can be undone only within %(minutes)s minutes of being recorded "
                "(until %(deadline)s). Resolve it instead: moved bookings keep their new times "
                "and applicants may choose an earlier one."
            )
            % {
                "minutes": settings.OUTAGE_UNDO_WINDOW_MINUTES,
                "deadline": formats.date_format(timezone.localtime(deadline), "DATETIME_FORMAT"),
            }
        )
    with busy_on_lock_timeout(), transaction.atomic():
        return _undo(outage=outage, acting_user=acting_user, now=now)


def _undo(*, outage: Outage, acting_user, now: datetime) -> OutageUndoResult:
    locked = Outage.objects.select_for_update().get(pk=outage.pk)
    if locked.resolved_at is not None:
        raise OutageUndoRefused(_("This outage is already resolved."))
    if locked.state in (Outage.State.QUEUED, Outage.State.RUNNING):
        raise OutageUndoRefused(
            _("Bookings are still being moved. Undo when the progress shows done.")
        )
    groups = groups_of(locked)
    # The rescheduler's locks, taken the way it takes them (one sorted order, no cycles):
    # whatever still touches these offices × services finishes first, nothing starts meanwhile.
    lock_groups(groups)
    # Resolved by the undo: a new plan, a new revision (the rows below are written under it).
    Outage.objects.filter(pk=locked.pk, resolved_at__isnull=True).update(
        resolved_at=max(now, locked.starts_at + timedelta(seconds=1)),
        revision=F("revision") + 1,
    )
    locked.refresh_from_db()
    record = outage_event_record(
        outage=locked, kind=OutageEvent.Kind.UNDONE, acting_user=acting_user
    )

    # What the outage did to each booking: its first move names the original slot, its last
    # one where the outage left it.
    original: dict[int, int | None] = {}
    last: dict[int, tuple[str, int | None]] = {}
    for booking_id, kind, from_slot_id, to_slot_id in (
        BookingEvent.objects.filter(
            outage=locked,
            actor=BookingEvent.Actor.SYSTEM,
            kind__in=[BookingEvent.Kind.RESCHEDULED, BookingEvent.Kind.NEEDS_NEW_SLOT],
        )
        .order_by("booking_id", "at", "pk")
        .values_list("booking_id", "kind", "from_slot_id", "to_slot_id")
    ):
        original.setdefault(booking_id, from_slot_id)
        last[booking_id] = (kind, to_slot_id)
    if not original:
        return OutageUndoResult()

    bookings = list(
        Booking.objects.select_for_update(of=("self",))
        .filter(pk__in=list(original), status__in=Booking.ACTIVE)
        .select_related("applicant", "office", "service")
        .order_by("pk")
    )
    slot_ids = {b.slot_id for b in bookings} | {original[b.pk] for b in bookings}
    # Locked in id order, like every other writer of two or more slots (no deadlocks).
    slots = {
        s.pk: s
        for s in Slot.objects.select_for_update()
        .filter(pk__in=[pk for pk in slot_ids if pk is not None])
        .order_by("pk")
    }
    open_slot = _open_slot_check(outage=locked, groups=groups, slots=slots.values())

    candidates, stay = [], []
    for booking in bookings:
        kind, to_slot_id = last[booking.pk]
        untouched = (
            kind == BookingEvent.Kind.RESCHEDULED
            and booking.status == Booking.Status.CONFIRMED
            and booking.slot_id == to_slot_id
        ) or (
            kind == BookingEvent.Kind.NEEDS_NEW_SLOT
            and booking.status == Booking.Status.NEEDS_NEW_SLOT
        )
        home = slots.get(original[booking.pk])
        if untouched and home is not None and home.starts_at > now and open_slot(home):
            candidates.append(booking)
        else:
            stay.append(booking)

    # FIFO per original slot: the earlier booking gets the seat that is left.
    candidates.sort(key=lambda b: (slots[original[b.pk]].starts_at, b.created_at, b.pk))
    free = {pk: s.capacity - s.booked - s.held_offers for pk, s in slots.items()}
    back = []
    for booking in candidates:
        home_id = original[booking.pk]
        if free[home_id] > 0:
            free[home_id] -= 1
            back.append(booking)
        else:
            stay.append(booking)

    taken = Counter(original[b.pk] for b in back)
    released = Counter(b.slot_id for b in back if b.status == Booking.Status.CONFIRMED)
    _take_seats(taken)
    hotpath.slots_booked_add(dict(released), -1)

    moved_events = [
        BookingEvent(
            booking=booking,
            at=now,
            kind=BookingEvent.Kind.RESCHEDULED,
            actor=BookingEvent.Actor.STAFF,
            actor_user=acting_user,
            # A booking waiting for a new slot held no seat: it comes from nowhere.
            from_slot_id=booking.slot_id if booking.status == Booking.Status.CONFIRMED else None,
            to_slot_id=original[booking.pk],
            from_starts_at=slots[booking.slot_id].starts_at,
            to_starts_at=slots[original[booking.pk]].starts_at,
            outage=locked,
            outage_revision=locked.revision,
            reason=FALSE_ALARM_REASON,
        )
        for booking in back
    ]
    hotpath.bookings_point_to([(b.pk, original[b.pk]) for b in back], now)
    Booking.objects.filter(pk__in=[b.pk for b in back]).update(
        status=Booking.Status.CONFIRMED,
        # Priority was granted for this outage; keep it only if another outage moved them too.
        priority=Exists(
            BookingEvent.objects.filter(booking=OuterRef("pk"), outage__isnull=False)
            .exclude(outage=locked)
            .filter(kind__in=[BookingEvent.Kind.RESCHEDULED, BookingEvent.Kind.NEEDS_NEW_SLOT])
        ),
        updated_at=now,
    )
    for booking in back:
        booking.slot = slots[original[booking.pk]]
        booking.status = Booking.Status.CONFIRMED

    stay.sort(key=lambda b: b.pk)
    stay_events = [
        BookingEvent(
            booking=booking,
            at=now,
            kind=BookingEvent.Kind.RESTORED,
            actor=BookingEvent.Actor.STAFF,
            actor_user=acting_user,
            outage=locked,
            outage_revision=locked.revision,
            reason=FALSE_ALARM_REASON,
        )
        for booking in stay
    ]
    for booking in stay:
        booking.slot = slots[booking.slot_id]  # every booking's slot was locked above

    events = BookingEvent.objects.bulk_create(moved_events + stay_events, batch_size=2000)
    for event in events:
        event.outage = locked
    extra = {"false_alarm": True}
    messages_write_for_events(
        events=events[: len(moved_events)], kind=Notification.Kind.RESCHEDULED, extra=extra
    )
    messages_write_for_events(
        events=events[len(moved_events) :], kind=Notification.Kind.SERVICE_RESTORED, extra=extra
    )
    result = OutageUndoResult(moved_back=len(back), stayed=len(stay))
    record.details = {"moved_back": result.moved_back, "stayed": result.stayed}
    record.save(update_fields=["details"])
    return result


def _open_slot_check(*, outage: Outage, groups: list[Group], slots):
    """A predicate: may a booking go back into this slot (no closure, no other outage)?"""
    office_ids = {g.office_id for g in groups}
    now = timezone.now()
    earliest = min((s.starts_at for s in slots), default=now)
    latest = max((s.ends_at for s in slots), default=now)
    other_outages = [
        (o, {x.pk for x in o.offices.all()}, {x.pk for x in o.services.all()})
        for o in Outage.objects.blocking(start=earliest, end=latest, now=now)
        .filter(offices__in=office_ids)
        .exclude(pk=outage.pk)
        .distinct()
        .prefetch_related("offices", "services")
    ]
    closures = set(
        Closure.objects.filter(
            office_id__in=office_ids, date__gte=timezone.localdate(earliest)
        ).values_list("office_id", "service_id", "date")
    )

    def is_open(slot: Slot) -> bool:
        day = timezone.localdate(slot.starts_at)
        if (slot.office_id, None, day) in closures or (
            slot.office_id,
            slot.service_id,
            day,
        ) in closures:
            return False
        return not any(
            slot.office_id in offices
            and (not services or slot.service_id in services)
            and o.starts_at < slot.ends_at
            and o.window_end_at(now) > slot.starts_at
            for o, offices, services in other_outages
        )

    return is_open


def _take_seats(counts: Counter) -> None:
    """booked += n for each slot, only where the seats remain; all or nothing."""
    if hotpath.slots_booked_add_if_free(dict(counts)) != len(counts):
        # The slots are locked, so this cannot happen; if it did, roll everything back.
        raise OutageUndoRefused(_("The original times no longer have the seats. Nothing moved."))


__all__ = [
    "FALSE_ALARM_REASON",
    "OutageUndoRefused",
    "OutageUndoResult",
    "outage_undo",
    "outage_undo_available",
    "outage_undo_deadline",
]
