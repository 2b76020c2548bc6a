"""Bookings and events to announce, with the long names that stress SMS length."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from slots.models import BookingEvent, Outage, Slot
from tests.factories import (
    ApplicantFactory,
    BookingEventFactory,
    BookingFactory,
    OfferingFactory,
    OfficeFactory,
    ServiceFactory,
    SlotFactory,
    local_dt,
)
from tests.live import FakeSmsGateway

# 12 Dec 2026 10:30 India time: what every message must show as "12 December 10:30".
SLOT_DAY = date(2026, 12, 12)


@pytest.fixture
def jabalpur(db):
    return OfficeFactory(
        code="MP-20",
        name="RTO Jabalpur",
        name_hi="आरटीओ जबलपुर",
        district="Jabalpur",
        address="Civic Centre, Marhatal, Jabalpur 482002",
        address_hi="सिविक सेंटर, मढ़ाताल, जबलपुर 482002",
    )


@pytest.fixture
def photo_service(db):
    return ServiceFactory(
        slug="photo-biometrics", name="Photo and biometrics", name_hi="फोटो और बायोमेट्रिक"
    )


@pytest.fixture
def jabalpur_photo(jabalpur, photo_service):
    return OfferingFactory(office=jabalpur, service=photo_service)


@pytest.fixture
def outage(jabalpur):
    item = Outage.objects.create(
        starts_at=local_dt(SLOT_DAY - timedelta(days=2), 9),
        expected_end=local_dt(SLOT_DAY - timedelta(days=1), 18),
        reason="Licence server down",
        reason_hi="लाइसेंस सर्वर बंद",
    )
    item.offices.add(jabalpur)
    return item


@pytest.fixture
def make_event(jabalpur_photo):
    """An event about a fresh booking at 12 December 10:30 (IST), loaded as callers load them."""

    def make(
        *,
        applicant=None,
        kind=BookingEvent.Kind.BOOKED,
        outage=None,
        from_hour=None,
        reference=None,
    ):
        slot = Slot.objects.filter(
            offering=jabalpur_photo, starts_at=local_dt(SLOT_DAY, 10, 30)
        ).first() or SlotFactory(
            offering=jabalpur_photo,
            starts_at=local_dt(SLOT_DAY, 10, 30),
            ends_at=local_dt(SLOT_DAY, 11, 0),
            capacity=1000,
        )
        booking_kwargs = {"slot": slot, "applicant": applicant or ApplicantFactory()}
        if reference:
            booking_kwargs["reference"] = reference
        booking = BookingFactory(**booking_kwargs)
        from_starts_at = local_dt(SLOT_DAY - timedelta(days=2), from_hour) if from_hour else None
        event = BookingEventFactory(
            booking=booking,
            kind=kind,
            outage=outage,
            from_starts_at=from_starts_at,
            to_starts_at=slot.starts_at,
        )
        return (
            BookingEvent.objects.select_related(
                "booking__applicant",
                "booking__office",
                "booking__service",
                "booking__slot",
                "outage",
            )
            .filter(pk=event.pk)
            .get()
        )

    return make


@pytest.fixture
def gateway():
    server = FakeSmsGateway().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def http_sms(settings, gateway):
    settings.SMS_BACKEND = "http"
    settings.SMS_GATEWAY_URL = gateway.url
    settings.SMS_GATEWAY_API_KEY = "test-key"
    settings.SMS_GATEWAY_TIMEOUT = 2.0
    return gateway
