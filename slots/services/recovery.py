"""Recovery capacity (DESIGN.md, "Outages as they really happen"): when would the last
applicant an outage moves be served at today's free capacity, and which extra sessions —
longer hours on working days, a Saturday the office is normally shut — bring that within
RECOVERY_TARGET_DAYS of the service being back.

The mark-down preview proposes them (`recovery_plan`, nothing written); one action adds them
(`recovery_sessions_add`) before the outage is confirmed. Their seats are all held for
priority bookings, so the rescheduling — which may use the reserve — fills them first;
ordinary applicants get what is left once the reserve is released before the session
(PRIORITY_RESERVE_RELEASE_HOURS).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from slots.models import Closure, ExtraSession, Offering
from slots.services.allocation import Affected, Candidate, assign
from slots.services.outage_scope import Group

SATURDAY = 5
LATEST_CLOSE = time(20, 0)  # longer hours end by then, whatever RECOVERY_OVERTIME_HOURS says


@dataclass(frozen=True)
class ProposedSession:
    """An extra session the preview proposes (values only; `recovery_sessions_add` saves it)."""

    offering_id: int
    office_id: int
    service_id: int
    date: date
    start_time: time
    end_time: time
    slot_minutes: int
    seats_per_slot: int
    kind: str  # "longer_hours" | "saturday"

    KINDS = {"longer_hours": _("Longer hours"), "saturday": _("Saturday session")}

    @property
    def kind_label(self):
        return self.KINDS[self.kind]

    @property
    def slot_starts(self) -> list[datetime]:
        tz = timezone.get_current_timezone()
        cursor = datetime.combine(self.date, self.start_time, tzinfo=tz)
        stop = datetime.combine(self.date, self.end_time, tzinfo=tz)
        step = timedelta(minutes=self.slot_minutes)
        starts = []
        while cursor + step <= stop:
            starts.append(cursor)
            cursor += step
        return starts

    @property
    def seats(self) -> int:
        return len(self.slot_starts) * self.seats_per_slot


@dataclass
class RecoveryPlan:
    """One office × service: when its last moved booking is served, now and with the
    proposed sessions."""

    target: datetime  # served before this: within RECOVERY_TARGET_DAYS of the end
    last_served: datetime | None = None
    unserved: int = 0  # no seat at all in the slots generated so far
    late: int = 0  # served, but after the target
    sessions: list[ProposedSession] = field(default_factory=list)
    last_served_with: datetime | None = None
    unserved_with: int = 0
    late_with: int = 0

    @property
    def on_time(self) -> bool:
        return self.late + self.unserved == 0


def recovery_target(end: datetime) -> datetime:
    return end + timedelta(days=settings.RECOVERY_TARGET_DAYS)


def recovery_plan(
    *,
    group: Group,
    bookings: list[Affected],
    candidates: list[Candidate],
    moves: list[tuple[Affected, Candidate]],
    unserved: int,
    end: datetime,
    earliest: datetime,
    driving_test: int | None,
) -> RecoveryPlan:
    """The group's plan. `bookings` in fair order; `candidates` the free seats (not used up);
    `moves` and `unserved` what the allocation gives at today's capacity (the preview's own
    dry run). With the proposed sessions the allocation is run again here, on copies."""
    plan = RecoveryPlan(target=recovery_target(end), unserved=unserved)
    starts = [c.starts_at for _b, c in moves]
    plan.last_served = max(starts, default=None)
    plan.late = sum(s >= plan.target for s in starts)
    if plan.on_time:
        plan.last_served_with, plan.unserved_with = plan.last_served, 0
        return plan
    needed = plan.late + plan.unserved
    for session in _possible_sessions(group=group, end=end, earliest=earliest, target=plan.target):
        if needed <= 0:
            break
        plan.sessions.append(session)
        needed -= session.seats
    extra = [
        Candidate(slot_id=-1, starts_at=start, day=session.date, free=session.seats_per_slot)
        for session in plan.sessions
        for start in session.slot_starts
        if start >= earliest
    ]
    plan.last_served_with, plan.unserved_with, plan.late_with = _served(
        bookings, candidates + extra, plan.target, driving_test
    )
    return plan


def _served(bookings, candidates, target, driving_test):
    """(last new start, how many unserved, how many served after `target`) of a dry run."""
    seats = sorted((replace(c) for c in candidates), key=lambda c: c.starts_at)
    moves, stranded = assign(bookings=bookings, candidates=seats, driving_test_id=driving_test)
    starts = [c.starts_at for _b, c in moves]
    return max(starts, default=None), len(stranded), sum(s >= target for s in starts)


def _possible_sessions(*, group: Group, end: datetime, earliest: datetime, target: datetime):
    """Extra sessions between the outage's end and the target, earliest first: longer hours
    after each working day's last session, and each Saturday the office is normally shut
    (with its usual hours). Closed days are skipped."""
    offering = (
        Offering.objects.filter(
            office_id=group.office_id, service_id=group.service_id, is_active=True
        )
        .prefetch_related("sessions")
        .first()
    )
    weekly = list(offering.sessions.all()) if offering else []
    if not weekly:
        return
    first_day = max(timezone.localdate(end), timezone.localdate(earliest))
    last_day = timezone.localdate(target)
    closed = set(
        Closure.objects.filter(office_id=group.office_id, date__range=(first_day, last_day))
        .filter(Q(service__isnull=True) | Q(service_id=group.service_id))
        .values_list("date", flat=True)
    )
    extras: dict[date, list[ExtraSession]] = {}
    for extra in ExtraSession.objects.filter(offering=offering, date__range=(first_day, last_day)):
        extras.setdefault(extra.date, []).append(extra)
    day = first_day
    while day <= last_day:
        if day not in closed:
            that_day = [s for s in weekly if s.weekday == day.weekday()]
            if that_day:
                proposed = _longer_hours(offering, day, that_day + extras.get(day, []))
            elif day.weekday() == SATURDAY and not extras.get(day):
                proposed = _saturday(offering, day, weekly)
            else:
                proposed = None
            if proposed and any(earliest <= start < target for start in proposed.slot_starts):
                yield proposed
        day += timedelta(days=1)


def _longer_hours(offering: Offering, day: date, sessions) -> ProposedSession | None:
    """RECOVERY_OVERTIME_HOURS after the day's last session (by LATEST_CLOSE at the latest)."""
    last = max(sessions, key=lambda s: s.end_time)
    stop = min(
        datetime.combine(day, last.end_time) + timedelta(hours=settings.RECOVERY_OVERTIME_HOURS),
        datetime.combine(day, LATEST_CLOSE),
    )
    if stop.time() <= last.end_time:
        return None
    return _proposed(offering, day, last.end_time, stop.time(), last, "longer_hours")


def _saturday(offering: Offering, day: date, weekly) -> ProposedSession:
    """A whole day, from the earliest usual start to the latest usual end."""
    first = min(weekly, key=lambda s: s.start_time)
    last = max(weekly, key=lambda s: (s.end_time, s.seats_per_slot))
    return _proposed(offering, day, first.start_time, last.end_time, last, "saturday")


def _proposed(offering, day, start, end, like, kind) -> ProposedSession:
    return ProposedSession(
        offering_id=offering.pk,
        office_id=offering.office_id,
        service_id=offering.service_id,
        date=day,
        start_time=start,
        end_time=end,
        slot_minutes=like.slot_minutes,
        seats_per_slot=like.seats_per_slot,
        kind=kind,
    )
