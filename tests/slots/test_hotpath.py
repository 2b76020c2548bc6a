"""Each hand-written statement of slots/hotpath.py against its plain ORM form
(tests/slots/plain_forms.py): the same answers, the same rows, the same refusals."""

from __future__ import annotations

import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from api.serializers import BookingOutSerializer
from notifications.models import Notification
from slots import hotpath
from slots.models import Booking, BookingEvent, Closure, Outage, Slot
from slots.services import bookings
from slots.services.bookings import booking_create
from tests.conftest import in_days
from tests.factories import ApplicantFactory, BookingFactory, SlotFactory, local_dt
from tests.slots import plain_forms
from tests.slots.plain_forms import use_plain_forms

pytestmark = pytest.mark.django_db


def test_the_docstring_names_a_test_for_every_statement():
    named = set(re.findall(r"test_hotpath\.py::\s*(\w+)", hotpath.__doc__))
    here = {name for name in globals() if name.startswith("test_")}
    assert named and named <= here
    assert set(plain_forms.PLAIN_FORMS) <= {
        name for name in dir(hotpath) if callable(getattr(hotpath, name))
    }


# --- slot_with_checks -----------------------------------------------------------------------------

ANSWERS = (
    "pk",
    "office_id",
    "service_id",
    "starts_at",
    "capacity",
    "booked",
    "closure_id",
    "outage_id",
    "holds_active",
)


def _answers(slot):
    related = (slot.office.code, slot.service.slug, slot.offering.pk)
    return (*(getattr(slot, name) for name in ANSWERS), *related)


def test_slot_with_checks_answers_as_the_plain_form(
    bhopal_photo, bhopal, learner, applicant, other_applicant, django_assert_num_queries
):
    day = timezone.localdate() + timedelta(days=3)
    plain = SlotFactory(offering=bhopal_photo, starts_at=local_dt(day, 10))
    booked = SlotFactory(offering=bhopal_photo, starts_at=local_dt(day, 11))
    closed = SlotFactory(offering=bhopal_photo, starts_at=local_dt(day + timedelta(days=1), 10))
    down = SlotFactory(offering=bhopal_photo, starts_at=local_dt(day + timedelta(days=2), 10))
    booking_create(applicant=applicant, slot_id=booked.pk)
    Closure.objects.create(office=bhopal, date=day + timedelta(days=1), reason="Holi")
    outage = Outage.objects.create(
        reason="down", starts_at=down.starts_at, expected_end=down.ends_at
    )
    outage.offices.add(bhopal)
    other_service_outage = Outage.objects.create(
        reason="learner down", starts_at=plain.starts_at, expected_end=plain.ends_at
    )
    other_service_outage.offices.add(bhopal)
    other_service_outage.services.add(learner)

    seen = set()
    for slot in (plain, booked, closed, down):
        for applicant_id in (None, applicant.pk, other_applicant.pk):
            with django_assert_num_queries(1):
                sql = hotpath.slot_with_checks(slot_id=slot.pk, applicant_id=applicant_id)
                _answers(sql)  # office, service and offering come with it
            orm = plain_forms.slot_with_checks_plain(slot_id=slot.pk, applicant_id=applicant_id)
            assert _answers(sql) == _answers(orm)
            seen.add((sql.closure_id is not None, sql.outage_id is not None, sql.holds_active))
    # Every answer was exercised both ways.
    assert {(True, False, False), (False, True, False), (False, False, True)} <= seen
    assert (False, False, False) in seen
    with pytest.raises(Slot.DoesNotExist):
        hotpath.slot_with_checks(slot_id=10**12)


# --- booking_insert ------------------------------------------------------------------------------


def _written_by(plain: bool, *, applicant, slot_id, now, monkeypatch) -> dict:
    """What booking_create stores (read back) and answers (in memory), with the statement or
    its plain form; rolled back afterwards."""
    monkeypatch.setattr(bookings, "booking_reference_new", lambda: "SAMEREF234")
    monkeypatch.setattr(timezone, "now", lambda: now)
    forms = use_plain_forms("booking_insert") if plain else transaction.atomic()
    with transaction.atomic(), forms:
        booking = booking_create(applicant=applicant, slot_id=slot_id, now=now)
        answered = BookingOutSerializer(booking).data
        stored = (
            Booking.objects.select_related("slot", "office", "service")
            .prefetch_related("events", "notifications")
            .get(pk=booking.pk)
        )
        event_id = stored.events.get().pk

        def named(row: dict) -> dict:
            """Ids differ between the two runs: name them instead."""
            row = {
                **row,
                **{k: v for k, v in {"id": "<own>", "booking_id": "<b>"}.items() if k in row},
            }
            if "event_key" in row:
                row["event_key"] = row["event_key"].replace(str(event_id), "<event>")
                row["context"] = {**row["context"], "event_id": "<event>"}
            return row

        stored.history_rows = list(stored.events.all())
        stored.notification_rows = list(stored.notifications.order_by("created_at", "id"))
        result = {
            "booking": named(Booking.objects.filter(pk=booking.pk).values().get()),
            "events": [named(e) for e in BookingEvent.objects.filter(booking=booking).values()],
            "notifications": [
                named(n)
                for n in Notification.objects.filter(booking=booking).order_by("channel").values()
            ],
            "seats": Slot.objects.values_list("booked", flat=True).get(pk=slot_id),
            "answered": {**answered, "reference": "-"},
            "read_back": {**BookingOutSerializer(stored).data, "reference": "-"},
        }
        transaction.set_rollback(True)
    return result


@pytest.mark.parametrize("email", ["", "a@example.in"])
def test_booking_insert_writes_what_the_plain_form_writes(bhopal_slot, monkeypatch, email):
    applicant = ApplicantFactory(email=email, preferred_language="hi")
    now = timezone.now() - timedelta(minutes=3)
    kwargs = {"applicant": applicant, "slot_id": bhopal_slot.pk, "now": now}
    by_statement = _written_by(False, monkeypatch=monkeypatch, **kwargs)
    by_plain = _written_by(True, monkeypatch=monkeypatch, **kwargs)
    assert by_statement == by_plain
    assert len(by_statement["notifications"]) == (2 if email else 1)
    # What the API answers from memory is what a later read shows.
    assert by_statement["answered"] == by_statement["read_back"]
    assert by_statement["seats"] == bhopal_slot.booked + 1


@pytest.mark.parametrize("plain", [False, True], ids=["statement", "plain"])
def test_a_full_slot_writes_nothing(bhopal_photo, plain):
    slot = SlotFactory(offering=bhopal_photo, capacity=1, booked=1, starts_at=in_days(3))
    applicant = ApplicantFactory()
    forms = use_plain_forms("booking_insert") if plain else transaction.atomic()
    with forms, pytest.raises(bookings.SlotFull):
        booking_create(applicant=applicant, slot_id=slot.pk)
    assert not Booking.objects.filter(applicant=applicant).exists()
    assert not Notification.objects.filter(booking__applicant=applicant).exists()
    assert Slot.objects.get(pk=slot.pk).booked == 1


@pytest.mark.parametrize("plain", [False, True], ids=["statement", "plain"])
def test_held_priority_seats_are_refused_alike(bhopal_photo, plain, settings):
    settings.PRIORITY_RESERVE_RELEASE_HOURS = 48
    held = SlotFactory(
        offering=bhopal_photo, starts_at=in_days(5), capacity=2, booked=1, priority_reserve=1
    )
    applicant = ApplicantFactory()
    forms = use_plain_forms("booking_insert") if plain else transaction.atomic()
    with forms:
        with pytest.raises(bookings.SlotFull):
            booking_create(applicant=applicant, slot_id=held.pk)
        # Inside the release window the reserve is anybody's.
        later = held.starts_at - timedelta(hours=47)
        booking = booking_create(applicant=applicant, slot_id=held.pk, now=later)
    assert Slot.objects.get(pk=held.pk).booked == 2 and booking.pk


@pytest.mark.parametrize("plain", [False, True], ids=["statement", "plain"])
def test_a_second_active_booking_fails_whole(bhopal_slot, bhopal_slot_later, plain):
    applicant = ApplicantFactory()
    BookingFactory(applicant=applicant, slot=bhopal_slot_later)
    slot = hotpath.slot_with_checks(slot_id=bhopal_slot.pk)
    before = slot.booked
    booking = Booking(
        reference="ANOTHER234",
        applicant=applicant,
        slot=slot,
        office=slot.office,
        service=slot.service,
    )
    event = BookingEvent(booking=booking, kind="booked", actor="applicant", to_slot=slot)
    insert = plain_forms.booking_insert_plain if plain else hotpath.booking_insert
    with pytest.raises(IntegrityError), transaction.atomic():
        insert(booking=booking, event=event, held=False, kind="booking_confirmed", now=slot.ends_at)
    assert Slot.objects.get(pk=bhopal_slot.pk).booked == before
    assert Booking.objects.filter(applicant=applicant).count() == 1


def test_a_reference_collision_is_retried_with_a_fresh_reference(bhopal_slot, monkeypatch):
    taken = BookingFactory(reference="TAKENREF23")
    references = iter(["TAKENREF23", "FRESHREF23"])
    monkeypatch.setattr(bookings, "booking_reference_new", lambda: next(references))
    booking = booking_create(applicant=ApplicantFactory(), slot_id=bhopal_slot.pk)
    assert booking.reference == "FRESHREF23" != taken.reference
    assert Slot.objects.get(pk=bhopal_slot.pk).booked == bhopal_slot.booked + 1


# --- outbox rows from event ids -------------------------------------------------------------------


def test_outbox_rows_in_sql_equal_the_python_rows(make_event, outage, hindi_applicant):
    events = [
        make_event(kind="rescheduled", outage=outage, from_hour=9),
        make_event(applicant=hindi_applicant, kind="rescheduled", outage=outage, from_hour=11),
        make_event(applicant=ApplicantFactory(email=""), kind="needs_new_slot", outage=outage),
        make_event(kind="booked"),
    ]
    events[0].reason = "Server down"
    events[0].save(update_fields=["reason"])

    def rows_by(writer):
        with transaction.atomic():
            writer(event_ids=[e.pk for e in events], kind=Notification.Kind.RESCHEDULED_OUTAGE)
            written = {
                (r.event_key, r.channel, r.kind, r.language, r.recipient, r.booking_id): r.context
                for r in Notification.objects.all()
            }
            transaction.set_rollback(True)
        return written

    in_sql = rows_by(hotpath.outbox_rows_for_event_ids)
    assert in_sql == rows_by(plain_forms.outbox_rows_for_event_ids_plain)
    assert len(in_sql) == 7  # four SMS, three e-mails (one applicant has none)


# --- a chunk's bulk writes ------------------------------------------------------------------


def test_bulk_updates_equal_the_plain_form(bhopal_photo):
    slots = [SlotFactory(offering=bhopal_photo, starts_at=in_days(3 + i), booked=2) for i in (0, 1)]
    moved = [BookingFactory(slot=slots[0]) for _ in range(3)]
    now = timezone.now()

    def state_after(forms):
        with transaction.atomic():
            forms["slots_booked_add"]({slots[0].pk: 2, slots[1].pk: -1})
            forms["slots_booked_add"]({slots[1].pk: 1}, -1)
            took = forms["slots_booked_add_if_free"]({slots[0].pk: 6, slots[1].pk: 11})
            forms["bookings_point_to"]([(b.pk, slots[1].pk) for b in moved], now)
            result = (
                took,
                list(Slot.objects.filter(pk__in=[s.pk for s in slots]).values_list("booked")),
                list(
                    Booking.objects.filter(pk__in=[b.pk for b in moved]).values_list(
                        "slot_id", "priority", "updated_at"
                    )
                ),
            )
            transaction.set_rollback(True)
        return result

    statements = {name: getattr(hotpath, name) for name in plain_forms.PLAIN_FORMS}
    assert state_after(statements) == state_after(plain_forms.PLAIN_FORMS)
    took, counters, pointed = state_after(statements)
    assert took == 1 and counters == [(10,), (0,)]
    assert {row[:2] for row in pointed} == {(slots[1].pk, True)}


def test_events_insert_equals_bulk_create(bhopal_photo, outage):
    slot = SlotFactory(offering=bhopal_photo, starts_at=in_days(3))
    moved = [BookingFactory(slot=slot) for _ in range(3)]
    now = timezone.now()

    def events():
        return [
            SimpleNamespace(
                booking_id=b.pk,
                at=now,
                kind=BookingEvent.Kind.RESCHEDULED,
                actor=BookingEvent.Actor.SYSTEM,
                actor_user_id=None,
                from_slot_id=slot.pk,
                to_slot_id=None if i else slot.pk,
                from_starts_at=slot.starts_at,
                to_starts_at=None if i else slot.ends_at,
                outage_id=outage.pk,
                outage_revision=i,  # 0 (the first plan) and later revisions alike
                reason="सर्वर बंद" if i else "Server 'down'",
            )
            for i, b in enumerate(moved)
        ]

    def written(insert):
        with transaction.atomic():
            made = events()
            insert(made)
            rows = {
                e.pk: {k: v for k, v in row.items() if k != "id"}
                for e in made
                for row in BookingEvent.objects.filter(pk=e.pk).values()
            }
            transaction.set_rollback(True)
        assert len(rows) == len(made) and all(e.pk for e in made)
        return sorted(rows.values(), key=lambda r: r["booking_id"])

    assert written(hotpath.events_insert) == written(plain_forms.events_insert_plain)
    assert [row["outage_revision"] for row in written(hotpath.events_insert)] == [0, 1, 2]
