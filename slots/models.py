"""Capacity and time: offices, services, sessions, slots, bookings and outages.

The invariants of DESIGN.md live here as database constraints, so that PostgreSQL has the last
word whatever the Python code above it does:

* `slot_booked_within_capacity`: 0 <= booked <= capacity;
* `slot_priority_reserve_within_capacity`: 0 <= priority_reserve <= capacity;
* `slot_unique_offering_start`: one slot per offering and start;
* `booking_one_active_per_applicant_service`: a partial unique index over active bookings;
* `slot_booked_and_offers_within_capacity`: booked + held_offers <= capacity (invariant 11);
* `waitlist_one_open_per_applicant_service`, `offer_one_open_per_entry`: partial unique indexes.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import get_language, gettext, pgettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from rto_booking.formats import format_date, format_day_month_time
from slots.outage_reasons import outage_reason_hi_default


def _when(value) -> str:
    """A time as a person reads it in the active language: "2 December 10:00" / "2 दिसंबर
    10:00" (India time, 24-hour: rto_booking.formats, as the pages and messages write it)."""
    return format_day_month_time(value)


def _day(value) -> str:
    """A date as a person reads it: "2 December 2026" / "2 दिसंबर 2026"."""
    return format_date(value)


class BilingualNameMixin:
    """`display_name` picks the Hindi name when the active language is Hindi."""

    name: str
    name_hi: str

    @property
    def display_name(self) -> str:
        if (get_language() or "en").startswith("hi") and self.name_hi:
            return self.name_hi
        return self.name


class Office(BilingualNameMixin, models.Model):
    code = models.CharField(
        _("RTO code"), max_length=10, unique=True, help_text=_("For example MP-04.")
    )
    name = models.CharField(_("name (English)"), max_length=120)
    name_hi = models.CharField(_("name (Hindi)"), max_length=120)
    district = models.CharField(_("district"), max_length=80)
    district_hi = models.CharField(_("district (Hindi)"), max_length=80, blank=True)
    state = models.CharField(
        pgettext_lazy("part of India", "state"), max_length=80, default="Madhya Pradesh"
    )
    address = models.TextField(_("address"), blank=True)
    address_hi = models.TextField(_("address (Hindi)"), blank=True)
    is_active = models.BooleanField(_("taking bookings"), default=True)
    clerks = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        related_name="offices",
        blank=True,
        verbose_name=_("clerks"),
        help_text=_("Staff users who may act on this office in the admin and the API."),
    )

    class Meta:
        ordering = ["code"]
        verbose_name = _("office")
        verbose_name_plural = _("offices")

    def __str__(self) -> str:
        # In the active language: the admin's lists, filters and action log are read by a
        # clerk who may read Hindi.
        return f"{self.code} {self.display_name}"

    @property
    def display_district(self) -> str:
        if (get_language() or "en").startswith("hi") and self.district_hi:
            return self.district_hi
        return self.district

    @property
    def display_address(self) -> str:
        if (get_language() or "en").startswith("hi") and self.address_hi:
            return self.address_hi
        return self.address


class Service(BilingualNameMixin, models.Model):
    LEARNER_TEST = "learner-test"
    DRIVING_TEST = "driving-test"
    PHOTO_BIOMETRICS = "photo-biometrics"
    DOCUMENT_VERIFICATION = "document-verification"

    slug = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name (English)"), max_length=120)
    name_hi = models.CharField(_("name (Hindi)"), max_length=120)
    slot_minutes = models.PositiveSmallIntegerField(_("slot length (minutes)"), default=30)
    sort_order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["sort_order", "slug"]
        verbose_name = _("service")
        verbose_name_plural = _("services")
        constraints = [
            models.CheckConstraint(
                condition=Q(slot_minutes__gt=0), name="service_slot_minutes_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.display_name


class Offering(models.Model):
    """A service as offered at one office; its weekly sessions make its slots."""

    office = models.ForeignKey(
        Office, on_delete=models.PROTECT, related_name="offerings", verbose_name=_("office")
    )
    service = models.ForeignKey(
        Service, on_delete=models.PROTECT, related_name="offerings", verbose_name=_("service")
    )
    is_active = models.BooleanField(_("taking bookings"), default=True)

    class Meta:
        ordering = ["office__code", "service__sort_order"]
        verbose_name = _("offering")
        verbose_name_plural = _("offerings")
        constraints = [
            models.UniqueConstraint(
                fields=["office", "service"], name="offering_unique_office_service"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.office.code} · {self.service.display_name}"


class WeeklySession(models.Model):
    """A recurring block of slots, e.g. Monday 10:00–13:30, 30-minute slots of 10 seats."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0, _("Monday")
        TUESDAY = 1, _("Tuesday")
        WEDNESDAY = 2, _("Wednesday")
        THURSDAY = 3, _("Thursday")
        FRIDAY = 4, _("Friday")
        SATURDAY = 5, _("Saturday")
        SUNDAY = 6, _("Sunday")

    offering = models.ForeignKey(
        Offering, on_delete=models.CASCADE, related_name="sessions", verbose_name=_("offering")
    )
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    start_time = models.TimeField(_("start"))
    end_time = models.TimeField(_("end"))
    slot_minutes = models.PositiveSmallIntegerField(_("slot length (minutes)"))
    seats_per_slot = models.PositiveSmallIntegerField(_("seats per slot"))
    priority_reserve = models.PositiveSmallIntegerField(
        _("seats held for priority"),
        default=0,
        help_text=_("Seats of each slot kept for applicants moved by an outage."),
    )

    class Meta:
        ordering = ["offering", "weekday", "start_time"]
        verbose_name = _("weekly session")
        verbose_name_plural = _("weekly sessions")
        constraints = [
            models.CheckConstraint(
                condition=Q(end_time__gt=models.F("start_time")),
                name="session_ends_after_start",
            ),
            models.CheckConstraint(
                condition=Q(slot_minutes__gt=0), name="session_slot_minutes_positive"
            ),
            models.CheckConstraint(
                condition=Q(priority_reserve__lte=models.F("seats_per_slot")),
                name="session_reserve_within_seats",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.offering} {self.get_weekday_display()} "
            f"{self.start_time:%H:%M}–{self.end_time:%H:%M}"
        )


class ExtraSession(models.Model):
    """A one-off block of slots on one date, e.g. recovery capacity after an outage."""

    offering = models.ForeignKey(
        Offering,
        on_delete=models.CASCADE,
        related_name="extra_sessions",
        verbose_name=_("offering"),
    )
    date = models.DateField(_("date"))
    start_time = models.TimeField(_("start"))
    end_time = models.TimeField(_("end"))
    slot_minutes = models.PositiveSmallIntegerField(_("slot length (minutes)"))
    seats_per_slot = models.PositiveSmallIntegerField(_("seats per slot"))
    priority_reserve = models.PositiveSmallIntegerField(_("seats held for priority"), default=0)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        ordering = ["date", "start_time"]
        verbose_name = _("extra session")
        verbose_name_plural = _("extra sessions")
        constraints = [
            models.CheckConstraint(
                condition=Q(end_time__gt=models.F("start_time")),
                name="extra_session_ends_after_start",
            ),
            models.CheckConstraint(
                condition=Q(slot_minutes__gt=0), name="extra_session_slot_minutes_positive"
            ),
            models.CheckConstraint(
                condition=Q(priority_reserve__lte=models.F("seats_per_slot")),
                name="extra_session_reserve_within_seats",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.offering} {_day(self.date)} {self.start_time:%H:%M}–{self.end_time:%H:%M}"


class Closure(models.Model):
    """A day an office (or one of its services) does not open: a holiday, a local closure."""

    office = models.ForeignKey(
        Office, on_delete=models.CASCADE, related_name="closures", verbose_name=_("office")
    )
    service = models.ForeignKey(
        Service,
        on_delete=models.CASCADE,
        related_name="closures",
        null=True,
        blank=True,
        verbose_name=_("service"),
        help_text=_("Leave empty to close every service of the office."),
    )
    date = models.DateField(_("date"))
    reason = models.CharField(_("reason (English)"), max_length=200)
    reason_hi = models.CharField(_("reason (Hindi)"), max_length=200, blank=True)

    class Meta:
        ordering = ["date", "office__code"]
        verbose_name = _("closure")
        verbose_name_plural = _("closures")
        constraints = [
            models.UniqueConstraint(
                fields=["office", "date"],
                condition=Q(service__isnull=True),
                name="closure_unique_office_day",
            ),
            models.UniqueConstraint(
                fields=["office", "service", "date"],
                condition=Q(service__isnull=False),
                name="closure_unique_office_service_day",
            ),
        ]
        indexes = [models.Index(fields=["office", "date"], name="closure_office_date")]

    def __str__(self) -> str:
        return f"{self.office.code} {_day(self.date)}: {self.display_reason}"

    @property
    def display_reason(self) -> str:
        if (get_language() or "en").startswith("hi") and self.reason_hi:
            return self.reason_hi
        return self.reason


class Slot(models.Model):
    """One bookable time at one office for one service.

    `booked` is a counter kept equal to the number of seat-holding bookings in the slot (see
    `Booking.SEAT_HOLDING`); it is only ever changed by conditional UPDATEs in the services,
    and the CHECK constraint below is the backstop that makes overbooking impossible.
    """

    offering = models.ForeignKey(
        Offering, on_delete=models.PROTECT, related_name="slots", verbose_name=_("offering")
    )
    # Denormalised from the offering: the hot queries (availability, outage scope, booking)
    # filter by office and service without a join.
    office = models.ForeignKey(
        Office, on_delete=models.PROTECT, related_name="slots", verbose_name=_("office")
    )
    service = models.ForeignKey(
        Service, on_delete=models.PROTECT, related_name="slots", verbose_name=_("service")
    )
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    capacity = models.PositiveIntegerField(_("capacity"))
    booked = models.PositiveIntegerField(_("booked"), default=0)
    priority_reserve = models.PositiveIntegerField(_("seats held for priority"), default=0)
    # Seats held for open waiting-list offers (DESIGN.md invariant 11): taken for everyone
    # else, not yet booked. Kept equal to the slot's open offers by the offer services.
    held_offers = models.PositiveIntegerField(_("seats held for offers"), default=0)

    class Meta:
        ordering = ["starts_at"]
        verbose_name = _("slot")
        verbose_name_plural = _("slots")
        constraints = [
            models.CheckConstraint(
                condition=Q(booked__gte=0) & Q(booked__lte=models.F("capacity")),
                name="slot_booked_within_capacity",
            ),
            models.CheckConstraint(
                condition=Q(held_offers__gte=0)
                & Q(held_offers__lte=models.F("capacity") - models.F("booked")),
                name="slot_booked_and_offers_within_capacity",
            ),
            models.CheckConstraint(
                condition=Q(priority_reserve__gte=0)
                & Q(priority_reserve__lte=models.F("capacity")),
                name="slot_priority_reserve_within_capacity",
            ),
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="slot_ends_after_start"
            ),
            models.UniqueConstraint(
                fields=["offering", "starts_at"], name="slot_unique_offering_start"
            ),
        ]
        indexes = [
            # Availability and rescheduling: office × service × time range.
            models.Index(fields=["office", "service", "starts_at"], name="slot_office_svc_start"),
        ]

    def __str__(self) -> str:
        # "Photo and biometrics, 2 December 10:00" / "फोटो और बायोमेट्रिक, 2 दिसंबर 10:00":
        # lists that show slots load the service with them (`list_select_related`).
        return f"{self.service.display_name}, {_when(self.starts_at)}"

    @property
    def free_seats(self) -> int:
        return self.capacity - self.booked - self.held_offers


class Booking(models.Model):
    class Status(models.TextChoices):
        CONFIRMED = "confirmed", _("Confirmed")
        NEEDS_NEW_SLOT = "needs_new_slot", _("Needs a new slot")
        CANCELLED = "cancelled", _("Cancelled")
        ATTENDED = "attended", _("Attended")
        NO_SHOW = "no_show", _("No-show")
        ON_HOLD = "on_hold", _("On hold")

    # Statuses that block a second booking for the same service (the partial unique index).
    ACTIVE = (Status.CONFIRMED, Status.NEEDS_NEW_SLOT, Status.ON_HOLD)
    # Statuses that occupy a seat of `slot`: exactly these are counted by `Slot.booked`.
    # A booking waiting for a new slot, or held by an open-ended outage (its `slot` is still the
    # original appointment), holds no seat; an attended or missed one used its seat.
    SEAT_HOLDING = (Status.CONFIRMED, Status.ATTENDED, Status.NO_SHOW)

    reference = models.CharField(_("reference"), max_length=16, unique=True)
    applicant = models.ForeignKey(
        "applicants.Applicant",
        on_delete=models.PROTECT,
        related_name="bookings",
        verbose_name=_("applicant"),
    )
    slot = models.ForeignKey(
        Slot, on_delete=models.PROTECT, related_name="bookings", verbose_name=_("slot")
    )
    office = models.ForeignKey(
        Office, on_delete=models.PROTECT, related_name="bookings", verbose_name=_("office")
    )
    service = models.ForeignKey(
        Service, on_delete=models.PROTECT, related_name="bookings", verbose_name=_("service")
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.CONFIRMED
    )
    priority = models.BooleanField(
        _("priority"), default=False, help_text=_("Moved by an outage: served first.")
    )
    self_reschedules = models.PositiveSmallIntegerField(_("self-service moves"), default=0)
    # The open-ended (or partial) outage that holds it, while `status` is on_hold.
    held_by = models.ForeignKey(
        "slots.Outage",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="held_bookings",
        verbose_name=_("held by outage"),
    )
    created_at = models.DateTimeField(_("booked at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    # When the applicant answered the reminder "I'll come" (slots.services.confirmations);
    # empty: not confirmed. It stands when the booking moves (the applicant was told).
    confirmed_at = models.DateTimeField(_("applicant confirmed at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("booking")
        verbose_name_plural = _("bookings")
        constraints = [
            models.UniqueConstraint(
                fields=["applicant", "service"],
                condition=Q(status__in=["confirmed", "needs_new_slot", "on_hold"]),
                name="booking_one_active_per_applicant_service",
            ),
        ]
        indexes = [
            models.Index(fields=["slot", "status"], name="booking_slot_status"),
            models.Index(fields=["applicant", "-created_at"], name="booking_applicant_recent"),
            models.Index(fields=["office", "status"], name="booking_office_status"),
            models.Index(
                fields=["held_by", "status"],
                condition=Q(held_by__isnull=False),
                name="booking_held_by",
            ),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def attendance(self) -> str:
        """What "My bookings" shows of "confirm or release": "confirmed" (the applicant said
        "I'll come"), "please_confirm" (a confirmed booking inside REMINDER_HOURS of its time,
        not answered yet), or "" (nothing to ask, or not yet)."""
        if self.status != self.Status.CONFIRMED:
            return ""
        if self.confirmed_at is not None:
            return "confirmed"
        now = timezone.now()
        ahead = self.slot.starts_at - now
        if timedelta(0) < ahead <= timedelta(hours=settings.REMINDER_HOURS):
            return "please_confirm"
        return ""


# The stored reason of the history rows an undo writes (slots.services.outage_undo); shown
# translated, by `BookingEvent.display_reason`.
FALSE_ALARM_REASON = "false alarm"


class BookingEvent(models.Model):
    """Append-only history of a booking: what happened, when, and why."""

    class Kind(models.TextChoices):
        BOOKED = "booked", _("Booked")
        RESCHEDULED = "rescheduled", _("Rescheduled")
        NEEDS_NEW_SLOT = "needs_new_slot", _("Needs a new slot")
        CANCELLED = "cancelled", _("Cancelled")
        ATTENDED = "attended", _("Attended")
        NO_SHOW = "no_show", _("No-show")
        RESTORED = "restored", _("Service restored")
        ON_HOLD = "on_hold", _("On hold")
        # The applicant answered the reminder "I'll come".
        CONFIRMED = "confirmed", _("Confirmed by the applicant")
        # Cancelled by the system: not confirmed after the last call (RELEASE_UNCONFIRMED).
        RELEASED = "released", _("Released: not confirmed")

    class Actor(models.TextChoices):
        APPLICANT = "applicant", _("Applicant")
        STAFF = "staff", _("Staff")
        SYSTEM = "system", _("System")

    booking = models.ForeignKey(
        Booking, on_delete=models.CASCADE, related_name="events", verbose_name=_("booking")
    )
    at = models.DateTimeField(_("at"), default=timezone.now)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    actor = models.CharField(_("by"), max_length=10, choices=Actor.choices)
    # Who did it when it was staff: the clerk in the admin or behind the staff API.
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("staff user"),
    )
    from_slot = models.ForeignKey(
        Slot,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        verbose_name=_("from slot"),
    )
    to_slot = models.ForeignKey(
        Slot,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        verbose_name=_("to slot"),
    )
    from_starts_at = models.DateTimeField(
        pgettext_lazy("time of a booking before the event", "from"), null=True, blank=True
    )
    to_starts_at = models.DateTimeField(
        pgettext_lazy("time of a booking after the event", "to"), null=True, blank=True
    )
    outage = models.ForeignKey(
        "slots.Outage",
        on_delete=models.PROTECT,
        related_name="events",
        null=True,
        blank=True,
        verbose_name=_("outage"),
    )
    # The outage's `revision` (its plan) this event was written under; 0 for events that name
    # no outage, and for those written before revisions existed (also the column's default in
    # the database, for statements that do not name it).
    outage_revision = models.PositiveIntegerField(default=0, db_default=0)
    reason = models.CharField(_("reason"), max_length=300, blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("booking event")
        verbose_name_plural = _("booking events")
        constraints = [
            # One plan of an outage (one `Outage.revision`) moves, holds or places a booking at
            # most once from a given slot: re-running the task for the same plan can never
            # write the same move twice. A changed plan (a new expected end, until further
            # notice again, resolved, undone) is a new revision, and may legitimately do the
            # same thing again: held from slot 6 while open-ended, placed back in 6 once the end
            # is known, held from 6 again when the end becomes unknown once more.
            models.UniqueConstraint(
                fields=["booking", "outage", "outage_revision", "from_slot", "kind"],
                condition=Q(outage__isnull=False),
                name="event_unique_outage_move",
            ),
        ]
        indexes = [models.Index(fields=["outage", "kind"], name="event_outage_kind")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}, {_when(self.at)}"

    @property
    def is_false_alarm(self) -> bool:
        """The event belongs to an outage undone as a false alarm: the undo's own rows (moved
        back, or "restored" for those who stayed), or the outage's earlier move or hold when
        read with `outage_undone` (`slots.selectors.booking_events_with_undone`)."""
        return self.reason == FALSE_ALARM_REASON or bool(getattr(self, "outage_undone", False))

    @property
    def is_false_alarm_undo(self) -> bool:
        """The row the undo itself wrote (not the outage's move it took back)."""
        return self.reason == FALSE_ALARM_REASON

    @property
    def display_reason(self) -> str:
        """The reason as history shows it (API, applicant page, admin): "false alarm" in the
        reader's language for an undone outage's rows, else the stored reason."""
        return gettext("false alarm") if self.is_false_alarm else self.reason


def hold_horizon(now):
    """How far ahead an open-ended outage holds bookings (DESIGN.md, "Outages as they really
    happen"): the window it blocks as of `now`."""
    return now + timedelta(hours=settings.OUTAGE_HOLD_HOURS)


class OutageQuerySet(models.QuerySet):
    def active(self, at=None):
        """Outages not resolved at `at` (default now)."""
        at = at or timezone.now()
        return self.filter(Q(resolved_at__isnull=True) | Q(resolved_at__gt=at))

    def blocking(self, *, start, end, now):
        """Unresolved outages that close [start, end) to new bookings as of `now`: the service
        down (not partial: a partial outage's slots stay bookable at reduced capacity), with
        a known end after `start`, or open-ended with the hold horizon after `start`."""
        ends = Q(expected_end__gt=start)
        if hold_horizon(now) > start:
            ends |= Q(expected_end__isnull=True)
        return self.filter(ends, resolved_at__isnull=True, capacity_percent=0, starts_at__lt=end)


class Outage(models.Model):
    """A service down at one or more offices, from `starts_at` until it is resolved.

    While unresolved, the window is [starts_at, expected_end): no new bookings there, and every
    booking in it is moved. Once resolved, the window is [starts_at, resolved_at).
    Open-ended (`expected_end` null, "until further notice"): the window is the hold horizon,
    [starts_at, now + OUTAGE_HOLD_HOURS), rolling while it lasts; its bookings are put on hold.
    Partial (`capacity_percent` 1–99): the service runs at that share of each slot's seats in
    the window; the slots stay bookable at their reduced capacity and only the overflow moves.
    Every change of that plan is a new `revision`.
    """

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    offices = models.ManyToManyField(Office, related_name="outages", verbose_name=_("offices"))
    services = models.ManyToManyField(
        Service,
        related_name="outages",
        blank=True,
        verbose_name=_("services"),
        help_text=_("Leave empty when every service is down."),
    )
    starts_at = models.DateTimeField(_("down since"), default=timezone.now)
    expected_end = models.DateTimeField(
        _("expected back"), null=True, blank=True, help_text=_("Empty: until further notice.")
    )
    capacity_percent = models.PositiveSmallIntegerField(
        _("share of seats that still run (per cent)"),
        default=0,
        help_text=_("0: the service is down. 1–99: it runs at that share of each slot's seats."),
    )
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=300)
    reason_hi = models.CharField(_("reason (Hindi)"), max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("recorded by"),
    )
    created_at = models.DateTimeField(_("recorded at"), default=timezone.now)
    state = models.CharField(
        _("rescheduling"), max_length=10, choices=State.choices, default=State.QUEUED
    )
    affected = models.PositiveIntegerField(_("affected"), default=0)
    moved = models.PositiveIntegerField(_("moved"), default=0)
    needs_new_slot = models.PositiveIntegerField(_("need a new slot"), default=0)
    on_hold = models.PositiveIntegerField(_("on hold"), default=0)
    notified = models.PositiveIntegerField(_("notified"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    # The plan's version: incremented, in the same transaction, by every service that changes
    # what the rescheduling does (outage_extend when the expected end changes, outage_resolve,
    # outage_undo). A run works for the revision it read and stops when it changes; its history
    # rows carry it (`BookingEvent.outage_revision`, the unique `event_unique_outage_move`).
    revision = models.PositiveIntegerField(default=0, db_default=0, editable=False)
    run_started_at = models.DateTimeField(_("run started at"), null=True, blank=True)
    run_finished_at = models.DateTimeField(_("run finished at"), null=True, blank=True)

    objects = OutageQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_at", "-id"]
        verbose_name = _("outage")
        verbose_name_plural = _("outages")
        constraints = [
            models.CheckConstraint(
                condition=Q(expected_end__isnull=True) | Q(expected_end__gt=models.F("starts_at")),
                name="outage_ends_after_start",
            ),
            models.CheckConstraint(
                condition=Q(capacity_percent__lte=99), name="outage_capacity_percent_range"
            ),
        ]
        indexes = [models.Index(fields=["resolved_at", "state"], name="outage_open_state")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.display_reason} ({_when(self.starts_at)})"

    @property
    def window_end(self):
        """Where the outage window ends: resolution if it came, else the expected end (None
        for an open-ended outage: see `window_end_at`)."""
        return self.resolved_at if self.resolved_at else self.expected_end

    def window_end_at(self, now):
        """Where the window ends as of `now`: the resolution, the expected end, or for an
        open-ended outage the hold horizon (now + OUTAGE_HOLD_HOURS)."""
        return self.window_end or hold_horizon(now)

    @property
    def is_open_ended(self) -> bool:
        return self.expected_end is None

    @property
    def is_partial(self) -> bool:
        return self.capacity_percent > 0

    def reduced(self, capacity: int) -> int:
        """A slot's seats inside this (partial) outage's window."""
        return capacity * self.capacity_percent // 100

    def is_active(self, at=None) -> bool:
        at = at or timezone.now()
        return self.resolved_at is None or self.resolved_at > at

    @property
    def display_reason(self) -> str:
        """The reason in the active language; in Hindi never the English text (an outage
        recorded without `reason_hi` shows the standard Hindi phrase, or "technical fault")."""
        if (get_language() or "en").startswith("hi"):
            return self.reason_hi or outage_reason_hi_default(reason=self.reason, service_slugs=())
        return self.reason


class OutageSeatCut(models.Model):
    """Seats a partial outage took from one slot of its window, to give back on resolving.

    One row per (outage, slot), written in the chunk that cut the slot's `capacity` (and its
    priority reserve) to the outage's share: `seats` and `reserve` are what was taken. Deleted
    when they are given back (the outage resolved, or shortened before the slot).
    """

    outage = models.ForeignKey("Outage", on_delete=models.CASCADE, related_name="seat_cuts")
    slot = models.ForeignKey(Slot, on_delete=models.CASCADE, related_name="+")
    seats = models.PositiveIntegerField()
    reserve = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["outage", "slot"], name="seat_cut_unique_slot"),
        ]

    def __str__(self) -> str:
        return f"{self.outage_id}:{self.slot_id} -{self.seats}"


class OutageEvent(models.Model):
    """Append-only history of an outage: what happened to it, when, and who did it."""

    class Kind(models.TextChoices):
        DECLARED = "declared", _("Declared")
        EXTENDED = "extended", _("Expected end changed")
        RESOLVED = "resolved", _("Resolved")
        UNDONE = "undone", _("Undone as a false alarm")

    outage = models.ForeignKey("Outage", on_delete=models.CASCADE, related_name="history")
    at = models.DateTimeField(_("at"), default=timezone.now)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    expected_end_before = models.DateTimeField(_("expected end before"), null=True, blank=True)
    expected_end_after = models.DateTimeField(_("expected end after"), null=True, blank=True)
    # What else the event needs to be told in words, e.g. {"closure": "2026-12-05"} or
    # {"moved_back": 12, "stayed": 3}: rendered in the reader's language when shown.
    details = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("outage event")
        verbose_name_plural = _("outage events")

    def __str__(self) -> str:
        return f"{self.get_kind_display()}, {_when(self.at)}"


class IdempotencyKey(models.Model):
    """The first answer to a booking request carrying an `Idempotency-Key` header.

    Unique per applicant and key, so concurrent retries race on the INSERT and every loser
    reads the winner's answer instead of booking again.
    """

    applicant = models.ForeignKey(
        "applicants.Applicant", on_delete=models.CASCADE, related_name="+"
    )
    key = models.CharField(max_length=100)
    request_fingerprint = models.CharField(max_length=64)
    booking = models.ForeignKey(
        Booking, on_delete=models.CASCADE, related_name="+", null=True, blank=True
    )
    status_code = models.PositiveSmallIntegerField()
    response_body = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["applicant", "key"], name="idempotency_unique_applicant_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.applicant_id}:{self.key}"


class WaitlistEntry(models.Model):
    """An applicant waiting for a seat of one service at one office between two dates.

    Open (waiting or offered) at most once per applicant and service: a partial unique index.
    Served in order: applicants displaced by an outage first, then by `created_at`.
    """

    class State(models.TextChoices):
        WAITING = "waiting", _("Waiting")
        OFFERED = "offered", _("Offered a seat")
        BOOKED = "booked", _("Booked")
        EXPIRED = "expired", _("Expired")
        LEFT = "left", _("Left the list")

    OPEN = (State.WAITING, State.OFFERED)

    applicant = models.ForeignKey(
        "applicants.Applicant",
        on_delete=models.CASCADE,
        related_name="waitlist_entries",
        verbose_name=_("applicant"),
    )
    office = models.ForeignKey(
        Office, on_delete=models.PROTECT, related_name="waitlist_entries", verbose_name=_("office")
    )
    service = models.ForeignKey(
        Service,
        on_delete=models.PROTECT,
        related_name="waitlist_entries",
        verbose_name=_("service"),
    )
    date_from = models.DateField(pgettext_lazy("first day", "from"))
    date_to = models.DateField(pgettext_lazy("last day", "to"))
    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.WAITING
    )
    displaced_by_outage = models.BooleanField(
        _("displaced by an outage"),
        default=False,
        help_text=_("Served before the others: an outage took this applicant's booking."),
    )
    created_at = models.DateTimeField(_("joined at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-displaced_by_outage", "created_at", "id"]
        verbose_name = _("waiting-list entry")
        verbose_name_plural = _("waiting list")
        constraints = [
            models.UniqueConstraint(
                fields=["applicant", "service"],
                condition=Q(state__in=["waiting", "offered"]),
                name="waitlist_one_open_per_applicant_service",
            ),
            models.CheckConstraint(
                condition=Q(date_to__gte=models.F("date_from")), name="waitlist_range_ordered"
            ),
        ]
        indexes = [
            # The queue: waiting entries of an office and service, in serving order.
            models.Index(
                fields=["office", "service", "-displaced_by_outage", "created_at"],
                condition=Q(state="waiting"),
                name="waitlist_queue",
            ),
        ]

    def __str__(self) -> str:
        # Read in the admin's lists and log: the service (by name) and the state in words.
        return pgettext("waiting-list entry", "%(service)s, %(state)s") % {
            "service": self.service.display_name,
            "state": self.get_state_display(),
        }

    @property
    def is_open(self) -> bool:
        return self.state in self.OPEN


class Offer(models.Model):
    """A seat of `slot` held for one waiting-list entry until `expires_at`.

    While open it counts in `Slot.held_offers`; at most one open offer per entry.
    """

    class State(models.TextChoices):
        OPEN = "open", _("Open")
        ACCEPTED = "accepted", _("Accepted")
        DECLINED = "declined", _("Declined")
        EXPIRED = "expired", _("Expired")

    entry = models.ForeignKey(
        WaitlistEntry,
        on_delete=models.CASCADE,
        related_name="offers",
        verbose_name=_("waiting-list entry"),
    )
    slot = models.ForeignKey(
        Slot, on_delete=models.PROTECT, related_name="offers", verbose_name=_("slot")
    )
    applicant = models.ForeignKey(
        "applicants.Applicant",
        on_delete=models.CASCADE,
        related_name="offers",
        verbose_name=_("applicant"),
    )
    expires_at = models.DateTimeField(_("expires at"))
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.OPEN)
    booking = models.ForeignKey(
        Booking,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("booking"),
    )
    created_at = models.DateTimeField(_("offered at"), default=timezone.now)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("offer")
        verbose_name_plural = _("offers")
        constraints = [
            models.UniqueConstraint(
                fields=["entry"], condition=Q(state="open"), name="offer_one_open_per_entry"
            ),
        ]
        indexes = [
            models.Index(fields=["expires_at"], condition=Q(state="open"), name="offer_open_due"),
            models.Index(fields=["slot", "state"], name="offer_slot_state"),
        ]

    def __str__(self) -> str:
        return pgettext("offer", "Offer: %(slot)s (%(state)s)") % {
            "slot": self.slot,
            "state": self.get_state_display(),
        }


class BallotEntry(models.Model):
    """A request for a seat of a day in its first minutes of booking (RELEASE_BALLOT_MINUTES):
    collected until `closes_at`, then drawn in random order among distinct applicants.

    One per applicant, service and day (a unique constraint): asking again, from any number
    of clients, changes nothing. Drawn, it is `won` (its booking) or `lost` (its waiting-list
    entry, when one could be opened), or `void` when the applicant could no longer book
    (booked the service meanwhile, or its rules no longer allow it).
    """

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting for the draw")
        WON = "won", _("Drawn: booked")
        LOST = "lost", _("Not drawn")
        VOID = "void", _("Could not take part")

    applicant = models.ForeignKey(
        "applicants.Applicant", on_delete=models.CASCADE, related_name="ballot_entries"
    )
    office = models.ForeignKey(Office, on_delete=models.PROTECT, related_name="ballot_entries")
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="ballot_entries")
    day = models.DateField(_("day"))
    # The time asked for; a drawn applicant whose time is full gets the nearest free one.
    slot = models.ForeignKey(Slot, on_delete=models.PROTECT, related_name="ballot_entries")
    closes_at = models.DateTimeField(_("ballot closes at"))
    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.PENDING
    )
    # Where it came out in the draw (1 = drawn first); empty until drawn.
    position = models.PositiveIntegerField(_("drawn as"), null=True, blank=True)
    booking = models.ForeignKey(
        Booking, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    waitlist_entry = models.ForeignKey(
        WaitlistEntry, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    why = models.CharField(_("why"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("asked at"), default=timezone.now)
    drawn_at = models.DateTimeField(_("drawn at"), null=True, blank=True)

    class Meta:
        ordering = ["-day", "office", "service", "position", "id"]
        verbose_name = _("ballot request")
        verbose_name_plural = _("ballot requests")
        constraints = [
            models.UniqueConstraint(
                fields=["applicant", "service", "day"], name="ballot_one_per_applicant_service_day"
            ),
        ]
        indexes = [
            # The draws due: pending requests whose ballot has closed.
            models.Index(fields=["closes_at"], condition=Q(state="pending"), name="ballot_due"),
            # One office × service's ballot of a day (a statewide midnight holds a hundred).
            models.Index(fields=["office", "service", "day", "position"], name="ballot_day"),
        ]

    def __str__(self) -> str:
        return pgettext("ballot", "Ballot request: %(service)s, %(day)s (%(state)s)") % {
            "service": self.service.display_name,
            "day": _day(self.day),
            "state": self.get_state_display(),
        }
