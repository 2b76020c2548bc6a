import pytest

from notifications.models import Notification
from slots.models import Booking, Slot
from slots.services.bookings import booking_create
from tests.api.conftest import assert_error
from tests.conftest import bring_to_today, in_days
from tests.factories import ApplicantFactory, SlotFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/bookings/"


def book(client, slot, **extra):
    return client.post(URL, {"slot": slot.pk}, **extra)


def test_booking_answers_201_with_the_contract_shape(applicant_api, bhopal_slot):
    response = book(applicant_api, bhopal_slot)
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {
        "reference",
        "status",
        "office",
        "service",
        "slot",
        "priority",
        "created_at",
        "confirmed_at",  # an addition ("confirm or release"): null until "I'll come"
        "history",
        "notifications",
    }
    assert body["confirmed_at"] is None
    assert len(body["reference"]) >= 8
    assert body["status"] == "confirmed"
    assert body["office"] == "MP-04" and body["service"] == "photo-biometrics"
    assert body["slot"]["id"] == bhopal_slot.pk
    assert body["slot"]["starts_at"].endswith("T10:00:00+05:30")
    assert body["priority"] is False
    assert body["created_at"].endswith("+05:30")
    assert body["history"] == [
        {
            "at": body["history"][0]["at"],
            "kind": "booked",
            "from_starts_at": None,
            "to_starts_at": body["slot"]["starts_at"],
            "outage": None,
            "reason": "",
        }
    ]
    channels = {n["channel"] for n in body["notifications"]}
    assert channels <= {"sms", "email"} and channels
    for note in body["notifications"]:
        assert set(note) == {"channel", "kind", "status", "created_at", "sent_at", "delivery"}
    assert Slot.objects.get(pk=bhopal_slot.pk).booked == 1


def test_full_slot_answers_409_slot_full(applicant_api, bhopal_photo):
    slot = SlotFactory(offering=bhopal_photo, starts_at=in_days(3), capacity=1, booked=1)
    assert_error(book(applicant_api, slot), 409, "slot_full")


def test_second_booking_for_the_service_answers_409_already_booked(
    applicant_api, bhopal_slot, bhopal_slot_later
):
    assert book(applicant_api, bhopal_slot).status_code == 201
    assert_error(book(applicant_api, bhopal_slot_later), 409, "already_booked")


def test_past_slot_answers_409_slot_unavailable(applicant_api, bhopal_photo):
    slot = SlotFactory(offering=bhopal_photo, starts_at=in_days(-1))
    assert_error(book(applicant_api, slot), 409, "slot_unavailable")


def test_unknown_slot_answers_400_invalid(applicant_api, bhopal_slot):
    body = assert_error(applicant_api.post(URL, {"slot": 999999999}), 400, "invalid")
    assert "slot" in body["fields"]
    assert_error(applicant_api.post(URL, {"slot": "abc"}), 400, "invalid")
    assert_error(applicant_api.post(URL, {"slot": 2**70}), 400, "invalid")
    assert_error(applicant_api.post(URL, {}), 400, "invalid")


def test_staff_cannot_book(bhopal_api, bhopal_slot):
    assert_error(book(bhopal_api, bhopal_slot), 403, "forbidden")


def test_anonymous_cannot_book(api, bhopal_slot):
    assert_error(book(api, bhopal_slot), 401, "not_authenticated")


def test_idempotency_key_replays_the_first_answer(applicant_api, bhopal_slot):
    first = book(applicant_api, bhopal_slot, HTTP_IDEMPOTENCY_KEY="abc-1")
    again = book(applicant_api, bhopal_slot, HTTP_IDEMPOTENCY_KEY="abc-1")
    assert first.status_code == again.status_code == 201
    assert first.json()["reference"] == again.json()["reference"]
    assert Booking.objects.count() == 1
    assert Slot.objects.get(pk=bhopal_slot.pk).booked == 1


def test_idempotency_key_replays_a_refusal(applicant_api, bhopal_photo):
    slot = SlotFactory(offering=bhopal_photo, starts_at=in_days(3), capacity=1, booked=1)
    first = book(applicant_api, slot, HTTP_IDEMPOTENCY_KEY="k")
    again = book(applicant_api, slot, HTTP_IDEMPOTENCY_KEY="k")
    assert_error(first, 409, "slot_full")
    assert again.status_code == 409 and again.json() == first.json()


def test_idempotency_key_for_another_request_answers_409(
    applicant_api, bhopal_slot, bhopal_slot_later
):
    book(applicant_api, bhopal_slot, HTTP_IDEMPOTENCY_KEY="k")
    response = book(applicant_api, bhopal_slot_later, HTTP_IDEMPOTENCY_KEY="k")
    assert_error(response, 409, "idempotency_key_reused")


def test_too_long_idempotency_key_answers_400(applicant_api, bhopal_slot):
    assert_error(book(applicant_api, bhopal_slot, HTTP_IDEMPOTENCY_KEY="k" * 101), 400, "invalid")


def test_list_is_own_bookings_newest_first(
    applicant_api,
    applicant,
    other_applicant,
    bhopal_slot,
    indore,
    learner,
    django_assert_num_queries,
):
    from tests.factories import OfferingFactory

    indore_learner = SlotFactory(offering=OfferingFactory(office=indore, service=learner))
    older = booking_create(applicant=applicant, slot_id=bhopal_slot.pk)
    newer = booking_create(applicant=applicant, slot_id=indore_learner.pk)
    booking_create(applicant=other_applicant, slot_id=bhopal_slot.pk)
    with django_assert_num_queries(4):  # applicant, bookings, events, notifications
        response = applicant_api.get(URL)
    assert [b["reference"] for b in response.json()] == [newer.reference, older.reference]


def test_detail_of_own_booking(applicant_api, applicant, bhopal_slot):
    booking = booking_create(applicant=applicant, slot_id=bhopal_slot.pk)
    response = applicant_api.get(f"{URL}{booking.reference}/")
    assert response.status_code == 200
    assert response.json()["reference"] == booking.reference


def test_other_applicants_booking_answers_404(other_applicant_api, applicant, bhopal_slot):
    booking = booking_create(applicant=applicant, slot_id=bhopal_slot.pk)
    for path in ("", "cancel/", "reschedule/"):
        method = other_applicant_api.get if not path else other_applicant_api.post
        assert_error(method(f"{URL}{booking.reference}/{path}", {"slot": 1}), 404, "not_found")
    assert_error(other_applicant_api.get(f"{URL}ZZZZZZZZZZ/"), 404, "not_found")


def test_staff_see_bookings_of_their_office_only(
    bhopal_api, indore_api, superuser_api, applicant, bhopal_slot
):
    booking = booking_create(applicant=applicant, slot_id=bhopal_slot.pk)
    assert bhopal_api.get(f"{URL}{booking.reference}/").status_code == 200
    assert superuser_api.get(f"{URL}{booking.reference}/").status_code == 200
    assert_error(indore_api.get(f"{URL}{booking.reference}/"), 404, "not_found")
    assert [b["reference"] for b in bhopal_api.get(URL).json()] == [booking.reference]
    assert indore_api.get(URL).json() == []


def test_reschedule_moves_the_booking(applicant_api, applicant, bhopal_slot, bhopal_slot_later):
    booking = booking_create(applicant=applicant, slot_id=bhopal_slot.pk)
    response = applicant_api.post(
        f"{URL}{booking.reference}/reschedule/", {"slot": bhopal_slot_later.pk}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["slot"]["id"] == bhopal_slot_later.pk
    assert [h["kind"] for h in body["history"]] == ["booked", "rescheduled"]
    assert body["history"][1]["from_starts_at"] == body["history"][0]["to_starts_at"]


def test_reschedule_to_another_service_answers_409_invalid_slot_choice(
    applicant_api, applicant, bhopal_slot, bhopal, driving
):
    from tests.factories import OfferingFactory

    other = SlotFactory(offering=OfferingFactory(office=bhopal, service=driving))
    booking = booking_create(applicant=applicant, slot_id=bhopal_slot.pk)
    response = applicant_api.post(f"{URL}{booking.reference}/reschedule/", {"slot": other.pk})
    assert "slot" in assert_error(response, 409, "invalid_slot_choice")["fields"]


def test_reschedule_into_full_slot_answers_409(applicant_api, applicant, bhopal_slot, bhopal_photo):
    full = SlotFactory(offering=bhopal_photo, starts_at=in_days(6), capacity=1, booked=1)
    booking = booking_create(applicant=applicant, slot_id=bhopal_slot.pk)
    response = applicant_api.post(f"{URL}{booking.reference}/reschedule/", {"slot": full.pk})
    assert_error(response, 409, "slot_full")


def test_cancel_frees_the_seat_at_once(applicant_api, applicant, bhopal_slot):
    booking = booking_create(applicant=applicant, slot_id=bhopal_slot.pk)
    response = applicant_api.post(f"{URL}{booking.reference}/cancel/")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert Slot.objects.get(pk=bhopal_slot.pk).booked == 0
    again = applicant_api.post(f"{URL}{booking.reference}/cancel/")
    assert_error(again, 409, "booking_not_active")
    response = applicant_api.post(f"{URL}{booking.reference}/reschedule/", {"slot": bhopal_slot.pk})
    assert_error(response, 409, "booking_not_active")


def test_check_in_by_clerk_of_the_office(bhopal_api, applicant, bhopal_slot):
    booking = booking_create(applicant=applicant, slot_id=bhopal_slot.pk)
    bring_to_today(bhopal_slot)
    response = bhopal_api.post(f"{URL}{booking.reference}/check-in/")
    assert response.status_code == 200
    assert response.json()["status"] == "attended"
    assert response.json()["history"][-1]["kind"] == "attended"
    assert_error(bhopal_api.post(f"{URL}{booking.reference}/check-in/"), 409, "booking_not_active")


def test_check_in_scoping(indore_api, applicant_api, superuser_api, applicant, bhopal_slot):
    booking = booking_create(applicant=applicant, slot_id=bhopal_slot.pk)
    bring_to_today(bhopal_slot)
    assert_error(indore_api.post(f"{URL}{booking.reference}/check-in/"), 404, "not_found")
    assert_error(applicant_api.post(f"{URL}{booking.reference}/check-in/"), 403, "forbidden")
    assert superuser_api.post(f"{URL}{booking.reference}/check-in/").status_code == 200


def test_notifications_are_listed(applicant_api, applicant, bhopal_slot):
    booking = booking_create(applicant=applicant, slot_id=bhopal_slot.pk)
    Notification.objects.filter(booking=booking).update(status="sent")
    body = applicant_api.get(f"{URL}{booking.reference}/").json()
    assert {n["status"] for n in body["notifications"]} == {"sent"}


def test_list_queries_do_not_grow_with_bookings(
    bhopal_api, bhopal_photo, django_assert_max_num_queries
):
    for day in range(2, 12):
        slot = SlotFactory(offering=bhopal_photo, starts_at=in_days(day))
        booking_create(applicant=ApplicantFactory(), slot_id=slot.pk)
    with django_assert_max_num_queries(6):
        assert len(bhopal_api.get(URL).json()) == 10
