"""My bookings, the slip, rescheduling, cancelling, the needs-new-slot flow and one-tap cancel."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from notifications.models import Notification
from slots.links import one_tap_cancel_url
from slots.models import Booking, BookingEvent, Outage, Slot
from slots.services.bookings import booking_create
from tests.applicants.conftest import day_ahead
from tests.factories import BookingFactory, NotificationFactory, SlotFactory, local_dt

pytestmark = pytest.mark.django_db


@pytest.fixture
def booking(applicant, slots):
    return booking_create(applicant=applicant, slot_id=slots[(3, 10, 0)].pk)


def _moved_by_outage(booking, bhopal, photo, to_slot):
    """What the rescheduler leaves behind: the booking in its new slot, flagged priority, and
    a history row naming the outage."""
    outage = Outage.objects.create(
        reason="Photo-capture server down",
        reason_hi="फोटो कैप्चर सर्वर बंद",
        starts_at=booking.slot.starts_at - timedelta(hours=1),
        expected_end=booking.slot.ends_at + timedelta(hours=1),
        resolved_at=booking.slot.ends_at,
    )
    outage.offices.add(bhopal)
    outage.services.add(photo)
    BookingEvent.objects.create(
        booking=booking,
        kind=BookingEvent.Kind.RESCHEDULED,
        actor=BookingEvent.Actor.SYSTEM,
        from_slot=booking.slot,
        to_slot=to_slot,
        from_starts_at=booking.slot.starts_at,
        to_starts_at=to_slot.starts_at,
        outage=outage,
        reason=outage.reason,
    )
    Booking.objects.filter(pk=booking.pk).update(slot=to_slot, priority=True)
    return outage


def test_my_bookings_lists_status_history_and_messages(applicant_client, booking):
    NotificationFactory(
        booking=booking, status=Notification.Status.SENT, sent_at=timezone.now(), event_key="x:1"
    )
    html = applicant_client.get(reverse("applicants:my_bookings")).content.decode()
    assert booking.reference in html
    assert "Confirmed" in html and "Photo and biometrics" in html and "RTO Bhopal" in html
    assert "Booked for " in html
    assert "Messages sent to you" in html
    assert "SMS" in html and "Booking confirmed" in html and "Sent" in html


def test_a_move_after_an_outage_is_explained_in_plain_words(
    applicant_client, booking, slots, bhopal, photo
):
    new_slot = slots[(4, 10, 30)]
    _moved_by_outage(booking, bhopal, photo, new_slot)
    html = applicant_client.get(reverse("applicants:my_bookings")).content.decode()
    old = timezone.localtime(slots[(3, 10, 0)].starts_at)
    new = timezone.localtime(new_slot.starts_at)
    expected = (
        f"Moved from {old.day} {old:%B} 10:00 to {new.day} {new:%B} 10:30 because Photo and "
        "biometrics at RTO Bhopal was down (Photo-capture server down)."
    )
    assert expected in html

    hindi = applicant_client.get(
        reverse("applicants:my_bookings"), HTTP_ACCEPT_LANGUAGE="hi"
    ).content.decode()
    assert "फोटो कैप्चर सर्वर बंद" in hindi
    assert "आरटीओ भोपाल" in hindi and "फोटो और बायोमेट्रिक" in hindi
    assert "बदला गया" in hindi


def test_my_bookings_takes_a_fixed_number_of_queries(
    applicant_client, applicant, slots, django_assert_max_num_queries, bhopal_photo
):
    for days in range(3, 7):
        slot = SlotFactory(offering=bhopal_photo, starts_at=local_dt(day_ahead(days), 12))
        b = BookingFactory(applicant=applicant, slot=slot, status=Booking.Status.CANCELLED)
        NotificationFactory(booking=b, event_key=f"q:{days}")
    with django_assert_max_num_queries(10):
        applicant_client.get(reverse("applicants:my_bookings"))


def test_the_slip_has_a_qr_code_and_a_calendar_file(applicant_client, booking):
    html = applicant_client.get(
        reverse("applicants:booking_slip", args=[booking.reference])
    ).content.decode()
    assert f'id="reference">{booking.reference}<' in html
    assert '<svg class="qr" role="img"' in html and "<path" in html
    ics_url = reverse("applicants:booking_calendar", args=[booking.reference])
    assert ics_url in html
    assert "@media print" in Path(settings.BASE_DIR, "static/css/site.css").read_text()

    response = applicant_client.get(ics_url)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    assert f'filename="rto-{booking.reference}.ics"' in response["Content-Disposition"]
    event = Calendar.from_ical(response.content).walk("VEVENT")[0]
    assert event["uid"].startswith(booking.reference + "@")
    assert event.decoded("dtstart") == booking.slot.starts_at
    assert event.decoded("dtend") == booking.slot.ends_at
    assert "Photo and biometrics" in str(event["summary"])
    assert "RTO Bhopal" in str(event["location"])
    assert booking.reference in str(event["description"])
    assert str(event["url"]).endswith(f"/my/bookings/{booking.reference}/")


def test_the_qr_code_encodes_the_reference(applicant_client, booking):
    import qrcode

    svg = applicant_client.get(
        reverse("applicants:booking_slip", args=[booking.reference])
    ).content.decode()
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)
    qr.add_data(booking.reference)
    qr.make(fit=True)
    # Same data, same version: the drawing on the page is the reference's QR code.
    assert f'viewBox="0 0 {qr.modules_count + 8} {qr.modules_count + 8}"' in svg


def test_the_slip_in_hindi(applicant_client, booking):
    html = applicant_client.get(
        reverse("applicants:booking_slip", args=[booking.reference]), HTTP_ACCEPT_LANGUAGE="hi"
    ).content.decode()
    day = timezone.localtime(booking.slot.starts_at)
    assert '<html lang="hi">' in html
    assert "संदर्भ" in html and "पक्की" in html and "आरटीओ भोपाल" in html
    hindi_months = [
        "जनवरी", "फरवरी", "मार्च", "अप्रैल", "मई", "जून",
        "जुलाई", "अगस्त", "सितंबर", "अक्टूबर", "नवंबर", "दिसंबर",
    ]  # fmt: skip
    assert f"{day.day} {hindi_months[day.month - 1]}" in html


def test_another_applicants_booking_is_not_found(other_client, booking):
    for name in ("booking_slip", "booking_calendar", "reschedule_days", "cancel"):
        response = other_client.get(reverse(f"applicants:{name}", args=[booking.reference]))
        assert response.status_code == 404, name
    response = other_client.post(reverse("applicants:cancel", args=[booking.reference]))
    assert response.status_code == 404
    other_slot = Slot.objects.exclude(pk=booking.slot_id).first()
    response = other_client.post(
        reverse("applicants:reschedule_confirm", args=[booking.reference, other_slot.pk])
    )
    assert response.status_code == 404
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED and booking.slot_id != other_slot.pk
    html = other_client.get(reverse("applicants:my_bookings")).content.decode()
    assert booking.reference not in html


def test_reschedule_day_then_time_then_confirm(applicant_client, booking, slots):
    html = applicant_client.get(
        reverse("applicants:reschedule_days", args=[booking.reference])
    ).content.decode()
    times_url = reverse("applicants:reschedule_times", args=[booking.reference, day_ahead(4)])
    assert times_url in html and "Choose a new day" in html

    html = applicant_client.get(times_url).content.decode()
    target = slots[(4, 10, 30)]
    confirm_url = reverse("applicants:reschedule_confirm", args=[booking.reference, target.pk])
    assert confirm_url in html

    html = applicant_client.get(confirm_url).content.decode()
    assert "Move your booking?" in html

    response = applicant_client.post(confirm_url, follow=True)
    booking.refresh_from_db()
    assert booking.slot_id == target.pk and booking.self_reschedules == 1
    html = response.content.decode()
    assert "Your appointment is now on" in html
    assert "You moved it from" in html
    old, new = Slot.objects.get(pk=slots[(3, 10, 0)].pk), Slot.objects.get(pk=target.pk)
    assert (old.booked, new.booked) == (0, 1)


def test_reschedule_times_leave_out_the_current_slot(applicant_client, booking, slots):
    html = applicant_client.get(
        reverse("applicants:reschedule_times", args=[booking.reference, day_ahead(3)])
    ).content.decode()
    assert (
        reverse("applicants:reschedule_confirm", args=[booking.reference, booking.slot_id])
        not in html
    )
    assert (
        reverse("applicants:reschedule_confirm", args=[booking.reference, slots[(3, 10, 30)].pk])
        in html
    )


def test_reschedule_into_a_full_slot_offers_alternatives(applicant_client, booking, slots):
    full = slots[(3, 10, 30)]
    Slot.objects.filter(pk=full.pk).update(booked=full.capacity)
    response = applicant_client.post(
        reverse("applicants:reschedule_confirm", args=[booking.reference, full.pk])
    )
    html = response.content.decode()
    assert response.status_code == 409

    def link(key):
        url = reverse("applicants:reschedule_confirm", args=[booking.reference, slots[key].pk])
        return f'href="{url}"'

    assert link((4, 10, 0)) in html and link((4, 10, 30)) in html
    # Neither the full time nor the booking's own time is offered.
    assert link((3, 10, 30)) not in html and link((3, 10, 0)) not in html


def test_reschedule_limit_is_explained(applicant_client, booking, slots, settings):
    settings.BOOKING_MAX_SELF_RESCHEDULES = 0
    response = applicant_client.post(
        reverse("applicants:reschedule_confirm", args=[booking.reference, slots[(4, 10, 0)].pk])
    )
    assert response.status_code == 409
    assert "already been moved as many times as allowed" in response.content.decode()


def test_needs_new_slot_shows_a_banner_and_offers_priority_seats(
    applicant_client, applicant, other_applicant, slots, bhopal_photo
):
    stranded = BookingFactory(
        applicant=applicant,
        slot=slots[(3, 10, 0)],
        status=Booking.Status.NEEDS_NEW_SLOT,
        priority=True,
    )
    # Only priority seats left: two seats, both held back (more than 48 hours ahead).
    held = SlotFactory(
        offering=bhopal_photo,
        starts_at=local_dt(day_ahead(5), 11),
        capacity=2,
        priority_reserve=2,
    )
    html = applicant_client.get(reverse("applicants:my_bookings")).content.decode()
    assert "Please choose a new time" in html and "Needs a new slot" in html
    choose_url = reverse("applicants:reschedule_days", args=[stranded.reference])
    assert choose_url in html
    html = applicant_client.get(
        reverse("applicants:booking_slip", args=[stranded.reference])
    ).content.decode()
    assert "Please choose a new time" in html and "Not yet chosen" in html
    assert "<svg" not in html  # no slip for a booking without a time

    html = applicant_client.get(choose_url).content.decode()
    assert "seats held back for priority" in html
    day_url = reverse("applicants:reschedule_times", args=[stranded.reference, day_ahead(5)])
    assert day_url in html
    html = applicant_client.get(day_url).content.decode()
    confirm_url = reverse("applicants:reschedule_confirm", args=[stranded.reference, held.pk])
    assert confirm_url in html and "2 seats free" in html

    # Ordinary applicants see the day as full and cannot take those seats.
    public = applicant_client.get(
        reverse("applicants:book_times", args=["MP-04", "photo-biometrics", day_ahead(5)])
    ).content.decode()
    assert reverse("applicants:book_confirm", args=[held.pk]) not in public

    response = applicant_client.post(confirm_url, follow=True)
    stranded.refresh_from_db()
    assert stranded.status == Booking.Status.CONFIRMED and stranded.slot_id == held.pk
    assert stranded.self_reschedules == 0  # choosing after an outage is not a self-service move
    assert "Please choose a new time" not in response.content.decode()


def test_needs_new_slot_in_hindi(applicant_client, applicant, slots):
    BookingFactory(
        applicant=applicant,
        slot=slots[(3, 10, 0)],
        status=Booking.Status.NEEDS_NEW_SLOT,
        priority=True,
    )
    html = applicant_client.get(
        reverse("applicants:my_bookings"), HTTP_ACCEPT_LANGUAGE="hi"
    ).content.decode()
    assert "कृपया नया समय चुनें" in html


def test_cancel_asks_first_then_frees_the_seat(applicant_client, booking):
    url = reverse("applicants:cancel", args=[booking.reference])
    html = applicant_client.get(url).content.decode()
    assert "Cancel this booking?" in html and booking.reference in html
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED

    response = applicant_client.post(url, follow=True)
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED
    assert Slot.objects.get(pk=booking.slot_id).booked == 0
    html = response.content.decode()
    assert f"Booking {booking.reference} is cancelled." in html
    assert "You cancelled it." in html


def test_cancelling_a_cancelled_booking_says_it_is_not_active(applicant_client, booking):
    url = reverse("applicants:cancel", args=[booking.reference])
    applicant_client.post(url)
    response = applicant_client.post(url)
    assert response.status_code == 409
    assert "This booking is no longer active." in response.content.decode()
    assert applicant_client.get(url).status_code == 409
    ics = applicant_client.get(reverse("applicants:booking_calendar", args=[booking.reference]))
    assert ics.status_code == 404


def test_one_tap_cancel_confirms_then_cancels_without_a_sign_in(client, booking):
    url = one_tap_cancel_url(reference=booking.reference).split("://", 1)[1]
    path = url[url.index("/") :]
    html = client.get(path).content.decode()
    assert "Cancel your booking" in html and booking.reference in html
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED

    html = client.post(path).content.decode()
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED
    assert "Your booking is cancelled" in html
    event = booking.events.get(kind=BookingEvent.Kind.CANCELLED)
    assert event.actor == BookingEvent.Actor.APPLICANT

    # Opening the link again: nothing left to cancel, said plainly.
    html = client.get(path).content.decode()
    assert "Nothing to cancel" in html and "Cancelled" in html
    assert client.post(path).status_code == 200


def test_one_tap_cancel_refuses_an_edited_or_expired_link(client, booking):
    good = one_tap_cancel_url(reference=booking.reference)
    token = good.rstrip("/").rsplit("/", 1)[1]
    for bad in (token[:-2] + "xx", "nonsense", token.replace(booking.reference, "ABCDEFGHJK")):
        response = client.get(reverse("applicants:one_tap_cancel", args=[bad]))
        assert response.status_code == 400
        assert "This link does not work" in response.content.decode()
        assert client.post(reverse("applicants:one_tap_cancel", args=[bad])).status_code == 400

    long_ago = timezone.now().timestamp() - 60 * 86400
    with mock.patch("django.core.signing.time.time", return_value=long_ago):
        old = one_tap_cancel_url(reference=booking.reference).rstrip("/").rsplit("/", 1)[1]
    assert signing.TimestampSigner(salt="applicants.links.one-tap-cancel").unsign(old)
    response = client.post(reverse("applicants:one_tap_cancel", args=[old]))
    assert response.status_code == 400
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED


def test_one_tap_invalid_link_page_speaks_hindi(client):
    response = client.get(
        reverse("applicants:one_tap_cancel", args=["nonsense"]), HTTP_ACCEPT_LANGUAGE="hi"
    )
    assert response.status_code == 400
    assert "यह लिंक काम नहीं करता" in response.content.decode()
