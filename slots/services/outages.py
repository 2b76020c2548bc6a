"""Outages as clerks record them: declare, change the expected end, resolve, and preview.

Recording is quick and transactional; the move itself (slots/services/reschedule.py) runs in a
Celery task started after commit. Every change writes the outage's history (`OutageEvent`):
what, when, and which staff user (`acting_user`; None for the system).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from notifications.models import Notification
from rto_booking.queueing import enqueue_on_commit
from slots.errors import BookingError
from slots.messages import messages_write_for_events
from slots.models import (
    Booking,
    BookingEvent,
    Office,
    Outage,
    OutageEvent,
    OutageSeatCut,
    Service,
    Slot,
    hold_horizon,
)
from slots.rules import booking_cutoff
from slots.services.allocation import (
    affected_rows,
    assign,
    candidates_for,
    driving_test_id,
    fifo_key,
)
from slots.services.outage_scope import (
    bookings_in_window,
    groups_of,
    lock_groups,
    outage_groups,
    overflow_in,
)
from slots.services.recovery import ProposedSession, RecoveryPlan, recovery_plan
from slots.services.waitlist import offers_make_on_commit
from slots.tasks import reschedule_outage_task


class OutageInvalid(BookingError):
    code = "invalid"
    status = 400


def _validate_window(*, starts_at: datetime, expected_end: datetime | None) -> None:
    if expected_end is not None and expected_end <= starts_at:
        message = _("The expected end must be after the start.")
        raise OutageInvalid(message, fields={"expected_end": [message]})


def outage_event_record(
    *, outage: Outage, kind: str, acting_user, before=None, after=None, details=None
) -> OutageEvent:
    """Append to the outage's history (inside the caller's transaction)."""
    return OutageEvent.objects.create(
        outage=outage,
        kind=kind,
        user=acting_user,
        expected_end_before=before,
        expected_end_after=after,
        details=details or {},
    )


def outage_create(
    *,
    offices: list[Office],
    services: list[Service] | None = None,
    expected_end: datetime | None,
    reason: str,
    reason_hi: str = "",
    starts_at: datetime | None = None,
    capacity_percent: int = 0,
    acting_user=None,
    details: dict | None = None,
) -> Outage:
    """Record an outage and start rescheduling after commit. `expected_end` None: until
    further notice (its bookings are held); `capacity_percent` 1–99: the service runs at that
    share of its seats (only the overflow moves). `details` go to its history (e.g. the
    closure it was recorded for)."""
    starts_at = starts_at or timezone.now()
    if not offices:
        message = _("Name at least one office.")
        raise OutageInvalid(message, fields={"offices": [message]})
    if not isinstance(capacity_percent, int) or not 0 <= capacity_percent <= 99:
        message = _("The share of seats that still run must be a whole number from 0 to 99.")
        raise OutageInvalid(message, fields={"capacity_percent": [message]})
    _validate_window(starts_at=starts_at, expected_end=expected_end)
    with transaction.atomic():
        outage = Outage.objects.create(
            starts_at=starts_at,
            expected_end=expected_end,
            reason=reason.strip(),
            reason_hi=reason_hi.strip(),
            capacity_percent=capacity_percent,
            created_by=acting_user,
        )
        outage.offices.set(offices)
        outage.services.set(services or [])
        outage_event_record(
            outage=outage,
            kind=OutageEvent.Kind.DECLARED,
            acting_user=acting_user,
            after=expected_end,
            details=details,
        )
        enqueue_on_commit(reschedule_outage_task, outage.pk)
    return outage


def outage_extend(*, outage: Outage, expected_end: datetime | None, acting_user=None) -> Outage:
    """Change the expected end; extending moves the newly covered bookings. Giving an
    open-ended outage its end places its held bookings once; None makes it open-ended."""
    if outage.resolved_at is not None:
        raise OutageInvalid(_("This outage is already resolved."))
    _validate_window(starts_at=outage.starts_at, expected_end=expected_end)
    with transaction.atomic():
        if outage.is_partial:
            lock_groups(groups_of(outage))  # seats may be given back below
        locked = Outage.objects.select_for_update().values_list("expected_end", flat=True)
        before = locked.get(pk=outage.pk)
        changes = {"expected_end": expected_end, "state": Outage.State.QUEUED}
        if expected_end != before:
            # A new plan: a run still working on the old one stops at its next chunk, and what
            # the new one writes is its own (it may hold or place a booking from the same slot
            # again: event_unique_outage_move includes the revision).
            changes["revision"] = F("revision") + 1
        Outage.objects.filter(pk=outage.pk).update(**changes)
        if expected_end is not None:
            # A partial outage shortened: the slots after its new end get their seats back.
            seats_restore(
                outage=outage,
                cuts=OutageSeatCut.objects.filter(outage=outage, slot__starts_at__gte=expected_end),
            )
        outage.refresh_from_db()
        outage_event_record(
            outage=outage,
            kind=OutageEvent.Kind.EXTENDED,
            acting_user=acting_user,
            before=before,
            after=expected_end,
        )
        enqueue_on_commit(reschedule_outage_task, outage.pk)
    return outage


def outage_resolve(*, outage: Outage, acting_user=None, now: datetime | None = None) -> Outage:
    """End the outage now: the rest of its window takes bookings again at once.

    Applicants it moved (or left needing a new slot) are told the service is back and that they
    may choose an earlier time; their priority stays.
    """
    now = now or timezone.now()
    with transaction.atomic():
        if outage.is_partial:
            lock_groups(groups_of(outage))  # its seats are given back below
        # Compare-and-swap: resolving twice tells nobody twice. Resolved is a new plan (held
        # bookings are placed from now on): a new revision.
        changed = Outage.objects.filter(pk=outage.pk, resolved_at__isnull=True).update(
            resolved_at=max(now, outage.starts_at + timedelta(seconds=1)),
            revision=F("revision") + 1,
        )
        outage.refresh_from_db()
        if changed != 1:
            return outage
        outage_event_record(outage=outage, kind=OutageEvent.Kind.RESOLVED, acting_user=acting_user)
        seats_restore(outage=outage, cuts=OutageSeatCut.objects.filter(outage=outage))
        # The rest of the window is open again: its free seats go to the waiting lists (after
        # the run that places held bookings, when there is one: offers_make waits for it).
        for group in groups_of(outage):
            offers_make_on_commit(office_id=group.office_id, service_id=group.service_id)
        if outage.held_bookings.filter(status=Booking.Status.ON_HOLD).exists():
            # Its held bookings are placed by the run: kept, or the earliest seats from now on.
            Outage.objects.filter(pk=outage.pk).update(state=Outage.State.QUEUED)
            enqueue_on_commit(reschedule_outage_task, outage.pk)
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
                    outage_revision=outage.revision,
                    reason=outage.reason,
                )
                for booking in bookings
            ],
            batch_size=2000,
        )
        for event in events:
            event.outage = outage
        if events:
            messages_write_for_events(events=events, kind=Notification.Kind.SERVICE_RESTORED)
    return outage


def seats_restore(*, outage: Outage, cuts) -> int:
    """Give back the seats a partial outage cut from slots (`cuts`: its OutageSeatCut rows
    rows, deleted once the seats are back: a slot may be cut again if the window grows back
    over it). The caller holds the outage's group locks, taken before the outage's
    row (the run's order: no deadlock). Returns how many slots got them back."""
    cuts = list(cuts.select_for_update())
    if not cuts:
        return 0
    slots = Slot.objects.select_for_update().in_bulk([c.slot_id for c in cuts])
    for cut in cuts:
        slot = slots[cut.slot_id]
        slot.capacity += cut.seats
        slot.priority_reserve += cut.reserve
    Slot.objects.bulk_update(slots.values(), ["capacity", "priority_reserve"], batch_size=500)
    OutageSeatCut.objects.filter(pk__in=[c.pk for c in cuts]).delete()
    return len(cuts)


# --- Preview --------------------------------------------------------------------------------


@dataclass
class PreviewRow:
    office: str
    service: str  # the slug
    service_name: str = ""  # as a person reads it, in the active language
    affected: int = 0
    would_move: int = 0
    needs_new_slot: int = 0
    on_hold: int = 0
    first_new: datetime | None = None
    last_new: datetime | None = None
    recovery: RecoveryPlan | None = None  # known end, bookings to move


@dataclass
class OutagePreview:
    rows: list[PreviewRow] = field(default_factory=list)

    @property
    def recovery_target(self) -> datetime | None:
        return next((r.recovery.target for r in self.rows if r.recovery), None)

    @property
    def recovery_last_day(self):
        """The last local day inside the target (a midnight target ends the day before)."""
        target = self.recovery_target
        return timezone.localdate(target - timedelta(microseconds=1)) if target else None

    @property
    def behind_target(self) -> int:
        """Bookings served after the recovery target (or not at all) at today's capacity."""
        return sum(r.recovery.late + r.recovery.unserved for r in self.rows if r.recovery)

    @property
    def proposed_sessions(self) -> list[ProposedSession]:
        return [s for r in self.rows if r.recovery for s in r.recovery.sessions]

    @property
    def behind_target_with_sessions(self) -> int:
        return sum(r.recovery.late_with + r.recovery.unserved_with for r in self.rows if r.recovery)

    @property
    def last_new_with_sessions(self):
        return max(
            (
                r.recovery.last_served_with
                for r in self.rows
                if r.recovery and r.recovery.last_served_with
            ),
            default=None,
        )

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
    def on_hold(self) -> int:
        return sum(r.on_hold for r in self.rows)

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
    expected_end: datetime | None,
    starts_at: datetime | None = None,
    capacity_percent: int = 0,
    now: datetime | None = None,
) -> OutagePreview:
    """A dry run: how many bookings would move per office and service, and to which dates
    (the same allocation as the run, nothing written), with the recovery plan: the extra
    sessions that would serve them all within RECOVERY_TARGET_DAYS of the end. Open-ended
    (`expected_end` None): how many would be held now. Partial (`capacity_percent`): only the
    overflow of each slot's share counts as affected."""
    now = now or timezone.now()
    starts_at = starts_at or now
    _validate_window(starts_at=starts_at, expected_end=expected_end)
    groups = outage_groups(
        office_ids=[o.pk for o in offices], service_ids=[s.pk for s in services or []]
    )
    codes = dict(
        Office.objects.filter(pk__in=[g.office_id for g in groups]).values_list("pk", "code")
    )
    services_by_id = Service.objects.in_bulk([g.service_id for g in groups])
    preview = OutagePreview()
    end = expected_end or hold_horizon(now)
    earliest = max(end, booking_cutoff(now))
    driving_test = driving_test_id()
    for group in groups:
        in_window = bookings_in_window(groups=[group], start=starts_at, end=end, now=now)
        if capacity_percent:
            # Partial: only the bookings over each slot's share move (or are held).
            in_window = overflow_in(
                slots=in_window.values("slot_id"), capacity_percent=capacity_percent
            )
        bookings = sorted(affected_rows(in_window), key=fifo_key)
        service = services_by_id[group.service_id]
        row = PreviewRow(
            office=codes[group.office_id], service=service.slug, service_name=service.display_name
        )
        row.affected = len(bookings)
        if expected_end is None:
            row.on_hold = len(bookings)
        elif bookings:
            candidates = candidates_for(groups=[group], earliest=earliest, now=now, lock=False)[
                group
            ]
            moves, stranded = assign(
                bookings=bookings,
                candidates=[replace(c) for c in candidates],  # the originals stay free
                driving_test_id=driving_test,
            )
            row.recovery = recovery_plan(
                group=group,
                bookings=bookings,
                candidates=candidates,
                moves=moves,
                unserved=len(stranded),
                end=end,
                earliest=earliest,
                driving_test=driving_test,
            )
            row.would_move, row.needs_new_slot = len(moves), len(stranded)
            if moves:
                row.first_new = min(s.starts_at for _b, s in moves)
                row.last_new = max(s.starts_at for _b, s in moves)
        preview.rows.append(row)
    return preview
