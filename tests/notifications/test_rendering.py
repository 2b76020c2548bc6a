"""Every kind renders in English and Hindi with the facts the applicant needs."""

from __future__ import annotations

import pytest

from notifications.models import BOOKING_KINDS, Notification
from notifications.rendering import format_when, parse_time, render_notification, short_text
from notifications.sms import is_gsm7
from slots.messages import message_rows_for_events
from slots.models import BookingEvent
from tests.factories import ApplicantFactory

pytestmark = pytest.mark.django_db
Kind = Notification.Kind

OFFICE = {"en": "RTO Jabalpur", "hi": "आरटीओ जबलपुर"}
NEW_TIME = {"en": "12 December 10:30", "hi": "12 दिसंबर 10:30"}
OLD_TIME = {"en": "10 December 09:00", "hi": "10 दिसंबर 09:00"}
REASON = {"en": "Licence server down", "hi": "लाइसेंस सर्वर बंद"}
SERVICE = {"en": "Photo and biometrics", "hi": "फोटो और बायोमेट्रिक"}
WHY = {"en": "(Licence server down)", "hi": "(लाइसेंस सर्वर बंद)"}
# The site's address: a Hindi outage SMS has no room for the booking's long link.
SITE = {"en": "https://rtoslot.mp.gov.in", "hi": "https://rtoslot.mp.gov.in"}
# What each kind's SMS must say, beyond the reference (and the office, but for Hindi outage
# SMS, which name the service and the reason in two segments).
SMS_MUST_SHOW = {
    Kind.BOOKING_CONFIRMED: [NEW_TIME],
    Kind.RESCHEDULED_OUTAGE: [NEW_TIME, SERVICE, WHY],
    Kind.RESCHEDULED: [NEW_TIME],
    Kind.NEEDS_NEW_SLOT: [SERVICE, WHY, SITE],
    Kind.CANCELLED: [NEW_TIME],
    Kind.REMINDER: [{"en": "10:30", "hi": "10:30"}, "confirm_url", "cancel_url"],
    Kind.LAST_CALL: [NEW_TIME, "confirm_url", {"en": "8:30", "hi": "8:30"}],
    Kind.RELEASED: [NEW_TIME],
    Kind.SERVICE_RESTORED: [NEW_TIME, SERVICE, SITE],
    Kind.ON_HOLD: [SERVICE, WHY, {"en": "do not come", "hi": "न आएँ"}],
}
# English outage SMS keep the office, the old time and the booking's own link.
SMS_MUST_SHOW_EN = {
    Kind.RESCHEDULED_OUTAGE: [OLD_TIME, "booking_url"],
    Kind.NEEDS_NEW_SLOT: ["booking_url"],
    Kind.SERVICE_RESTORED: ["booking_url"],
    Kind.ON_HOLD: ["booking_url"],
}
EVENT_KIND = {
    Kind.BOOKING_CONFIRMED: BookingEvent.Kind.BOOKED,
    Kind.RESCHEDULED_OUTAGE: BookingEvent.Kind.RESCHEDULED,
    Kind.RESCHEDULED: BookingEvent.Kind.RESCHEDULED,
    Kind.NEEDS_NEW_SLOT: BookingEvent.Kind.NEEDS_NEW_SLOT,
    Kind.CANCELLED: BookingEvent.Kind.CANCELLED,
    Kind.REMINDER: BookingEvent.Kind.BOOKED,
    Kind.SERVICE_RESTORED: BookingEvent.Kind.RESTORED,
    Kind.ON_HOLD: BookingEvent.Kind.ON_HOLD,
    Kind.LAST_CALL: BookingEvent.Kind.BOOKED,
    Kind.RELEASED: BookingEvent.Kind.RELEASED,
}
# The reminder's and the last call's short links "I'll come" / "I can't come".
LINKS = {
    "confirm": "https://rtoslot.mp.gov.in/yes/MP49LT2612120001Xq1aZ9b8C7d6",
    "cancel": "https://rtoslot.mp.gov.in/no/MP49LT2612120001Xq1aZ9b8C7d6",
}
OUTAGE_KINDS = {Kind.RESCHEDULED_OUTAGE, Kind.NEEDS_NEW_SLOT, Kind.SERVICE_RESTORED, Kind.ON_HOLD}


@pytest.fixture
def rows_for(make_event, outage, settings):
    settings.SITE_URL = "https://rtoslot.mp.gov.in"

    def rows(kind: str, language: str) -> dict[str, Notification]:
        applicant = ApplicantFactory(
            full_name="Venkataraghavan Subramaniam Iyer", preferred_language=language
        )
        event = make_event(
            applicant=applicant,
            kind=EVENT_KIND[kind],
            outage=outage if kind in OUTAGE_KINDS else None,
            from_hour=9 if kind in {Kind.RESCHEDULED_OUTAGE, Kind.RESCHEDULED} else None,
        )
        if kind in (Kind.NEEDS_NEW_SLOT, Kind.ON_HOLD):
            event.from_starts_at, event.to_starts_at = event.booking.slot.starts_at, None
        result = {r.channel: r for r in message_rows_for_events(events=[event], kind=kind)}
        if kind in (Kind.REMINDER, Kind.LAST_CALL):
            for row in result.values():
                row.context["links"].update(LINKS)
                row.context["release_at"] = "2026-12-12T08:30:00+05:30"
        return result

    return rows


def _render(row: Notification):
    return render_notification(
        kind=row.kind, channel=row.channel, language=row.language, context=row.context
    )


def _expected(item, language: str, row: Notification) -> str:
    if item == "booking_url":
        return row.context["links"]["booking"]
    if item == "cancel_url":
        return row.context["links"]["cancel"]
    if item == "confirm_url":
        return row.context["links"]["confirm"]
    return item[language]


@pytest.mark.parametrize("language", ["en", "hi"])
@pytest.mark.parametrize("kind", BOOKING_KINDS)
def test_sms_says_reference_office_and_times(rows_for, kind, language):
    row = rows_for(kind, language)["sms"]
    text = _render(row).body

    assert row.context["reference"] in text
    if language == "en" or kind not in OUTAGE_KINDS:
        assert OFFICE[language] in text
    extra = SMS_MUST_SHOW_EN.get(kind, []) if language == "en" else []
    for item in SMS_MUST_SHOW[kind] + extra:
        assert _expected(item, language, row) in text, (kind, language, text)
    assert "Venkataraghavan" not in text  # names stay out of SMS: length and privacy
    if language == "en":
        assert is_gsm7(text), text
    else:
        assert OFFICE["en"] not in text


@pytest.mark.parametrize("language", ["en", "hi"])
@pytest.mark.parametrize("kind", BOOKING_KINDS)
def test_email_has_subject_text_and_html_in_the_language(rows_for, kind, language):
    row = rows_for(kind, language)["email"]
    rendered = _render(row)
    reference = row.context["reference"]

    assert reference in rendered.subject
    assert "\n" not in rendered.subject
    for body in (rendered.body, rendered.body_html):
        assert reference in body
        assert OFFICE[language] in body
        assert "Venkataraghavan Subramaniam Iyer" in body
        if kind in (Kind.REMINDER, Kind.LAST_CALL):
            assert row.context["links"]["confirm"] in body
            assert row.context["links"]["cancel"] in body
        else:
            assert row.context["links"]["booking"] in body
    assert rendered.body_html.lstrip().startswith("<!doctype html>")
    assert f'<html lang="{language}">' in rendered.body_html
    if kind in OUTAGE_KINDS - {Kind.SERVICE_RESTORED}:
        assert REASON[language] in rendered.body
    if kind == Kind.ON_HOLD:  # the time not to come for
        when = format_when(parse_time(row.context["from_starts_at"]), language)
        assert when in rendered.body
    if kind == Kind.RESCHEDULED_OUTAGE:
        assert OLD_TIME[language] in rendered.body
        assert NEW_TIME[language] in rendered.body
    if language == "hi":
        assert "Dear" not in rendered.body


def test_text_is_not_html_escaped_but_html_is(rows_for):
    row = rows_for(Kind.BOOKING_CONFIRMED, "en")["email"]
    row.context["service"]["name"] = "Learner's licence test & <photo>"
    rendered = _render(row)
    assert "Learner's licence test & <photo>" in rendered.body
    assert "Learner&#x27;s licence test &amp; &lt;photo&gt;" in rendered.body_html


def test_reason_typed_with_curly_quotes_keeps_english_sms_gsm7(rows_for):
    row = rows_for(Kind.RESCHEDULED_OUTAGE, "en")["sms"]
    row.context["outage"]["reason"] = "“Sarathi” server – down since morning, engineers on site"
    text = _render(row).body
    assert is_gsm7(text)
    assert '("Sarathi" server - down since morning, engineers on site)' in text


def test_times_are_shown_in_india_time():
    from datetime import UTC, datetime

    at = datetime(2026, 12, 12, 5, 0, tzinfo=UTC)  # 10:30 IST
    assert format_when(at, "en") == "12 December 10:30"
    assert format_when(at, "hi") == "12 दिसंबर 10:30"


@pytest.mark.parametrize(
    ("language", "says", "never"),
    [
        ("en", "Your booking {ref} stands at 12 December 10:30. You may choose an earlier", None),
        ("hi", "बुकिंग {ref} 12 दिसंबर 10:30 पर पक्की। पहले आना हो तो समय चुनें", "पहले का समय"),
    ],
)
def test_service_restored_sms_says_the_booking_stands_and_an_earlier_time_may_be_chosen(
    rows_for, language, says, never
):
    row = rows_for(Kind.SERVICE_RESTORED, language)["sms"]
    text = _render(row).body
    assert says.format(ref=row.context["reference"]) in text, text
    if never:  # "the previous time": what the old Hindi text read as
        assert never not in text


def test_short_text_cuts_at_a_word():
    assert short_text("Licence server down", 40) == "Licence server down"
    assert short_text("Licence server down since the morning of Monday", 30) == (
        "Licence server down since..."
    )


@pytest.mark.parametrize(
    ("language", "says"),
    [
        ("en", "False alarm: Photo and biometrics at RTO Jabalpur works"),
        ("hi", "फोटो और बायोमेट्रिक ठीक है, बंद की सूचना गलत थी"),
    ],
)
def test_an_undone_outage_says_the_booking_is_back(rows_for, language, says):
    rows = rows_for(Kind.RESCHEDULED, language)
    for row in rows.values():
        row.context["false_alarm"] = True
    sms = _render(rows["sms"])
    assert says in sms.body and NEW_TIME[language] in sms.body
    email = _render(rows["email"])
    assert NEW_TIME[language] in email.subject
    assert ("false alarm" if language == "en" else "गलत थी") in email.body
