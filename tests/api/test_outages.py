from datetime import timedelta

import pytest
from django.utils import timezone, translation

from slots.models import Outage
from slots.services.bookings import booking_create
from slots.services.outages import outage_create
from tests.api.conftest import assert_error
from tests.conftest import in_days
from tests.factories import OfferingFactory, SlotFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/outages/"


def outage_payload(**overrides):
    return {
        "offices": ["MP-04"],
        "services": ["photo-biometrics"],
        "starts_at": in_days(3, 8).isoformat(),
        "expected_end": in_days(3, 18).isoformat(),
        "reason": "Photo server down",
        **overrides,
    }


def test_clerk_records_an_outage_and_bookings_move(
    bhopal_api,
    applicant,
    applicant_api,
    bhopal_slot,
    bhopal_slot_later,
    django_capture_on_commit_callbacks,
):
    booking = booking_create(applicant=applicant, slot_id=bhopal_slot.pk)
    with django_capture_on_commit_callbacks(execute=True):
        response = bhopal_api.post(URL, outage_payload())
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["offices"] == ["MP-04"] and body["services"] == ["photo-biometrics"]
    assert body["status"] == "active" and body["resolved_at"] is None
    assert body["starts_at"].endswith("T08:00:00+05:30")
    assert set(body["reschedule"]) == {
        "state",
        "affected",
        "moved",
        "needs_new_slot",
        "on_hold",
        "notified",
    }
    assert body["capacity_percent"] == 0

    detail = bhopal_api.get(f"{URL}{body['id']}/").json()
    assert detail["reschedule"] == {
        "state": "done",
        "affected": 1,
        "moved": 1,
        "needs_new_slot": 0,
        "on_hold": 0,
        "notified": 1,
    }
    moved = applicant_api.get(f"/api/v1/bookings/{booking.reference}/").json()
    assert moved["priority"] is True
    assert moved["slot"]["id"] == bhopal_slot_later.pk
    assert moved["history"][-1]["kind"] == "rescheduled"
    assert moved["history"][-1]["outage"] == body["id"]
    assert moved["history"][-1]["reason"] == "Photo server down"


def test_services_may_be_empty_meaning_all(bhopal_api, bhopal_photo):
    response = bhopal_api.post(URL, outage_payload(services=[]))
    assert response.status_code == 201
    assert response.json()["services"] == []


def test_clerk_of_another_office_answers_403(indore_api, bhopal_photo):
    assert_error(indore_api.post(URL, outage_payload()), 403, "forbidden")
    assert_error(indore_api.post(URL, outage_payload(offices=["MP-04", "MP-09"])), 403, "forbidden")
    assert not Outage.objects.exists()


def test_superuser_may_record_anywhere(superuser_api, bhopal_photo, indore):
    response = superuser_api.post(URL, outage_payload(offices=["MP-04", "MP-09"]))
    assert response.status_code == 201


def test_applicants_and_anonymous_may_not_record(applicant_api, api, bhopal_photo):
    assert_error(applicant_api.post(URL, outage_payload()), 403, "forbidden")
    assert_error(api.post(URL, outage_payload()), 401, "not_authenticated")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"expected_end": in_days(3, 7).isoformat()}, "expected_end"),
        ({"offices": ["MP-99"]}, "offices"),
        ({"offices": []}, "offices"),
        ({"services": ["no-such-service"]}, "services"),
        ({"reason": ""}, "reason"),
        ({"expected_end": "soon"}, "expected_end"),
    ],
)
def test_bad_outage_answers_400_invalid(bhopal_api, bhopal_photo, overrides, field):
    body = assert_error(bhopal_api.post(URL, outage_payload(**overrides)), 400, "invalid")
    assert field in body["fields"]


@pytest.fixture
def bhopal_outage(bhopal, photo, bhopal_photo):
    return outage_create(
        offices=[bhopal],
        services=[photo],
        starts_at=in_days(3, 8),
        expected_end=in_days(3, 18),
        reason="Server down",
    )


@pytest.fixture
def indore_outage(indore, indore_photo):
    outage = outage_create(
        offices=[indore], starts_at=in_days(2, 8), expected_end=in_days(2, 18), reason="Power"
    )
    Outage.objects.filter(pk=outage.pk).update(resolved_at=in_days(2, 9))
    return outage


def test_list_and_filters(api, bhopal_outage, indore_outage, django_assert_max_num_queries):
    with django_assert_max_num_queries(3):
        everything = api.get(URL).json()
    assert {o["id"] for o in everything} == {bhopal_outage.pk, indore_outage.pk}
    assert [o["id"] for o in api.get(URL, {"office": "MP-04"}).json()] == [bhopal_outage.pk]
    assert [o["id"] for o in api.get(URL, {"active": "true"}).json()] == [bhopal_outage.pk]
    resolved = api.get(URL, {"active": "false"}).json()
    assert [o["id"] for o in resolved] == [indore_outage.pk]
    assert resolved[0]["status"] == "resolved"
    assert api.get(URL, {"office": "MP-77"}).json() == []
    assert_error(api.get(URL, {"active": "maybe"}), 400, "invalid")


def test_detail_and_404(api, bhopal_outage):
    assert api.get(f"{URL}{bhopal_outage.pk}/").json()["reason"] == "Server down"
    assert_error(api.get(f"{URL}999999/"), 404, "not_found")


def test_extend(bhopal_api, bhopal_outage):
    new_end = in_days(3, 20).isoformat()
    response = bhopal_api.patch(f"{URL}{bhopal_outage.pk}/", {"expected_end": new_end})
    assert response.status_code == 200
    assert response.json()["expected_end"] == new_end


def test_extend_scoping_and_validation(indore_api, bhopal_api, api, bhopal_outage, indore):
    url = f"{URL}{bhopal_outage.pk}/"
    end = in_days(3, 20).isoformat()
    assert_error(indore_api.patch(url, {"expected_end": end}), 403, "forbidden")
    assert_error(api.patch(url, {"expected_end": end}), 401, "not_authenticated")
    assert_error(bhopal_api.patch(url, {}), 400, "invalid")
    assert_error(bhopal_api.patch(url, {"expected_end": in_days(3, 7).isoformat()}), 400, "invalid")
    assert_error(bhopal_api.patch(f"{URL}999999/", {"expected_end": end}), 404, "not_found")


def test_resolve(bhopal_api, indore_api, bhopal_outage):
    assert_error(indore_api.post(f"{URL}{bhopal_outage.pk}/resolve/"), 403, "forbidden")
    response = bhopal_api.post(f"{URL}{bhopal_outage.pk}/resolve/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "resolved" and body["resolved_at"].endswith("+05:30")
    assert bhopal_api.post(f"{URL}{bhopal_outage.pk}/resolve/").status_code == 200
    again = bhopal_api.patch(f"{URL}{bhopal_outage.pk}/", {"expected_end": in_days(4).isoformat()})
    assert_error(again, 400, "invalid")


def test_preview(bhopal_api, indore_api, applicant, bhopal_slot, bhopal_slot_later):
    booking_create(applicant=applicant, slot_id=bhopal_slot.pk)
    params = {
        "offices": "MP-04",
        "services": "photo-biometrics",
        "starts_at": in_days(3, 8).isoformat(),
        "expected_end": in_days(3, 18).isoformat(),
    }
    response = bhopal_api.get(f"{URL}preview/", params)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["affected"] == 1 and body["would_move"] == 1
    assert body["rows"][0]["office"] == "MP-04"
    assert_error(indore_api.get(f"{URL}preview/", params), 403, "forbidden")
    assert_error(bhopal_api.get(f"{URL}preview/", {**params, "offices": "XX-1"}), 400, "invalid")
    partial = bhopal_api.get(f"{URL}preview/", {**params, "capacity_percent": 0}).json()
    assert partial["affected"] == 1
    assert_error(
        bhopal_api.get(f"{URL}preview/", {**params, "capacity_percent": 100}), 400, "invalid"
    )


def test_the_preview_gives_the_recovery_plan_with_proposed_sessions(bhopal_api, photo_weekdays):
    from datetime import timedelta

    from tests.factories import fill_slots, local_dt, next_monday

    monday = next_monday()
    for offset in range(4):  # Monday (down) and Tuesday to Thursday full
        fill_slots(photo_weekdays, monday + timedelta(days=offset))
    params = {
        "offices": "MP-04",
        "starts_at": local_dt(monday, 0).isoformat(),
        "expected_end": local_dt(monday + timedelta(days=1), 0).isoformat(),
    }
    recovery = bhopal_api.get(f"{URL}preview/", params).json()["rows"][0]["recovery"]
    assert recovery["target"] == local_dt(monday + timedelta(days=4), 0).isoformat()
    assert (recovery["late"], recovery["unserved"], recovery["late_with"]) == (4, 0, 0)
    assert recovery["sessions"] == [
        {
            "kind": "longer_hours",
            "date": (monday + timedelta(days=1)).isoformat(),
            "start_time": "11:00",
            "end_time": "13:00",
            "seats": 8,
        }
    ]


def test_slot_in_an_outage_answers_409_slot_unavailable(applicant_api, bhopal_outage, bhopal_photo):
    slot = SlotFactory(offering=bhopal_photo, starts_at=in_days(3, 11))
    assert_error(
        applicant_api.post("/api/v1/bookings/", {"slot": slot.pk}), 409, "slot_unavailable"
    )


# --- Additions of 2026-12-01: open-ended and partial outages -----------------------------------


def test_open_ended_outage_through_the_api_holds_then_an_end_places(
    bhopal_api, applicant, applicant_api, bhopal_photo, django_capture_on_commit_callbacks
):
    soon = SlotFactory(offering=bhopal_photo, starts_at=in_days(1), capacity=2)
    after = SlotFactory(offering=bhopal_photo, starts_at=in_days(3), capacity=2)
    booking = booking_create(applicant=applicant, slot_id=soon.pk)
    with django_capture_on_commit_callbacks(execute=True):
        response = bhopal_api.post(
            URL,
            outage_payload(
                starts_at=in_days(0, 0).isoformat(),
                expected_end=None,
                reason_hi="लाइसेंस सर्वर बंद",
            ),
        )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["expected_end"] is None and body["reason_hi"] == "लाइसेंस सर्वर बंद"
    detail = bhopal_api.get(f"{URL}{body['id']}/").json()
    assert (detail["reschedule"]["state"], detail["reschedule"]["on_hold"]) == ("done", 1)

    held = applicant_api.get(f"/api/v1/bookings/{booking.reference}/").json()
    assert (held["status"], held["priority"], held["slot"]["id"]) == ("on_hold", True, soon.pk)
    assert [h["kind"] for h in held["history"]] == ["booked", "on_hold"]
    assert {n["kind"] for n in held["notifications"]} >= {"on_hold"}

    with django_capture_on_commit_callbacks(execute=True):
        patched = bhopal_api.patch(
            f"{URL}{body['id']}/", {"expected_end": in_days(2).isoformat()}, format="json"
        )
    assert patched.status_code == 200, patched.content
    placed = applicant_api.get(f"/api/v1/bookings/{booking.reference}/").json()
    assert (placed["status"], placed["slot"]["id"]) == ("confirmed", after.pk)
    detail = bhopal_api.get(f"{URL}{body['id']}/").json()
    assert (detail["reschedule"]["on_hold"], detail["reschedule"]["moved"]) == (0, 1)


def test_partial_outage_through_the_api_shows_reduced_capacity(
    bhopal_api, bhopal_photo, django_capture_on_commit_callbacks
):
    slot = SlotFactory(offering=bhopal_photo, starts_at=in_days(3, 10), capacity=4)
    with django_capture_on_commit_callbacks(execute=True):
        response = bhopal_api.post(URL, outage_payload(capacity_percent=50))
    assert response.status_code == 201, response.content
    assert response.json()["capacity_percent"] == 50
    day = slot.starts_at.date().isoformat()
    availability = bhopal_api.get(
        f"/api/v1/offices/MP-04/availability/?service=photo-biometrics&from={day}&to={day}"
    ).json()
    (entry,) = [s for d in availability["days"] for s in d["slots"] if s["id"] == slot.pk]
    assert entry["capacity"] == 2


@pytest.mark.parametrize("value", [-1, 100, "half", 12.5, None])
def test_capacity_percent_must_be_0_to_99(bhopal_api, bhopal_photo, value):
    response = bhopal_api.post(URL, outage_payload(capacity_percent=value))
    assert_error(response, 400, "invalid")
    assert "capacity_percent" in response.json()["fields"]


@pytest.mark.parametrize(
    ("body", "reason_hi"),
    [
        ({"reason": "Licence server down"}, "तकनीकी खराबी"),
        (
            {"reason": "Photo server down", "services": ["photo-biometrics"]},
            "फोटो कैप्चर मशीन काम नहीं कर रही",
        ),
        ({"reason": "network outage"}, "नेटवर्क बंद"),
        ({"reason": "Licence server down", "reason_hi": "सारथी बंद"}, "सारथी बंद"),
    ],
)
def test_reason_hi_stays_optional_and_falls_back_to_a_standard_hindi_phrase(
    bhopal_api, bhopal, photo, body, reason_hi
):
    OfferingFactory(office=bhopal, service=photo)
    response = bhopal_api.post(
        URL,
        {
            "offices": ["MP-04"],
            "expected_end": (timezone.now() + timedelta(hours=4)).isoformat(),
            **body,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["reason_hi"] == reason_hi
    assert response.json()["reason"] == body["reason"]
    with translation.override("hi"):
        assert Outage.objects.get(pk=response.json()["id"]).display_reason == reason_hi
