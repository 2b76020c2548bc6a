"""On PostgreSQL a booking is written by one statement (`_book_in_one_statement`); SQLite uses
the ORM form (`_book_with_orm`). Both must write the same rows, take a seat under the same
condition and leave nothing behind when they refuse."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from api.serializers import BookingOutSerializer
from notifications.models import Notification
from slots.errors import SlotFull
from slots.models import Booking, BookingEvent, Slot
from slots.rules import slot_with_checks
from slots.services import bookings
from slots.services.bookings import booking_create
from tests.conftest import in_days
from tests.factories import ApplicantFactory, BookingFactory, SlotFactory

pytestmark = pytest.mark.django_db


WRITERS = {"statement": bookings._book_in_one_statement, "orm": bookings._book_with_orm}


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("the one-statement writer is PostgreSQL's")


def written_by(writer, *, applicant, slot_id, now, monkeypatch) -> dict:
    """What `writer` stores (read back) and answers (in memory); rolled back afterwards."""
    monkeypatch.setattr(bookings, "booking_reference_new", lambda: "SAMEREF234")
    monkeypatch.setattr(timezone, "now", lambda: now)  # outbox rows and updated_at read the clock
    with transaction.atomic():
        slot = slot_with_checks(slot_id=slot_id, applicant_id=applicant.pk)
        booking = WRITERS[writer](applicant=applicant, slot=slot, now=now, actor="applicant")
        answered = BookingOutSerializer(booking).data
        stored = (
            Booking.objects.select_related("slot", "office", "service")
            .prefetch_related("events", "notifications")
            .get(pk=booking.pk)
        )
        event_id = stored.events.get().pk

        def plain(row: dict, ids: dict) -> dict:
            """Ids differ between the two runs: name them instead."""
            row = {**row, **{key: name for key, name in ids.items() if key in row}}
            if "event_key" in row:
                row["event_key"] = row["event_key"].replace(str(event_id), "<event>")
                row["context"] = {**row["context"], "event_id": "<event>"}
                assert row["event_key"] == "event:<event>"
            return row

        own = {"id": "<own id>", "booking_id": "<booking>"}
        result = {
            "booking": plain(Booking.objects.filter(pk=booking.pk).values().get(), own),
            "events": [
                plain(e, own) for e in BookingEvent.objects.filter(booking=booking).values()
            ],
            "notifications": [
                plain(n, own)
                for n in Notification.objects.filter(booking=booking).order_by("channel").values()
            ],
            "seats": Slot.objects.values_list("booked", flat=True).get(pk=slot_id),
            "seats_in_memory": slot.booked,
            "answered": answered,
            "read_back": BookingOutSerializer(stored).data,
            "ids_in_memory_are_stored": [e.pk for e in booking.events.all()] == [event_id],
        }
        transaction.set_rollback(True)
    return result


@pytest.mark.parametrize("email", ["", "a@example.in"])
def test_the_statement_writes_what_the_orm_writes(bhopal_slot, monkeypatch, email):
    applicant = ApplicantFactory(email=email, preferred_language="hi")
    now = timezone.now() - timedelta(minutes=3)
    by_statement = written_by(
        "statement", applicant=applicant, slot_id=bhopal_slot.pk, now=now, monkeypatch=monkeypatch
    )
    by_orm = written_by(
        "orm", applicant=applicant, slot_id=bhopal_slot.pk, now=now, monkeypatch=monkeypatch
    )
    assert by_statement == by_orm
    assert len(by_statement["notifications"]) == (2 if email else 1)
    # What the API answers from memory is what a later read shows.
    assert by_statement["answered"] == by_statement["read_back"]
    assert by_statement["ids_in_memory_are_stored"]
    assert by_statement["seats"] == by_statement["seats_in_memory"] == bhopal_slot.booked + 1


@pytest.mark.parametrize("writer", WRITERS)
def test_a_full_slot_writes_nothing(bhopal_photo, writer):
    slot_row = SlotFactory(offering=bhopal_photo, capacity=1, booked=1)
    applicant = ApplicantFactory()
    slot = slot_with_checks(slot_id=slot_row.pk, applicant_id=applicant.pk)
    with pytest.raises(SlotFull):
        WRITERS[writer](applicant=applicant, slot=slot, now=timezone.now(), actor="applicant")
    assert Booking.objects.filter(applicant=applicant).count() == 0
    assert Notification.objects.filter(booking__applicant=applicant).count() == 0
    assert Slot.objects.get(pk=slot_row.pk).booked == 1 == slot.booked


@pytest.mark.parametrize("writer", WRITERS)
def test_held_priority_seats_are_refused_alike(bhopal_photo, writer, settings):
    settings.PRIORITY_RESERVE_RELEASE_HOURS = 48
    held = SlotFactory(
        offering=bhopal_photo,
        starts_at=in_days(5),
        capacity=2,
        booked=1,
        priority_reserve=1,
    )
    applicant = ApplicantFactory()
    slot = slot_with_checks(slot_id=held.pk, applicant_id=applicant.pk)
    with pytest.raises(SlotFull):
        WRITERS[writer](applicant=applicant, slot=slot, now=timezone.now(), actor="applicant")
    # Inside the release window the reserve is anybody's.
    later = held.starts_at - timedelta(hours=47)
    booking = WRITERS[writer](applicant=applicant, slot=slot, now=later, actor="applicant")
    assert Slot.objects.get(pk=held.pk).booked == 2 and booking.pk


@pytest.mark.parametrize("writer", WRITERS)
def test_a_second_active_booking_fails_whole(bhopal_slot, bhopal_slot_later, writer):
    applicant = ApplicantFactory()
    BookingFactory(applicant=applicant, slot=bhopal_slot_later)
    slot = slot_with_checks(slot_id=bhopal_slot.pk)
    before = Slot.objects.get(pk=bhopal_slot.pk).booked
    with pytest.raises(IntegrityError), transaction.atomic():
        WRITERS[writer](applicant=applicant, slot=slot, now=timezone.now(), actor="applicant")
    assert Slot.objects.get(pk=bhopal_slot.pk).booked == before == slot.booked
    assert Booking.objects.filter(applicant=applicant).count() == 1


def test_a_reference_collision_is_retried_with_a_fresh_reference(bhopal_slot, monkeypatch):
    taken = BookingFactory(reference="TAKENREF23")
    references = iter(["TAKENREF23", "FRESHREF23"])
    monkeypatch.setattr(bookings, "booking_reference_new", lambda: next(references))
    booking = booking_create(applicant=ApplicantFactory(), slot_id=bhopal_slot.pk)
    assert booking.reference == "FRESHREF23" != taken.reference
    assert Slot.objects.get(pk=bhopal_slot.pk).booked == bhopal_slot.booked + 1
