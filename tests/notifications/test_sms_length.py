"""SMS length: the segment counter, and the budget every SMS template must keep.

Budget (checked with long realistic names, a 16-character reference and a production-length
site address):
* English SMS are always GSM-7; those without a link fit one segment, those with a link two.
* Hindi SMS are UCS-2 (70 characters a segment, 67 a part): at most two without a link, three
  with one — except the outage kinds (moved, on hold, needs a new slot, restored, a false
  alarm's "back"): at most two, 134 characters, naming the service and the reason (cut with
  "…" when the clerk typed a long one; the e-mail keeps it whole).
The table of actual lengths is printed (`pytest -s`) so a template change shows its cost.
"""

from __future__ import annotations

import pytest

from notifications.models import BOOKING_KINDS, Notification
from notifications.rendering import render_notification
from notifications.sms import sms_length, sms_segments
from slots.links import reminder_link_url
from slots.messages import message_rows_for_events
from slots.models import BookingEvent
from tests.factories import (
    ApplicantFactory,
    OfferingFactory,
    OfficeFactory,
    ServiceFactory,
)

Kind = Notification.Kind
KINDS_WITH_LINK = {
    Kind.RESCHEDULED_OUTAGE,
    Kind.NEEDS_NEW_SLOT,
    Kind.REMINDER,
    Kind.SERVICE_RESTORED,
    Kind.ON_HOLD,
    Kind.LAST_CALL,
}
BUDGET = {("en", False): 1, ("en", True): 2, ("hi", False): 2, ("hi", True): 3}
OUTAGE_KINDS = {
    Kind.RESCHEDULED_OUTAGE,
    Kind.ON_HOLD,
    Kind.NEEDS_NEW_SLOT,
    Kind.SERVICE_RESTORED,
    Kind.RESCHEDULED,  # with "false_alarm": the booking is back
}
# Kinds whose SMS says why: the outage's reason.
KINDS_WITH_REASON = {Kind.RESCHEDULED_OUTAGE, Kind.ON_HOLD, Kind.NEEDS_NEW_SLOT}
LONG_OFFICE = ("RTO Narmadapuram (Hoshangabad)", "आरटीओ नर्मदापुरम (होशंगाबाद)")
LONG_SERVICE = ("Learner's licence test", "लर्नर लाइसेंस परीक्षा")
# The longest a clerk sensibly types (the field takes 300); the short one fits whole.
LONG_REASON = (
    "Sarathi licence server of NIC down since morning; photo capture machine at counter 2 "
    "also not working, engineers on the way",
    "एनआईसी का सारथी लाइसेंस सर्वर सुबह से बंद है; काउंटर 2 की फोटो कैप्चर मशीन भी नहीं चल "
    "रही, इंजीनियर आ रहे हैं",
)
SHORT_REASON = ("Licence server down", "लाइसेंस सर्वर बंद")


def test_gsm7_single_and_concatenated_sizes():
    assert sms_length("a" * 160).segments == 1
    assert sms_length("a" * 161).segments == 2
    assert sms_length("a" * 306).segments == 2
    assert sms_length("a" * 307).segments == 3
    assert sms_length("").segments == 0


def test_gsm7_extension_characters_take_two_septets_and_are_not_split():
    assert sms_length("€" * 80) == sms_length("€" * 80).__class__("gsm7", 160, 1)
    assert sms_length("{" * 81).segments == 2
    # 152 plain septets then an escape pair: it would straddle the 153 boundary, so it moves.
    assert sms_length("a" * 152 + "€" + "a" * 152).segments == 3


def test_any_non_gsm_character_makes_the_whole_text_ucs2():
    assert sms_length("a" * 69 + "क").encoding == "ucs2"
    assert sms_length("क" * 70).segments == 1
    assert sms_length("क" * 71).segments == 2
    assert sms_length("क" * 134).segments == 2
    assert sms_length("क" * 135).segments == 3
    assert sms_length("→").encoding == "ucs2"


def test_characters_outside_the_bmp_count_twice():
    assert sms_length("😀" * 35) == sms_length("😀" * 35).__class__("ucs2", 70, 1)
    assert sms_segments("😀" * 36) == 2


@pytest.mark.django_db
def test_every_sms_template_keeps_its_segment_budget(make_event, outage, settings, capsys):
    settings.SITE_URL = "https://rtoslot.mp.gov.in"
    office = OfficeFactory(code="MP-49", name=LONG_OFFICE[0], name_hi=LONG_OFFICE[1])
    service = ServiceFactory(slug="learner-test", name=LONG_SERVICE[0], name_hi=LONG_SERVICE[1])
    offering = OfferingFactory(office=office, service=service)
    outage.reason = "Sarathi licence server and photo capture down at the office"
    outage.reason_hi = "सारथी लाइसेंस सर्वर और फोटो कैप्चर बंद"
    outage.save()

    report, over_budget = [], []
    for language in ("en", "hi"):
        for kind in BOOKING_KINDS:
            applicant = ApplicantFactory(
                full_name="Venkataraghavan Subramaniam Iyer",
                email="",
                preferred_language=language,
            )
            event = make_event(
                applicant=applicant,
                kind=BookingEvent.Kind.RESCHEDULED,
                outage=outage,
                from_hour=9,
                reference="MP49LT2612120001",  # 16 characters, the longest a reference gets
            )
            event.booking.slot.offering = offering
            event.booking.office, event.booking.service = office, service
            (row,) = message_rows_for_events(events=[event], kind=kind)
            event.booking.delete()
            if kind in (Kind.REMINDER, Kind.LAST_CALL):
                # Real signed links are this long (reference + 12-character signature).
                row.context["links"]["cancel"] = reminder_link_url(
                    action="no", reference="MP49LT2612120001"
                )
                row.context["links"]["confirm"] = reminder_link_url(
                    action="yes", reference="MP49LT2612120001"
                )
                row.context["release_at"] = "2026-10-30T08:30:00+05:30"
            text = render_notification(
                kind=kind, channel="sms", language=language, context=row.context
            ).body
            length = sms_length(text)
            budget = BUDGET[(language, kind in KINDS_WITH_LINK)]
            if language == "hi" and kind in OUTAGE_KINDS:
                budget = 2
            report.append(
                f"{language} {kind:<18} {length.encoding} {length.units:>3} units "
                f"{length.segments} seg (budget {budget}): {text}"
            )
            if language == "en":
                assert length.encoding == "gsm7", text
            if length.segments > budget:
                over_budget.append(report[-1])

    with capsys.disabled():
        print("\nSMS lengths with long names:\n" + "\n".join(report))
    assert not over_budget, "\n".join(over_budget)


@pytest.fixture
def outage_sms(make_event, outage, settings):
    """render(kind, language, reason=(en, hi), false_alarm=False) -> (sms text, e-mail body),
    for a booking of the longest office and service, with a 16-character reference."""
    settings.SITE_URL = "https://rtoslot.mp.gov.in"
    office = OfficeFactory(code="MP-49", name=LONG_OFFICE[0], name_hi=LONG_OFFICE[1])
    service = ServiceFactory(slug="learner-test", name=LONG_SERVICE[0], name_hi=LONG_SERVICE[1])
    offering = OfferingFactory(office=office, service=service)

    def render(kind, language, *, reason, false_alarm=False):
        outage.reason, outage.reason_hi = reason
        outage.save()
        applicant = ApplicantFactory(email="long@example.in", preferred_language=language)
        event = make_event(
            applicant=applicant,
            kind=BookingEvent.Kind.RESCHEDULED,
            outage=outage,
            from_hour=9,
            reference="MP49LT2612120001",
        )
        event.booking.slot.offering = offering
        event.booking.office, event.booking.service = office, service
        rows = {r.channel: r for r in message_rows_for_events(events=[event], kind=kind)}
        event.booking.delete()
        texts = {}
        for channel, row in rows.items():
            if false_alarm:
                row.context["false_alarm"] = True
            texts[channel] = render_notification(
                kind=kind, channel=channel, language=language, context=row.context
            )
        return texts["sms"].body, texts["email"].body

    return render


@pytest.mark.django_db
@pytest.mark.parametrize("reason", [LONG_REASON, SHORT_REASON], ids=["long", "short"])
@pytest.mark.parametrize("language", ["en", "hi"])
@pytest.mark.parametrize(
    ("kind", "false_alarm"),
    [(kind, False) for kind in sorted(OUTAGE_KINDS - {Kind.RESCHEDULED})]
    + [(Kind.SERVICE_RESTORED, True), (Kind.RESCHEDULED, True)],
)
def test_outage_sms_names_service_and_reason_within_budget(
    outage_sms, kind, false_alarm, language, reason
):
    lang = 0 if language == "en" else 1
    sms, email = outage_sms(kind, language, reason=reason, false_alarm=false_alarm)
    length = sms_length(sms)

    if language == "hi":
        assert length.encoding == "ucs2"
        assert length.units <= 134 and length.segments <= 2, (length, sms)
        assert "RTO" not in sms and "Licence" not in sms  # no English in a Hindi SMS
    else:
        assert length.encoding == "gsm7", sms
        assert length.segments <= 2, (length, sms)
    assert LONG_SERVICE[lang] in sms
    assert "MP49LT2612120001" in sms
    if kind in KINDS_WITH_REASON:
        full = reason[lang]
        if reason is SHORT_REASON:
            assert f"({full})" in sms
        else:
            # Cut at a word with an ellipsis, and still says something.
            mark = "..." if language == "en" else "…"
            opening = " is down (" if language == "en" else " बंद ("
            shown = sms.split(opening, 1)[1].split(mark + ")", 1)[0]
            assert full.startswith(shown) and len(shown) >= 15, sms
        assert full in email  # the e-mail keeps the reason whole


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "hi"])
def test_outage_sms_without_a_hindi_reason_says_technical_fault_not_english(outage_sms, language):
    sms, email = outage_sms(Kind.ON_HOLD, language, reason=("Licence server down", ""))
    if language == "hi":
        assert "(तकनीकी खराबी)" in sms and "तकनीकी खराबी" in email
        assert "Licence" not in sms and "Licence" not in email
    else:
        assert "(Licence server down)" in sms


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "hi"])
@pytest.mark.parametrize("kind", sorted(KINDS_WITH_REASON))
def test_a_partial_outage_sms_says_reduced_capacity_not_down_within_budget(
    outage_sms, outage, kind, language
):
    outage.capacity_percent = 25
    outage.save()
    sms, _email = outage_sms(kind, language, reason=LONG_REASON)
    says, never = {
        "en": ("runs at reduced capacity (", "is down"),
        "hi": ("कम क्षमता पर (", "बंद ("),
    }[language]
    assert says in sms and never not in sms, sms
    length = sms_length(sms)
    assert length.segments <= 2 and (language == "en" or length.units <= 134), (length, sms)


@pytest.mark.parametrize("language", ["en", "hi"])
@pytest.mark.parametrize("kind", [Kind.REMINDER, Kind.LAST_CALL, Kind.RELEASED])
def test_confirm_or_release_sms_keep_their_budget_in_the_longest_month(settings, kind, language):
    """30 October: the longest Hindi month (अक्टूबर), two-digit day; the longest office; a
    16-character reference and both real links."""
    settings.SITE_URL = "https://rtoslot.mp.gov.in"
    reference = "MP49LT2612120001"
    context = {
        "reference": reference,
        "office": {"code": "MP-49", "name": LONG_OFFICE[0], "name_hi": LONG_OFFICE[1]},
        "service": {"slug": "learner-test", "name": LONG_SERVICE[0], "name_hi": LONG_SERVICE[1]},
        "slot": {"starts_at": "2026-10-30T10:30:00+05:30", "ends_at": "2026-10-30T11:00:00+05:30"},
        "links": {
            "booking": f"https://rtoslot.mp.gov.in/my/bookings/{reference}/",
            "confirm": reminder_link_url(action="yes", reference=reference),
            "cancel": reminder_link_url(action="no", reference=reference),
        },
        "release_at": "2026-10-29T23:30:00+05:30",
    }
    text = render_notification(kind=kind, channel="sms", language=language, context=context).body
    length = sms_length(text)
    budget = BUDGET[(language, kind in KINDS_WITH_LINK)]
    assert length.segments <= budget, (length, text)
    assert reference in text
    if kind != Kind.RELEASED:
        assert context["links"]["confirm"] in text
    if language == "en":
        assert length.encoding == "gsm7"
    else:
        assert "RTO" not in text and "Ref" not in text
