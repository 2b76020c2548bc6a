"""What an outage covers: its (office, service) groups, the bookings inside its window, and the
advisory locks that serialise every writer of a group's slots.

Shared by the rescheduler, the preview, the undo and slot generation.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import F, QuerySet, Window
from django.db.models.functions import RowNumber

from rto_booking import locks
from slots.models import Booking, Offering, Outage


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


def groups_of(outage: Outage) -> list[Group]:
    """`outage_groups` of a recorded outage (its offices and services prefetched or not)."""
    return outage_groups(
        office_ids=[o.pk for o in outage.offices.all()],
        service_ids=[s.pk for s in outage.services.all()],
    )


def bookings_in_window(
    *, groups: list[Group], start: datetime, end: datetime, now: datetime
) -> QuerySet[Booking]:
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


def overflow_in(*, slots, capacity_percent: int) -> QuerySet[Booking]:
    """The confirmed bookings of `slots` over a partial outage's share of each one's seats
    (floor(capacity × p / 100)): the ones that stay are the priority bookings first, then the
    earliest booked."""
    return (
        Booking.objects.filter(slot__in=slots, status=Booking.Status.CONFIRMED)
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("slot_id")],
                order_by=[F("priority").desc(), F("created_at").asc(), F("pk").asc()],
            ),
            keep=F("slot__capacity") * capacity_percent / 100,
        )
        .filter(rank__gt=F("keep"))
    )


def _lock_key(group: Group) -> int:
    return zlib.crc32(f"reschedule:{group.office_id}:{group.service_id}".encode()) - 2**31


def lock_groups(groups: list[Group]) -> None:
    """Take the advisory locks of several groups, in one sorted order (no lock-order cycles).
    Must run inside the transaction that writes the groups' slots or bookings."""
    locks.xact_lock_all(
        locks.RESCHEDULE_GROUP,
        [_lock_key(g) for g in groups],
        timeout_s=settings.RESCHEDULE_LOCK_TIMEOUT_S,
    )
