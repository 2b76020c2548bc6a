"""SMS length: the segment counter, and the budget every SMS template must keep.

Budget (checked with long realistic names, a 16-character reference and a production-length
site address):
* English SMS are always GSM-7; those without a link fit one segment, those with a link two.
* Hindi SMS are UCS-2 (70 characters a segment): at most two without a link, three with one.
The table of actual lengths is printed (`pytest -s`) so a template change shows its cost.
"""

from __future__ import annotations

import pytest

from notifications.models import Notification
from notifications.rendering import render_notification
from notifications.sms import sms_length, sms_segments
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
}
BUDGET = {("en", False): 1, ("en", True): 2, ("hi", False): 2, ("hi", True): 3}


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
    office = OfficeFactory(
        code="MP-49", name="RTO Narmadapuram (Hoshangabad)", name_hi="आरटीओ नर्मदापुरम (होशंगाबाद)"
    )
    service = ServiceFactory(
        slug="learner-test", name="Learner's licence test", name_hi="लर्नर लाइसेंस परीक्षा"
    )
    offering = OfferingFactory(office=office, service=service)
    outage.reason = "Sarathi licence server and photo capture down at the office"
    outage.reason_hi = "सारथी लाइसेंस सर्वर और फोटो कैप्चर बंद"
    outage.save()

    report, over_budget = [], []
    for language in ("en", "hi"):
        for kind in Kind.values:
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
            if kind == Kind.REMINDER:
                # A real signed link is this long (reference + timestamp + signature).
                row.context["links"]["cancel"] = (
                    "https://rtoslot.mp.gov.in/my/cancel/MP49LT2612120001:1w2b3c:"
                    "Xq1cV3pbKx7hWcYbq0ZbJxg8pQm2xkLrU9ZtHq1nL0A/"
                )
            text = render_notification(
                kind=kind, channel="sms", language=language, context=row.context
            ).body
            length = sms_length(text)
            budget = BUDGET[(language, kind in KINDS_WITH_LINK)]
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
