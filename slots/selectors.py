"""Reads of offices, services, slots and outages. Keyword-only; no writes here."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, TruncWeek
from django.utils import timezone
from django.utils.translation import gettext

from notifications.models import Notification
from slots.models import (
    Booking,
    BookingEvent,
    Closure,
    Offering,
    Office,
    Outage,
    OutageEvent,
    Service,
    Slot,
)
from slots.rules import (
    ballot_open_until,
    bookable_seats,
    booking_cutoff,
    booking_horizon_end,
    licence_window,
    outages_covering,
)

# The events that gave a booking another appointment time: a move (by the applicant, by an
# outage, back by an undone outage) or a placement after one. A booking's calendar SEQUENCE
# counts them, so a calendar replaces its entry exactly when the time changed
# (notifications.backends.appointment_calendar). slots.hotpath has the same test in SQL.
TIME_CHANGES = (
    Q(to_starts_at__isnull=False)
    & ~Q(kind=BookingEvent.Kind.BOOKED)
    & (Q(from_starts_at__isnull=True) | ~Q(from_starts_at=F("to_starts_at")))
)


def _time_changes_count(**up_to) -> Subquery:
    return Coalesce(
        Subquery(
            BookingEvent.objects.filter(TIME_CHANGES, **up_to)
            .order_by()
            .values("booking_id")
            .annotate(n=Count("pk"))
            .values("n")
        ),
        0,
    )


def booking_calendar_sequence_expression():
    """For a Booking queryset: its calendar SEQUENCE now (`.annotate(calendar_sequence=…)`)."""
    return _time_changes_count(booking_id=OuterRef("pk"))


def booking_calendar_sequence(*, booking: Booking) -> int:
    """The booking's calendar SEQUENCE now: how many times its appointment time changed."""
    return booking.events.filter(TIME_CHANGES).count()


def booking_calendar_sequences(*, event_ids: Iterable[int]) -> dict[int, int]:
    """Event id -> its booking's calendar SEQUENCE as of that event (one query)."""
    return dict(
        BookingEvent.objects.filter(pk__in=list(event_ids))
        .annotate(
            sequence=_time_changes_count(booking_id=OuterRef("booking_id"), pk__lte=OuterRef("pk"))
        )
        .values_list("pk", "sequence")
    )


def booking_events_with_undone(
    queryset: QuerySet[BookingEvent] | None = None,
) -> QuerySet[BookingEvent]:
    """Booking events with `outage_undone`: their outage was undone as a false alarm, so history
    says "false alarm" instead of its reason (`BookingEvent.display_reason`). No extra query."""
    undone = OutageEvent.objects.filter(
        outage_id=OuterRef("outage_id"), kind=OutageEvent.Kind.UNDONE
    )
    events = BookingEvent.objects.all() if queryset is None else queryset
    return events.annotate(outage_undone=Exists(undone))


def office_list_with_services(*, only_active: bool = True, code: str | None = None) -> list[Office]:
    """Offices (or the one with `code`) with `active_services` (their offered services, in
    display order): 2 queries."""
    offerings = Offering.objects.select_related("service").order_by("service__sort_order")
    if only_active:
        offerings = offerings.filter(is_active=True)
    offices = Office.objects.order_by("code").prefetch_related(
        Prefetch("offerings", queryset=offerings, to_attr="active_offerings")
    )
    if only_active:
        offices = offices.filter(is_active=True)
    if code is not None:
        offices = offices.filter(code=code)
    result = list(offices)
    for office in result:
        office.active_services = [offering.service for offering in office.active_offerings]
    return result


def office_get_with_services(*, code: str) -> Office | None:
    """One active office with `active_services`, as office_list_with_services gives them."""
    found = office_list_with_services(code=code)
    return found[0] if found else None


def offering_get(
    *, office_code: str, service_slug: str, taking_bookings: bool = False
) -> Offering | None:
    """The offering of a service at an active office, with both loaded, or None;
    `taking_bookings` also requires the offering itself to be active (the booking pages)."""
    offerings = Offering.objects.select_related("office", "service").filter(
        office__code=office_code, office__is_active=True, service__slug=service_slug
    )
    if taking_bookings:
        offerings = offerings.filter(is_active=True)
    return offerings.first()


def outage_active_by_office(*, at: datetime | None = None) -> dict[int, list[Outage]]:
    """Unresolved outages keyed by office id, each with `service_list` prefetched."""
    at = at or timezone.now()
    outages = (
        Outage.objects.active(at).prefetch_related("offices", "services").order_by("starts_at")
    )
    by_office: dict[int, list[Outage]] = defaultdict(list)
    for outage in outages:
        for office in outage.offices.all():
            by_office[office.pk].append(outage)
    return dict(by_office)


@dataclass
class SlotAvailability:
    slot: Slot
    available: int


@dataclass
class DayAvailability:
    date: date
    status: str  # open | full | closed | outage
    reason: str
    slots: list[SlotAvailability] = field(default_factory=list)
    # The day has just opened: requests until then go to its ballot (slots.services.ballot).
    ballot_until: datetime | None = None


def availability_for_office(
    *,
    offering: Offering,
    date_from: date,
    date_to: date,
    now: datetime | None = None,
    priority: bool = False,
) -> list[DayAvailability]:
    """Each day of [date_from, date_to] with its slots and the seats bookable now.

    Three queries whatever the range or the number of slots: slots, closures, outages.
    `priority` counts the seats held back for applicants moved by an outage.
    """
    now = now or timezone.now()
    tz = timezone.get_current_timezone()
    range_start = datetime.combine(date_from, time.min, tzinfo=tz)
    range_end = datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=tz)
    slots = list(
        Slot.objects.filter(
            office_id=offering.office_id,
            service_id=offering.service_id,
            starts_at__gte=range_start,
            starts_at__lt=range_end,
        )
        .order_by("starts_at")
        .only("id", "starts_at", "ends_at", "capacity", "booked", "held_offers", "priority_reserve")
    )
    closures = {}
    for closure in Closure.objects.filter(
        Q(service__isnull=True) | Q(service_id=offering.service_id),
        office_id=offering.office_id,
        date__range=(date_from, date_to),
    ):
        closures.setdefault(closure.date, closure)
    outages = list(
        outages_covering(
            office_id=offering.office_id,
            service_id=offering.service_id,
            start=range_start,
            end=range_end,
            now=now,
        ).only("id", "starts_at", "expected_end", "resolved_at", "reason", "reason_hi")
    )
    cutoff = booking_cutoff(now)
    horizon_end = booking_horizon_end(now)
    open_for_booking = offering.is_active and offering.office.is_active

    by_day: dict[date, list[Slot]] = defaultdict(list)
    for slot in slots:
        by_day[timezone.localdate(slot.starts_at)].append(slot)

    days = []
    day = date_from
    while day <= date_to:
        closure = closures.get(day)
        day_slots = [] if closure else by_day.get(day, [])
        entries = []
        outage_reason = ""
        for slot in day_slots:
            down = next(
                (
                    o
                    for o in outages
                    if o.starts_at < slot.ends_at and o.window_end_at(now) > slot.starts_at
                ),
                None,
            )
            if down is not None:
                outage_reason = outage_reason or down.display_reason
            bookable = open_for_booking and down is None and cutoff <= slot.starts_at < horizon_end
            available = bookable_seats(slot=slot, now=now, priority=priority) if bookable else 0
            entries.append(SlotAvailability(slot=slot, available=available))
        if closure is not None:
            status, reason = "closed", closure.display_reason
        elif not entries:
            status, reason = "closed", ""
        elif any(e.available for e in entries):
            status, reason = "open", outage_reason
        elif outage_reason:
            status, reason = "outage", outage_reason
        else:
            status, reason = "full", ""
        ballot_until = ballot_open_until(day=day, now=now) if status == "open" else None
        days.append(
            DayAvailability(
                date=day, status=status, reason=reason, slots=entries, ballot_until=ballot_until
            )
        )
        day += timedelta(days=1)
    return days


# --- Day sheet ---------------------------------------------------------------------------


@dataclass
class DaySheetCounts:
    booked: int = 0
    waiting: int = 0
    attended: int = 0
    no_show: int = 0
    priority: int = 0

    def add(self, booking: Booking) -> None:
        self.booked += 1
        self.waiting += booking.status == Booking.Status.CONFIRMED
        self.attended += booking.status == Booking.Status.ATTENDED
        self.no_show += booking.status == Booking.Status.NO_SHOW
        self.priority += booking.priority


@dataclass
class DaySheetSlot:
    slot: Slot
    bookings: list[Booking] = field(default_factory=list)
    counts: DaySheetCounts = field(default_factory=DaySheetCounts)


@dataclass
class DaySheet:
    office: Office
    service: Service
    date: date
    slots: list[DaySheetSlot] = field(default_factory=list)
    totals: DaySheetCounts = field(default_factory=DaySheetCounts)
    # Booked for this day but held by an open-ended outage: they hold no seat and were told not
    # to come ("On hold: do not expect today"), in their original slot's order.
    held: list[Booking] = field(default_factory=list)


def day_sheet(*, office: Office, service: Service, day: date) -> DaySheet:
    """Every slot of the office × service on the local `day`, each with its seat-holding
    bookings, priority applicants first, then in booking order; and apart, the bookings of the
    day that an outage holds (`held`). Two queries."""
    tz = timezone.get_current_timezone()
    start = datetime.combine(day, time.min, tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)
    sheet = DaySheet(office=office, service=service, date=day)
    by_slot: dict[int, DaySheetSlot] = {}
    for slot in Slot.objects.filter(
        office=office, service=service, starts_at__gte=start, starts_at__lt=end
    ).order_by("starts_at", "pk"):
        by_slot[slot.pk] = DaySheetSlot(slot=slot)
        sheet.slots.append(by_slot[slot.pk])
    bookings = (
        Booking.objects.filter(
            slot_id__in=list(by_slot),
            status__in=(*Booking.SEAT_HOLDING, Booking.Status.ON_HOLD),
            service=service,
        )
        .select_related("applicant", "slot")
        .order_by("-priority", "created_at", "pk")
    )
    for booking in bookings:
        if booking.status == Booking.Status.ON_HOLD:
            sheet.held.append(booking)
            continue
        row = by_slot[booking.slot_id]
        row.bookings.append(booking)
        row.counts.add(booking)
        sheet.totals.add(booking)
    sheet.held.sort(key=lambda booking: (booking.slot.starts_at, booking.created_at, booking.pk))
    return sheet


# --- Call list ---------------------------------------------------------------------------


# The messages that tell of an outage: one that did not reach its applicant puts them on the
# call list.
OUTAGE_MESSAGE_KINDS = (
    Notification.Kind.RESCHEDULED_OUTAGE,
    Notification.Kind.ON_HOLD,
    Notification.Kind.NEEDS_NEW_SLOT,
    Notification.Kind.SERVICE_RESTORED,
)


@dataclass
class CallListEntry:
    booking: Booking
    why: str  # the outage's reason, or why the SMS did not reach them (language of the page)
    licence_last_day: date | None  # a driving test's last possible day, when that is why
    unreached: bool = False  # an outage's SMS was not delivered and no e-mail could go


def call_list(*, office: Office, service: Service | None = None) -> list[CallListEntry]:
    """Whom the office calls, earliest original time first (four queries):

    * bookings that need a new slot (an outage found them none, or none inside the learner
      licence's window);
    * upcoming active bookings whose applicant an outage's SMS did not reach (the gateway
      reported it undelivered or expired) and who has no e-mail address to fall back to.
    """
    bookings = (
        Booking.objects.filter(office=office, status=Booking.Status.NEEDS_NEW_SLOT)
        .select_related("applicant", "service", "slot")
        .prefetch_related(
            Prefetch(
                "events",
                queryset=BookingEvent.objects.filter(kind=BookingEvent.Kind.NEEDS_NEW_SLOT)
                .select_related("outage")
                .order_by("-at", "-pk"),
                to_attr="stranding",
            )
        )
    )
    undelivered = Notification.objects.filter(
        booking_id=OuterRef("pk"),
        channel=Notification.Channel.SMS,
        kind__in=OUTAGE_MESSAGE_KINDS,
        delivery__in=(Notification.Delivery.UNDELIVERED, Notification.Delivery.EXPIRED),
    )
    unreached = (
        Booking.objects.filter(
            office=office, status__in=Booking.ACTIVE, slot__ends_at__gt=timezone.now()
        )
        .exclude(status=Booking.Status.NEEDS_NEW_SLOT)
        .filter(Exists(undelivered), applicant__email="")
        .select_related("applicant", "service", "slot")
    )
    if service is not None:
        bookings, unreached = bookings.filter(service=service), unreached.filter(service=service)
    entries = []
    for booking in bookings:
        event = booking.stranding[0] if booking.stranding else None
        why = event.outage.display_reason if event and event.outage_id else ""
        last = None
        issued = booking.applicant.learner_licence_issued_on
        if booking.service.slug == Service.DRIVING_TEST and issued is not None:
            last = licence_window(learner_issued_on=issued)[1]
        entries.append(CallListEntry(booking=booking, why=why, licence_last_day=last))
    for booking in unreached:
        entries.append(
            CallListEntry(
                booking=booking,
                why=gettext("The SMS about the outage was not delivered, and there is no e-mail."),
                licence_last_day=None,
                unreached=True,
            )
        )
    entries.sort(key=lambda e: (e.booking.slot.starts_at, e.booking.created_at, e.booking.pk))
    return entries


def waitlist_position(*, entry) -> int | None:
    """Where a waiting entry stands in its office × service's list (1: next to be offered a
    seat); None once it is not waiting. Outage-displaced entries come first, then by when
    they joined — the order `offers_make` serves."""
    from slots.models import WaitlistEntry

    if entry.state != WaitlistEntry.State.WAITING:
        return None
    queue = WaitlistEntry.objects.filter(
        office_id=entry.office_id, service_id=entry.service_id, state=WaitlistEntry.State.WAITING
    )
    displaced_ahead = (
        0 if entry.displaced_by_outage else queue.filter(displaced_by_outage=True).count()
    )
    same_rank_ahead = queue.filter(displaced_by_outage=entry.displaced_by_outage).filter(
        Q(created_at__lt=entry.created_at) | Q(created_at=entry.created_at, pk__lt=entry.pk)
    )
    return displaced_ahead + same_rank_ahead.count() + 1


def waitlist_entries_for_applicant(*, applicant, open_only: bool = False) -> list:
    """The applicant's waiting-list entries, newest first, each with its `position`."""
    from slots.models import WaitlistEntry

    entries = WaitlistEntry.objects.select_related("office", "service").filter(applicant=applicant)
    if open_only:
        entries = entries.filter(state__in=WaitlistEntry.OPEN)
    rows = list(entries.order_by("-created_at", "-id"))
    for entry in rows:
        entry.position = waitlist_position(entry=entry)
    return rows


def offers_for_applicant(*, applicant, open_only: bool = False) -> list:
    """The applicant's offers, newest first, with their slot, office and service."""
    from slots.models import Offer

    offers = Offer.objects.select_related("slot", "slot__office", "slot__service").filter(
        applicant=applicant
    )
    if open_only:
        offers = offers.filter(state=Offer.State.OPEN)
    return list(offers.order_by("-created_at", "-id"))


# --- No-show rates ------------------------------------------------------------------------


@dataclass
class NoShowCell:
    attended: int = 0
    no_shows: int = 0

    @property
    def seen(self) -> int:
        return self.attended + self.no_shows

    @property
    def rate(self) -> float | None:
        """No-shows ÷ (attended + no-shows); None when nobody was due (a "—" on the page)."""
        return self.no_shows / self.seen if self.seen else None

    @property
    def percent(self) -> int | None:
        return None if self.rate is None else round(self.rate * 100)


@dataclass
class NoShowRow:
    service: Service
    cells: list[NoShowCell]  # one per week of `NoShowTable.weeks`, oldest first


@dataclass
class NoShowTable:
    office: Office
    weeks: list[date]  # the Mondays (India time), oldest first
    rows: list[NoShowRow] = field(default_factory=list)


def no_show_rates(
    *, office_ids: Iterable[int] | None, weeks: int = 8, today: date | None = None
) -> list[NoShowTable]:
    """Attended and missed appointments per office × service × ISO week (Monday-based, India
    time) over the last `weeks` weeks, this one included; `office_ids` None means every office.

    One aggregate query (office and service names joined in): the tables hold only offices and
    services with an attended or missed appointment in those weeks, in code / display order.
    """
    today = today or timezone.localdate()
    tz = timezone.get_current_timezone()
    first_monday = today - timedelta(days=today.weekday()) - timedelta(weeks=weeks - 1)
    mondays = [first_monday + timedelta(weeks=n) for n in range(weeks)]
    start = datetime.combine(first_monday, time.min, tzinfo=tz)
    end = datetime.combine(mondays[-1] + timedelta(weeks=1), time.min, tzinfo=tz)
    bookings = Booking.objects.filter(
        status__in=(Booking.Status.ATTENDED, Booking.Status.NO_SHOW),
        slot__starts_at__gte=start,
        slot__starts_at__lt=end,
    )
    if office_ids is not None:
        bookings = bookings.filter(office_id__in=list(office_ids))
    rows = (
        bookings.order_by()
        .annotate(week=TruncWeek("slot__starts_at", tzinfo=tz))
        .values(
            "week",
            "office_id",
            "office__code",
            "office__name",
            "office__name_hi",
            "service_id",
            "service__slug",
            "service__name",
            "service__name_hi",
            "service__sort_order",
        )
        .annotate(
            attended=Count("pk", filter=Q(status=Booking.Status.ATTENDED)),
            no_shows=Count("pk", filter=Q(status=Booking.Status.NO_SHOW)),
        )
    )
    week_index = {monday: n for n, monday in enumerate(mondays)}
    tables: dict[int, NoShowTable] = {}
    by_service: dict[tuple[int, int], NoShowRow] = {}
    for row in rows:
        table = tables.get(row["office_id"])
        if table is None:
            office = Office(
                pk=row["office_id"],
                code=row["office__code"],
                name=row["office__name"],
                name_hi=row["office__name_hi"],
            )
            table = tables[row["office_id"]] = NoShowTable(office=office, weeks=mondays)
        key = (row["office_id"], row["service_id"])
        service_row = by_service.get(key)
        if service_row is None:
            service = Service(
                pk=row["service_id"],
                slug=row["service__slug"],
                name=row["service__name"],
                name_hi=row["service__name_hi"],
                sort_order=row["service__sort_order"],
            )
            service_row = by_service[key] = NoShowRow(
                service=service, cells=[NoShowCell() for _ in mondays]
            )
            table.rows.append(service_row)
        cell = service_row.cells[week_index[timezone.localtime(row["week"], tz).date()]]
        cell.attended += row["attended"]
        cell.no_shows += row["no_shows"]
    for table in tables.values():
        table.rows.sort(key=lambda r: (r.service.sort_order, r.service.slug))
    return sorted(tables.values(), key=lambda t: t.office.code)
