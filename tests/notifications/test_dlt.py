"""DLT: the registry file holds exactly the texts the SMS templates make, every rendered SMS in
both languages matches its registered template, and the ids reach the gateway."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from notifications import dlt
from notifications.dispatcher import notifications_dispatch
from notifications.models import BOOKING_KINDS, Notification
from notifications.rendering import render_notification
from slots.messages import message_rows_for_events
from slots.models import BookingEvent
from tests.factories import ApplicantFactory, NotificationFactory
from tests.gateways import GenericGateway

Kind = Notification.Kind


def test_the_shipped_registry_is_in_step_with_the_sms_templates(settings):
    """Fails when an SMS template changed: run `manage.py dlt_templates --write` and register
    the new texts (docs/NOTIFICATIONS.md, "DLT")."""
    data = dlt.read_registry_file(dlt.registry_path())
    assert dlt.registry_differences(data) == []
    assert data["header"] == settings.SMS_GATEWAY_SENDER_ID


def test_every_kind_and_language_has_a_template_with_placeholders():
    texts = dlt.all_dlt_texts()
    assert set(texts) == {(k, lang) for k in Kind.values for lang in ("en", "hi")}
    for (kind, _language), variants in texts.items():
        assert variants, kind
        for text in variants:
            assert "{#var#}" in text and "{{" not in text and "\x00" not in text
    # The branches of a template are registered apart: a false alarm is its own text.
    assert len(texts[(Kind.RESCHEDULED, "en")]) == 2


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "hi"])
@pytest.mark.parametrize("false_alarm", [False, True])
def test_every_rendered_sms_matches_its_registered_template(
    make_event, outage, language, false_alarm
):
    registry = dlt.registry()
    for kind in BOOKING_KINDS:
        applicant = ApplicantFactory(email="", preferred_language=language)
        event = make_event(
            applicant=applicant, kind=BookingEvent.Kind.RESCHEDULED, outage=outage, from_hour=9
        )
        extra = {"false_alarm": True} if false_alarm else None
        (row,) = message_rows_for_events(events=[event], kind=kind, extra=extra)
        if kind in (Kind.REMINDER, Kind.LAST_CALL):
            row.context["links"]["cancel"] = "https://rtoslot.mp.gov.in/no/AB12Xq1aZ9b8C7d6"
            row.context["links"]["confirm"] = "https://rtoslot.mp.gov.in/yes/AB12Xq1aZ9b8C7d6"
            row.context["release_at"] = "2026-12-12T08:30:00+05:30"
        text = render_notification(
            kind=kind, channel="sms", language=language, context=row.context
        ).body
        template = registry.find(kind, language, text)
        assert template is not None, f"{kind}/{language} matches no DLT template: {text}"
        event.booking.delete()


def test_a_text_that_differs_from_every_template_matches_none():
    registry = dlt.registry()
    assert registry.find(Kind.BOOKING_CONFIRMED, "en", "Booking AB12 confirmed. Hurry!") is None
    assert registry.find(Kind.CANCELLED, "en", "Booking AB12 cancelled: a, b, c.") is not None


def test_regenerating_keeps_ids_of_unchanged_texts_and_clears_changed_ones(tmp_path):
    data = dlt.registry_regenerated({"entity_id": "1101234", "header": "RTOMPB"})
    for number, item in enumerate(data["templates"]):
        item["template_id"] = f"1107{number:015d}"
    changed = data["templates"][0]
    changed["text"] = changed["text"].replace("Booking", "Slot")  # an old text

    fresh = dlt.registry_regenerated(data)

    assert fresh["entity_id"] == "1101234"
    assert dlt.registry_differences(fresh) == []
    by_key = {(t["kind"], t["language"], t["text"]): t["template_id"] for t in fresh["templates"]}
    assert sum(1 for value in by_key.values() if not value) == 1  # the changed one, to register
    assert len(by_key) == len(data["templates"])


def test_check_command_names_what_is_out_of_step(tmp_path):
    path = tmp_path / "dlt.json"
    path.write_text(json.dumps({"entity_id": "", "header": "RTOMPB", "templates": []}))
    with pytest.raises(CommandError):
        call_command("dlt_templates", "--check", "--file", str(path))
    call_command("dlt_templates", "--write", "--file", str(path))
    call_command("dlt_templates", "--check", "--file", str(path))


@pytest.mark.django_db
def test_the_dlt_ids_and_header_reach_the_gateway(settings, tmp_path):
    data = dlt.registry_regenerated({"entity_id": "1101000000000001", "header": "RTOBPL"})
    for item in data["templates"]:
        item["template_id"] = f"1107-{item['kind']}-{item['language']}"
    path = tmp_path / "dlt.json"
    path.write_text(json.dumps(data, ensure_ascii=False))
    settings.DLT_TEMPLATES_FILE = str(path)
    gateway = GenericGateway().start()
    settings.SMS_BACKEND, settings.SMS_GATEWAY_URL = "http", gateway.url
    try:
        NotificationFactory(language="hi", next_attempt_at=timezone.now())
        notifications_dispatch()
    finally:
        gateway.stop()
    body = gateway.accepted()[0]["body"]
    assert body["dlt_template_id"] == "1107-booking_confirmed-hi"
    assert body["dlt_entity_id"] == "1101000000000001"
    assert body["sender"] == "RTOBPL"


def test_every_sms_with_the_longest_values_keeps_each_variable_within_30_characters():
    """DLT refuses a variable over 30 characters: every kind, both languages, every branch,
    with the catalogue's longest office and service, every standard reason and a long typed
    one, and a 16-character reference (`manage.py dlt_templates --check` runs the same)."""
    values = dlt.longest_values()
    assert len(values.offices[0][0]) == 30 and len(values.reference) == 16
    assert dlt.length_problems(values) == []


def test_the_length_check_names_a_variable_over_30_characters():
    from dataclasses import replace

    too_long = "Additional RTO Narmadapuram (Hoshangabad)"
    problems = dlt.length_problems(
        replace(dlt.longest_values(), offices=((too_long, "आरटीओ भोपाल"),))
    )
    assert problems and all(too_long in problem for problem in problems)
    assert any(problem.startswith("booking_confirmed/en:") for problem in problems)


def test_a_standard_reason_over_30_characters_is_two_dlt_variables():
    text = (
        "Learner's licence test at RTO Bhopal is down (Photo-capture machine not working). "
        "Booking AB12CD34: do not come. We will send your new time when it is back: "
        "https://rtoslot.mp.gov.in/my/bookings/AB12CD34/"
    )
    assert dlt.length_problem(Kind.ON_HOLD, "en", text) is None
    template = dlt.registry().find(Kind.ON_HOLD, "en", text)
    assert "({#var#}{#var#})" in template.text


def test_a_partial_outage_has_its_own_registered_text():
    texts = dlt.all_dlt_texts()[(Kind.RESCHEDULED_OUTAGE, "en")]
    assert any("runs at reduced capacity" in text for text in texts)
    assert any("कम क्षमता पर" in text for text in dlt.all_dlt_texts()[(Kind.ON_HOLD, "hi")])
