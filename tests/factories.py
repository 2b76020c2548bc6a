"""factory_boy factories for the domain models."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from itertools import cycle
from zoneinfo import ZoneInfo

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from applicants.models import Applicant
from slots.models import Offering, Office, Service, Slot, WeeklySession

IST = ZoneInfo("Asia/Kolkata")


class OfficeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Office
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"MP-{n + 50:02d}")
    name = factory.LazyAttribute(lambda o: f"RTO {o.code}")
    name_hi = factory.LazyAttribute(lambda o: f"आरटीओ {o.code}")
    district = "Test district"
    district_hi = "परीक्षण ज़िला"
    state = "Madhya Pradesh"


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"service-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())
    name_hi = factory.LazyAttribute(lambda o: f"सेवा {o.slug}")
    slot_minutes = 30


class OfferingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Offering
        django_get_or_create = ("office", "service")

    office = factory.SubFactory(OfficeFactory)
    service = factory.SubFactory(ServiceFactory)


class WeeklySessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WeeklySession

    offering = factory.SubFactory(OfferingFactory)
    weekday = 0
    start_time = time(10, 0)
    end_time = time(13, 30)
    slot_minutes = 30
    seats_per_slot = 10
    priority_reserve = 2


def local_dt(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=IST)


class SlotFactory(factory.django.DjangoModelFactory):
    """A slot two days ahead at 10:00 IST unless told otherwise."""

    class Meta:
        model = Slot

    offering = factory.SubFactory(OfferingFactory)
    office = factory.LazyAttribute(lambda o: o.offering.office)
    service = factory.LazyAttribute(lambda o: o.offering.service)
    starts_at = factory.LazyFunction(
        lambda: local_dt(datetime.now(IST).date() + timedelta(days=2), 10)
    )
    ends_at = factory.LazyAttribute(lambda o: o.starts_at + timedelta(minutes=30))
    capacity = 10
    booked = 0
    priority_reserve = 0


class ApplicantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Applicant

    application_number = factory.Sequence(lambda n: f"26{n:08d}")
    full_name = factory.Faker("name", locale="en_IN")
    date_of_birth = date(1995, 6, 15)
    mobile = factory.Sequence(lambda n: f"+9198{n:08d}")
    email = factory.LazyAttribute(lambda o: f"applicant{o.application_number}@example.in")
    preferred_language = "en"
    # Verified by default (the code entered): tests of booking need not enter codes. Tests of
    # verification make one with mobile_verified_at=None.
    mobile_verified_at = factory.LazyFunction(timezone.now)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@rto.example.in")
    is_staff = True
    password = factory.django.Password("password")


# --- Bookings, history and the notification outbox (added with the notifications app) -------
# Imported here rather than at the top so the factories above stay exactly as they were.
from notifications.models import Notification  # noqa: E402
from slots.models import Booking, BookingEvent  # noqa: E402


class BookingFactory(factory.django.DjangoModelFactory):
    """A confirmed booking. Counts a seat in its slot only if the test says so: factories do
    not keep `Slot.booked` in step (the services do)."""

    class Meta:
        model = Booking

    reference = factory.Sequence(lambda n: f"RTO{n:08d}X")
    applicant = factory.SubFactory(ApplicantFactory)
    slot = factory.SubFactory(SlotFactory)
    office = factory.LazyAttribute(lambda o: o.slot.office)
    service = factory.LazyAttribute(lambda o: o.slot.service)
    status = Booking.Status.CONFIRMED


class BookingEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BookingEvent

    booking = factory.SubFactory(BookingFactory)
    kind = BookingEvent.Kind.BOOKED
    actor = BookingEvent.Actor.APPLICANT
    to_slot = factory.LazyAttribute(lambda o: o.booking.slot)
    to_starts_at = factory.LazyAttribute(lambda o: o.booking.slot.starts_at)


class NotificationFactory(factory.django.DjangoModelFactory):
    """A pending SMS about a booking, with the context `message_rows_for_events` writes."""

    class Meta:
        model = Notification

    booking = factory.SubFactory(BookingFactory)
    event_key = factory.Sequence(lambda n: f"event:test-{n}")
    channel = Notification.Channel.SMS
    kind = Notification.Kind.BOOKING_CONFIRMED
    language = "en"
    recipient = factory.LazyAttribute(
        lambda o: (
            o.booking.applicant.mobile
            if o.channel == Notification.Channel.SMS
            else o.booking.applicant.email
        )
    )
    context = factory.LazyAttribute(
        lambda o: {
            "reference": o.booking.reference,
            "full_name": o.booking.applicant.full_name,
            "office": {
                "code": o.booking.office.code,
                "name": o.booking.office.name,
                "name_hi": o.booking.office.name_hi,
                "address": o.booking.office.address,
                "address_hi": o.booking.office.address_hi,
            },
            "service": {
                "slug": o.booking.service.slug,
                "name": o.booking.service.name,
                "name_hi": o.booking.service.name_hi,
            },
            "slot": {
                "starts_at": o.booking.slot.starts_at.isoformat(),
                "ends_at": o.booking.slot.ends_at.isoformat(),
            },
            "from_starts_at": None,
            "to_starts_at": None,
            "outage": None,
            "links": {"booking": f"http://127.0.0.1:8000/my/bookings/{o.booking.reference}/"},
        }
    )


def booked_in_bulk(applicants, slots, *, reference: str, batch_size: int = 2000):
    """A confirmed booking for each of `applicants`, over `slots` in turn, each with its BOOKED
    event, written with bulk inserts (benchmarks). The bookings hold their applicant, slot,
    office and service in memory (as loaded with the slots), the events their booking.
    Returns (bookings, events); the slots' counters are the caller's to set."""
    bookings = Booking.objects.bulk_create(
        [
            Booking(
                reference=f"{reference}{i:010d}",
                applicant=applicant,
                slot=slot,
                office=slot.office,
                service=slot.service,
            )
            for i, (applicant, slot) in enumerate(zip(applicants, cycle(slots)))
        ],
        batch_size=batch_size,
    )
    events = BookingEvent.objects.bulk_create(
        [
            BookingEvent(
                booking=booking,
                kind=BookingEvent.Kind.BOOKED,
                actor=BookingEvent.Actor.APPLICANT,
                to_slot=booking.slot,
                to_starts_at=booking.slot.starts_at,
            )
            for booking in bookings
        ],
        batch_size=batch_size,
    )
    return bookings, events


def daily_sessions(offering, *, start=(10, 0), end=(12, 0), seats=4, reserve=1, minutes=30):
    """Open `offering` every day of the week from `start` to `end` (local hours, minutes)."""
    from datetime import time as clock

    for weekday in range(7):
        WeeklySession.objects.create(
            offering=offering,
            weekday=weekday,
            start_time=clock(*start),
            end_time=clock(*end),
            slot_minutes=minutes,
            seats_per_slot=seats,
            priority_reserve=reserve,
        )


def next_monday(*, at_least_days: int = 3) -> date:
    """The first Monday at least `at_least_days` ahead (weekday-shaped tests start there)."""
    from django.utils import timezone

    today = timezone.localdate()
    monday = today + timedelta(days=(7 - today.weekday()) % 7 or 7)
    while (monday - today).days < at_least_days:
        monday += timedelta(days=7)
    return monday


def fill_slots(offering, day: date, count: int | None = None) -> list:
    """Book the free seats of `offering`'s slots on `day` (at most `count`), earliest first."""
    from slots.models import Slot
    from slots.services.bookings import booking_create

    made = []
    for slot in Slot.objects.filter(
        offering=offering, starts_at__gte=local_dt(day, 0), starts_at__lt=local_dt(day, 23)
    ).order_by("starts_at"):
        for _ in range(slot.capacity - slot.booked):
            if count is not None and len(made) == count:
                return made
            made.append(booking_create(applicant=ApplicantFactory(), slot_id=slot.pk))
    return made
