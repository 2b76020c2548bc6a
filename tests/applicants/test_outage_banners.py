"""The banner at the top of "My bookings": what an outage did to each booking, why (the
outage's service and reason, in the page's language) and the new time or what to do."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from applicants.templatetags.applicant_pages import when
from slots.models import Booking, BookingEvent, Outage
from slots.services.bookings import booking_create
from tests.factories import BookingFactory, OfferingFactory, SlotFactory

pytestmark = pytest.mark.django_db

REASON = {"en": "Photo-capture machine not working", "hi": "फोटो कैप्चर मशीन खराब"}


def _outage(bhopal, photo, slot, *, open_ended=False):
    outage = Outage.objects.create(
        reason=REASON["en"],
        reason_hi=REASON["hi"],
        starts_at=slot.starts_at - timedelta(hours=1),
        expected_end=None if open_ended else slot.ends_at + timedelta(hours=1),
    )
    outage.offices.add(bhopal)
    outage.services.add(photo)
    return outage


def _event(booking, outage, kind, *, to_slot=None):
    return BookingEvent.objects.create(
        booking=booking,
        kind=kind,
        actor=BookingEvent.Actor.SYSTEM,
        from_slot=booking.slot,
        to_slot=to_slot,
        from_starts_at=booking.slot.starts_at,
        to_starts_at=to_slot.starts_at if to_slot else None,
        outage=outage,
        reason=outage.reason,
    )


@pytest.fixture
def held(applicant, slots, bhopal, photo):
    booking = BookingFactory(applicant=applicant, slot=slots[(3, 10, 0)])
    outage = _outage(bhopal, photo, booking.slot, open_ended=True)
    _event(booking, outage, BookingEvent.Kind.ON_HOLD)
    Booking.objects.filter(pk=booking.pk).update(status=Booking.Status.ON_HOLD, held_by=outage)
    return booking


@pytest.fixture
def moved(applicant, slots, bhopal, photo, driving):
    # A second service, so the applicant may hold two active bookings; a driving test is booked
    # with the learner licence's date.
    applicant.learner_licence_issued_on = timezone.localdate() - timedelta(days=40)
    applicant.save(update_fields=["learner_licence_issued_on"])
    offering = OfferingFactory(office=bhopal, service=driving)
    first = SlotFactory(offering=offering, starts_at=slots[(3, 10, 0)].starts_at, capacity=4)
    later = SlotFactory(offering=offering, starts_at=slots[(4, 10, 30)].starts_at, capacity=4)
    booking = booking_create(applicant=applicant, slot_id=first.pk)
    outage = _outage(bhopal, driving, first)
    _event(booking, outage, BookingEvent.Kind.RESCHEDULED, to_slot=later)
    Booking.objects.filter(pk=booking.pk).update(slot=later, priority=True)
    return booking


@pytest.fixture
def stranded(other_applicant, slots, bhopal, photo):
    booking = BookingFactory(applicant=other_applicant, slot=slots[(3, 10, 30)])
    outage = _outage(bhopal, photo, booking.slot)
    _event(booking, outage, BookingEvent.Kind.NEEDS_NEW_SLOT)
    Booking.objects.filter(pk=booking.pk).update(
        status=Booking.Status.NEEDS_NEW_SLOT, priority=True
    )
    return booking


def _banner(html: str, reference: str) -> str:
    match = re.search(
        rf'<div class="notice [^"]*"[^>]*id="notice-{reference}".*?</div>', html, re.S
    )
    assert match, f"no banner for {reference}"
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(0)).split())


def _page(client, language):
    return client.get(reverse("applicants:my_bookings"), HTTP_ACCEPT_LANGUAGE=language)


@pytest.mark.parametrize(
    ("language", "says"),
    [
        (
            "en",
            [
                "Do not come: your booking is on hold",
                "Photo and biometrics at RTO Bhopal is down until further notice.",
                "Why: Photo-capture machine not working.",
                "We will send your new time when the service is back.",
            ],
        ),
        (
            "hi",
            [
                "न आएँ: आपकी बुकिंग रोकी गई है",
                "आरटीओ भोपाल में फोटो और बायोमेट्रिक अगली सूचना तक बंद है।",
                "कारण: फोटो कैप्चर मशीन खराब।",
                "सेवा लौटने पर हम आपका नया समय भेजेंगे।",
            ],
        ),
    ],
)
def test_held_booking_banner_says_do_not_come_why_and_that_the_time_will_follow(
    applicant_client, held, language, says
):
    html = _page(applicant_client, language).content.decode()
    banner = _banner(html, held.reference)
    for text in says:
        assert text in banner, (text, banner)
    assert 'role="alert"' in html.split(f'id="notice-{held.reference}"')[0].rsplit("<div", 1)[1]
    assert html.index("outage-notices") < html.index(f'id="booking-{held.reference}"')


@pytest.mark.parametrize(
    ("language", "says"),
    [
        (
            "en",
            [
                "Your booking has a new time",
                "Driving test at RTO Bhopal was down at your time",
                "Why: Photo-capture machine not working.",
                "You will be served first.",
            ],
        ),
        (
            "hi",
            [
                "आपकी बुकिंग का नया समय",
                "आरटीओ भोपाल में ड्राइविंग टेस्ट आपके समय",
                "कारण: फोटो कैप्चर मशीन खराब।",
                "आपको पहले सेवा मिलेगी।",
            ],
        ),
    ],
)
def test_moved_booking_banner_shows_why_and_the_new_time(applicant_client, moved, language, says):
    moved.refresh_from_db()
    html = _page(applicant_client, language).content.decode()
    banner = _banner(html, moved.reference)
    for text in says:
        assert text in banner, (text, banner)
    with translation.override(language):
        new_time, old_time = when(moved.slot.starts_at), when(moved.events.first().to_starts_at)
    assert f"{new_time} " in banner + " " and new_time != old_time
    assert reverse("applicants:reschedule_days", args=[moved.reference]) in html
    if language == "hi":
        assert "Photo-capture" not in banner


@pytest.mark.parametrize(
    ("language", "says"),
    [
        (
            "en",
            [
                "Please choose a new time",
                "Why: Photo-capture machine not working.",
                "Choose a new time",
            ],
        ),
        ("hi", ["कृपया नया समय चुनें", "कारण: फोटो कैप्चर मशीन खराब।", "नया समय चुनें"]),
    ],
)
def test_needs_new_slot_banner_links_to_choose_a_new_time(other_client, stranded, language, says):
    html = _page(other_client, language).content.decode()
    banner = _banner(html, stranded.reference)
    for text in says:
        assert text in banner, (text, banner)
    link = reverse("applicants:reschedule_days", args=[stranded.reference])
    assert f'href="{link}"' in html.split(f'id="notice-{stranded.reference}"')[1].split("</div>")[0]


def test_held_comes_before_moved_and_a_plain_booking_has_no_banner(
    applicant_client, held, moved, slots, other_applicant
):
    html = _page(applicant_client, "en").content.decode()
    assert html.index(f'id="notice-{held.reference}"') < html.index(
        f'id="notice-{moved.reference}"'
    )
    assert html.count('class="notice ') == 2


def test_a_move_the_applicant_changed_since_or_that_has_passed_shows_no_banner(
    applicant_client, moved, slots
):
    # The applicant chose another time after the move: the latest news is theirs.
    BookingEvent.objects.create(
        booking=moved, kind=BookingEvent.Kind.RESCHEDULED, actor=BookingEvent.Actor.APPLICANT
    )
    html = _page(applicant_client, "en").content.decode()
    assert f'id="notice-{moved.reference}"' not in html


def test_hindi_banner_never_shows_the_english_reason(applicant_client, held):
    Outage.objects.filter(held_bookings=held).update(reason_hi="")
    banner = _banner(_page(applicant_client, "hi").content.decode(), held.reference)
    assert "Photo-capture" not in banner
    assert "कारण: फोटो कैप्चर मशीन काम नहीं कर रही।" in banner  # the standard phrase


@pytest.mark.parametrize(
    ("language", "says"),
    [
        (
            "en",
            [
                "The service is back: your booking stands",
                "Driving test at RTO Bhopal works again.",
                "You may choose an earlier free time; you keep your priority.",
            ],
        ),
        (
            "hi",
            [
                "सेवा फिर चालू: आपकी बुकिंग बनी है",
                "आरटीओ भोपाल में ड्राइविंग टेस्ट फिर से चालू है।",
                "चाहें तो इससे पहले का कोई खाली समय चुनें",
            ],
        ),
    ],
)
def test_after_the_service_is_back_a_moved_booking_says_it_stands(
    applicant_client, moved, language, says
):
    outage = moved.events.get(kind=BookingEvent.Kind.RESCHEDULED).outage
    BookingEvent.objects.create(
        booking=moved,
        kind=BookingEvent.Kind.RESTORED,
        actor=BookingEvent.Actor.SYSTEM,
        outage=outage,
        reason=outage.reason,
    )
    moved.refresh_from_db()
    banner = _banner(_page(applicant_client, language).content.decode(), moved.reference)
    for text in says:
        assert text in banner, (text, banner)
    with translation.override(language):
        assert when(moved.slot.starts_at) in banner


@pytest.mark.parametrize(
    ("language", "says"),
    [
        ("en", "Photo and biometrics at RTO Bhopal runs at reduced capacity until further notice."),
        ("hi", "आरटीओ भोपाल में फोटो और बायोमेट्रिक अगली सूचना तक कम क्षमता पर चल रही है।"),
    ],
)
def test_a_partial_outage_banner_says_reduced_capacity(applicant_client, held, language, says):
    Outage.objects.filter(held_bookings=held).update(capacity_percent=25)
    banner = _banner(_page(applicant_client, language).content.decode(), held.reference)
    assert says in banner, banner
