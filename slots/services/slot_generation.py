"""Materialise slots from weekly and extra sessions for a rolling horizon.

Idempotent and safe to run concurrently (the unique (offering, starts_at) constraint decides
races). It never deletes a slot that anything refers to and never shrinks one below its
bookings: a session edited after people booked keeps their seats.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from slots.models import (
    Booking,
    BookingEvent,
    Closure,
    ExtraSession,
    Offer,
    Offering,
    OutageSeatCut,
    Slot,
)
from slots.services.outage_scope import Group, lock_groups


@dataclass(frozen=True)
class PlannedSlot:
    starts_at: datetime
    ends_at: datetime
    capacity: int
    priority_reserve: int


@dataclass
class SlotGenerationResult:
    created: int = 0
    updated: int = 0
    retired: int = 0
    deleted: int = 0


def _local_tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def _blocks(*, day: date, start: time, end: time, minutes: int, seats: int, reserve: int):
    tz = _local_tz()
    cursor = datetime.combine(day, start, tzinfo=tz)
    stop = datetime.combine(day, end, tzinfo=tz)
    step = timedelta(minutes=minutes)
    while cursor + step <= stop:
        yield PlannedSlot(
            starts_at=cursor,
            ends_at=cursor + step,
            capacity=seats,
            priority_reserve=min(reserve, seats),
        )
        cursor += step


def slot_plan_for_offering(
    *, offering: Offering, first_day: date, last_day: date, closures: set, extras: list
) -> dict[datetime, PlannedSlot]:
    """Slots the offering's sessions call for on [first_day, last_day], minus closed days."""
    sessions_by_weekday = defaultdict(list)
    for session in offering.sessions.all():
        sessions_by_weekday[session.weekday].append(session)
    plan: dict[datetime, PlannedSlot] = {}
    day = first_day
    while day <= last_day:
        if (day, None) not in closures and (day, offering.service_id) not in closures:
            blocks = [
                (s.start_time, s.end_time, s.slot_minutes, s.seats_per_slot, s.priority_reserve)
                for s in sessions_by_weekday.get(day.weekday(), [])
            ] + [
                (e.start_time, e.end_time, e.slot_minutes, e.seats_per_slot, e.priority_reserve)
                for e in extras
                if e.date == day
            ]
            for start, end, minutes, seats, reserve in blocks:
                for planned in _blocks(
                    day=day, start=start, end=end, minutes=minutes, seats=seats, reserve=reserve
                ):
                    existing = plan.get(planned.starts_at)
                    if existing is None or planned.capacity > existing.capacity:
                        plan[planned.starts_at] = planned
        day += timedelta(days=1)
    return plan


def slots_generate(
    *, days: int, first_day: date | None = None, offerings=None
) -> SlotGenerationResult:
    """Make the slots of the next `days` days (from `first_day`, default today) match sessions."""
    first_day = first_day or timezone.localdate()
    last_day = first_day + timedelta(days=max(days, 1) - 1)
    tz = _local_tz()
    range_start = datetime.combine(first_day, time.min, tzinfo=tz)
    range_end = datetime.combine(last_day + timedelta(days=1), time.min, tzinfo=tz)

    if offerings is None:
        offerings = Offering.objects.filter(is_active=True, office__is_active=True)
    offerings = list(offerings.prefetch_related("sessions"))
    result = SlotGenerationResult()
    if not offerings:
        return result

    office_ids = {o.office_id for o in offerings}
    closures_by_office: dict[int, set] = defaultdict(set)
    for office_id, day, service_id in Closure.objects.filter(
        office_id__in=office_ids, date__range=(first_day, last_day)
    ).values_list("office_id", "date", "service_id"):
        closures_by_office[office_id].add((day, service_id))
    extras_by_offering: dict[int, list] = defaultdict(list)
    for extra in ExtraSession.objects.filter(
        offering__in=offerings, date__range=(first_day, last_day)
    ):
        extras_by_offering[extra.offering_id].append(extra)

    for offering in offerings:
        plan = slot_plan_for_offering(
            offering=offering,
            first_day=first_day,
            last_day=last_day,
            closures=closures_by_office[offering.office_id],
            extras=extras_by_offering[offering.pk],
        )
        _apply_plan(
            offering=offering,
            plan=plan,
            range_start=range_start,
            range_end=range_end,
            result=result,
        )
    return result


def _apply_plan(*, offering, plan, range_start, range_end, result) -> None:
    with transaction.atomic():
        # The same lock as rescheduling takes: the two never lock slots in opposite orders.
        lock_groups([Group(offering.office_id, offering.service_id)])
        existing = {
            slot.starts_at: slot
            for slot in Slot.objects.select_for_update()
            .filter(offering=offering, starts_at__gte=range_start, starts_at__lt=range_end)
            .only(
                "id",
                "starts_at",
                "ends_at",
                "capacity",
                "booked",
                "held_offers",
                "priority_reserve",
            )
        }
        # Slots a partial outage runs at a share of (DESIGN.md, invariant 10): they keep that
        # share of the new plan, and the cut is what the plan gives back when it is resolved.
        cuts = {
            cut.slot_id: cut
            for cut in OutageSeatCut.objects.select_for_update(of=("self",))
            .filter(slot__in=[s.pk for s in existing.values()])
            .select_related("outage")
        }
        cuts_changed = []
        uncut: list[int] = []
        to_create = []
        to_update = []
        for starts_at, planned in plan.items():
            slot = existing.get(starts_at)
            if slot is None:
                to_create.append(
                    Slot(
                        offering=offering,
                        office_id=offering.office_id,
                        service_id=offering.service_id,
                        starts_at=planned.starts_at,
                        ends_at=planned.ends_at,
                        capacity=planned.capacity,
                        priority_reserve=planned.priority_reserve,
                    )
                )
                continue
            # Never shrink a slot below the seats already taken.
            cut = cuts.get(slot.pk)
            share = cut.outage.reduced(planned.capacity) if cut else planned.capacity
            if cut is not None and share < slot.booked:
                # The new plan leaves the partial outage's share below the bookings already
                # in the slot: kept here they would be more than the office can serve. The
                # slot goes back uncut, at the plan's seats, so the outage's next pass (the
                # reconcile) cuts it and moves the overflow, as for a new slot in its window.
                uncut.append(cut.pk)
                cut, share = None, planned.capacity
            capacity = max(share, slot.booked + slot.held_offers)
            reserve = min(planned.priority_reserve, capacity)
            if cut is not None:
                seats = max(planned.capacity - capacity, 0)
                kept_reserve = max(planned.priority_reserve - reserve, 0)
                if (cut.seats, cut.reserve) != (seats, kept_reserve):
                    cut.seats, cut.reserve = seats, kept_reserve
                    cuts_changed.append(cut)
            if (slot.capacity, slot.priority_reserve, slot.ends_at) != (
                capacity,
                reserve,
                planned.ends_at,
            ):
                slot.capacity, slot.priority_reserve, slot.ends_at = (
                    capacity,
                    reserve,
                    planned.ends_at,
                )
                to_update.append(slot)
                result.updated += 1

        obsolete = [slot for starts_at, slot in existing.items() if starts_at not in plan]
        if obsolete:
            referenced = (
                Exists(Booking.objects.filter(slot=OuterRef("pk")))
                | Exists(BookingEvent.objects.filter(from_slot=OuterRef("pk")))
                | Exists(BookingEvent.objects.filter(to_slot=OuterRef("pk")))
                # A waiting-list offer (open or answered) names its slot too.
                | Exists(Offer.objects.filter(slot=OuterRef("pk")))
            )
            unreferenced = Slot.objects.filter(pk__in=[s.pk for s in obsolete], booked=0).exclude(
                referenced
            )
            deleted_ids = set(unreferenced.values_list("pk", flat=True))
            if deleted_ids:
                result.deleted += Slot.objects.filter(pk__in=deleted_ids).delete()[0]
            for slot in obsolete:
                if slot.pk in deleted_ids:
                    continue
                # Still referenced: keep it for history, but take no further bookings (nor seats
                # back from a partial outage).
                if slot.pk in cuts and (cuts[slot.pk].seats or cuts[slot.pk].reserve):
                    cuts[slot.pk].seats = cuts[slot.pk].reserve = 0
                    cuts_changed.append(cuts[slot.pk])
                taken = slot.booked + slot.held_offers
                if slot.capacity != taken or slot.priority_reserve > taken:
                    slot.capacity = taken
                    slot.priority_reserve = min(slot.priority_reserve, taken)
                    to_update.append(slot)
                    result.retired += 1

        if to_create:
            created = Slot.objects.bulk_create(to_create, ignore_conflicts=True, batch_size=1000)
            result.created += len(created)
        if to_update:
            Slot.objects.bulk_update(
                to_update, ["capacity", "priority_reserve", "ends_at"], batch_size=1000
            )
        if cuts_changed:
            OutageSeatCut.objects.bulk_update(cuts_changed, ["seats", "reserve"], batch_size=1000)
        if uncut:
            OutageSeatCut.objects.filter(pk__in=uncut).delete()
