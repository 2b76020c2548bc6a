"""The gateways' own delivery-report formats, over real HTTP: Gupshup's fake gateway calls its
Realtime Delivery URL on the live test server (`/api/v1/sms/delivery/gupshup/?token=…`), and
C-DAC MSDG's fake answers the pull report the beat task asks (docs/NOTIFICATIONS.md, "Delivery
reports"). Both end in the service of the contract endpoint: same states, same e-mail fallback."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from notifications.dispatcher import notifications_dispatch
from notifications.models import Notification
from slots.messages import DLR_POLL_CURSOR_KEY, sms_delivery_poll
from slots.tasks import poll_sms_delivery_task
from tests.factories import ApplicantFactory, BookingFactory, NotificationFactory
from tests.gateways import GupshupGateway, MsdgGateway

TOKEN = "dlr-secret-token"
PATH = "/api/v1/sms/delivery/gupshup/"


def sent_sms(provider_id: str, *, email: str = "", **kwargs) -> Notification:
    booking = BookingFactory(applicant=ApplicantFactory(email=email))
    kwargs.setdefault("sent_at", timezone.now() - timedelta(minutes=1))
    return NotificationFactory(
        booking=booking, status=Notification.Status.SENT, provider_id=provider_id, **kwargs
    )


# --- Gupshup: pushed to us ----------------------------------------------------------------------


@pytest.fixture
def callback(live_server, settings):
    """The Realtime Delivery URL an operator sets at Gupshup."""
    settings.SMS_DLR_TOKEN = TOKEN
    return f"{live_server.url}{PATH}?token={TOKEN}"


@pytest.mark.django_db(transaction=True)
def test_gupshup_reports_an_sms_it_took_from_the_dispatcher_as_delivered(
    settings, callback, tmp_path
):
    gateway = GupshupGateway(userid="2000123456", password="s3cret").start()
    settings.SMS_BACKEND, settings.SMS_GATEWAY_URL = "gupshup", gateway.url
    settings.SMS_GATEWAY_USERNAME, settings.SMS_GATEWAY_PASSWORD = "2000123456", "s3cret"
    try:
        row = NotificationFactory(next_attempt_at=timezone.now())
        # Sent without DLT ids the fake refuses; register them as a deployment would.
        settings.DLT_TEMPLATES_FILE = _registry_with_ids(tmp_path / "dlt.json")
        notifications_dispatch()
        row.refresh_from_db()
        assert row.status == Notification.Status.SENT, row.last_error

        status, body = gateway.push_report(callback, external_id=row.provider_id)
    finally:
        gateway.stop()

    assert (status, body) == (200, '{"delivery":"delivered"}')
    row.refresh_from_db()
    assert row.delivery == "delivered" and row.delivery_reported_at is not None


def _registry_with_ids(path) -> str:
    import json

    from notifications import dlt

    data = dlt.registry_regenerated({"entity_id": "1101456789012345678", "header": "RTOMPB"})
    for item in data["templates"]:
        item["template_id"] = "1107161234567890123"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return str(path)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("status", "cause", "delivery"),
    [
        ("FAIL", "ABSENT_SUBSCRIBER", "undelivered"),
        ("FAIL", "EXPIRED", "expired"),
        ("FAILURE", "DND_FAIL", "undelivered"),
        ("EXPIRED", "SMSCTIMEDOUT", "expired"),
        ("FAILURE", "NO_ACK_FROM_OPERATOR", "expired"),
        ("SUCCESS", "SUCCESS", "delivered"),
    ],
)
def test_gupshup_statuses_map_to_ours(callback, status, cause, delivery):
    row = sent_sms("4843671605020300001-2420971527")
    answer = GupshupGateway.push_report(
        callback, external_id=row.provider_id, status=status, cause=cause
    )
    assert answer[0] == 200
    row.refresh_from_db()
    assert row.delivery == delivery


@pytest.mark.django_db(transaction=True)
def test_gupshup_undelivered_sms_falls_back_to_e_mail_as_with_the_contract_endpoint(callback):
    row = sent_sms("gs-7", email="later@example.in", event_key="event:91")
    GupshupGateway.push_report(callback, external_id="gs-7", status="FAIL", cause="UNKNOWN")
    email = Notification.objects.get(channel="email")
    assert (email.event_key, email.recipient, email.kind) == (
        "event:91",
        "later@example.in",
        row.kind,
    )


@pytest.mark.django_db(transaction=True)
def test_gupshup_a_report_without_a_final_word_records_nothing(callback):
    row = sent_sms("gs-8")
    assert GupshupGateway.push_report(callback, external_id="gs-8", status="UNKNOWN") == (
        200,
        '{"delivery":null}',
    )
    row.refresh_from_db()
    assert row.delivery == ""


@pytest.mark.django_db(transaction=True)
def test_gupshup_an_unknown_id_is_404(callback):
    status, body = GupshupGateway.push_report(callback, external_id="nobody-sent-this")
    assert status == 404 and '"code":"not_found"' in body


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("query", ["", "?token=wrong", "?token="])
def test_gupshup_a_wrong_or_missing_token_is_401(live_server, settings, query):
    settings.SMS_DLR_TOKEN = TOKEN
    sent_sms("gs-9")
    status, body = GupshupGateway.push_report(f"{live_server.url}{PATH}{query}", external_id="gs-9")
    assert status == 401 and '"code":"' in body
    assert Notification.objects.get(provider_id="gs-9").delivery == ""


@pytest.mark.django_db(transaction=True)
def test_gupshup_without_a_configured_token_every_report_is_refused(live_server, settings):
    settings.SMS_DLR_TOKEN = ""
    status, _body = GupshupGateway.push_report(f"{live_server.url}{PATH}?token=", external_id="x")
    assert status == 401


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "query",
    ["&status=SUCCESS", "&externalId=gs-1&status=READ", "&externalId=gs-1", "&externalId="],
)
def test_gupshup_a_malformed_report_is_400_with_the_error_shape(callback, query):
    from tests.gateways import _http

    sent_sms("gs-1")
    status, body = _http("GET", callback + query)
    assert status == 400 and '"code":"invalid"' in body and '"fields"' in body


@pytest.mark.django_db(transaction=True)
def test_gupshup_post_callback_takes_a_json_array_of_events(callback):
    first, second = sent_sms("gs-a"), sent_sms("gs-b", email="b@example.in")
    status, body = GupshupGateway.push_events(
        callback,
        [
            {
                "externalId": "gs-a",
                "eventType": "DELIVERED",
                "eventTs": 1526347800000,
                "destAddr": 919892488888,
                "srcAddr": "RTOMPB",
                "cause": "SUCCESS",
                "errCode": 0,
                "channel": "SMS",
                "noOfFrags": 1,
            },
            {"externalId": "gs-b", "eventType": "FAILED", "cause": "UNKNOWN_SUBSCRIBER"},
            {"externalId": "gs-unknown", "eventType": "DELIVERED"},
        ],
    )
    assert status == 200 and '"recorded":2' in body and "gs-unknown" in body
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.delivery, second.delivery) == ("delivered", "undelivered")
    assert Notification.objects.filter(channel="email", recipient="b@example.in").exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("raw", [b"{not json", b"[]", b'[{"eventType": "DELIVERED"}]', b'"x"'])
def test_gupshup_post_callback_rejects_what_is_not_events(callback, raw):
    from tests.gateways import _http

    status, body = _http("POST", callback, raw, "application/json")
    assert status == 400 and '"code":"invalid"' in body


# --- C-DAC MSDG: pulled by us ---------------------------------------------------------------------


@pytest.fixture
def msdg(settings):
    server = MsdgGateway(username="rtomp-msdg", password="s3cret").start()
    settings.SMS_BACKEND = "msdg"
    settings.SMS_GATEWAY_URL, settings.SMS_GATEWAY_REPORT_URL = server.url, server.report_url
    settings.SMS_GATEWAY_USERNAME, settings.SMS_GATEWAY_PASSWORD = "rtomp-msdg", "s3cret"
    settings.SMS_GATEWAY_TIMEOUT = 2.0
    cache.delete(DLR_POLL_CURSOR_KEY)
    try:
        yield server
    finally:
        server.stop()
        cache.delete(DLR_POLL_CURSOR_KEY)


@pytest.mark.django_db
def test_msdg_reports_are_pulled_and_recorded_with_the_e_mail_fallback(msdg):
    delivered = sent_sms("m-1")
    failed = sent_sms("m-2", email="m2@example.in")
    expired = sent_sms("m-3")
    waiting = sent_sms("m-4")
    msdg.report("m-1", "delivered")
    msdg.report("m-2", "failed")
    msdg.report("m-3", "expired")

    assert poll_sms_delivery_task() == {"asked": 4, "reported": 3}

    for row in (delivered, failed, expired, waiting):
        row.refresh_from_db()
    assert [r.delivery for r in (delivered, failed, expired, waiting)] == [
        "delivered",
        "undelivered",
        "expired",
        "",
    ]
    assert Notification.objects.get(channel="email").recipient == "m2@example.in"
    # Next round: only the SMS still without a report is asked about.
    msdg.report("m-4", "delivered")
    assert sms_delivery_poll() == {"asked": 1, "reported": 1}
    assert [r["fields"]["msgid"] for r in msdg.requests[-1:]] == ["m-4"]


@pytest.mark.django_db
def test_msdg_an_sms_the_dispatcher_sent_is_reported_by_the_next_poll(msdg, settings, tmp_path):
    settings.DLT_TEMPLATES_FILE = _registry_with_ids(tmp_path / "dlt.json")
    settings.SMS_GATEWAY_SECURE_KEY = "key-1"
    msdg.secure_key = "key-1"
    row = NotificationFactory(language="hi", next_attempt_at=timezone.now())
    notifications_dispatch()
    row.refresh_from_db()
    assert row.status == Notification.Status.SENT, row.last_error
    assert msdg.decoded(msdg.requests[0]) == row.body
    Notification.objects.filter(pk=row.pk).update(sent_at=timezone.now() - timedelta(minutes=1))
    msdg.report(row.provider_id, "delivered")

    assert sms_delivery_poll() == {"asked": 1, "reported": 1}
    row.refresh_from_db()
    assert row.delivery == "delivered"


@pytest.mark.django_db
def test_msdg_poll_goes_round_in_batches_so_no_sms_is_starved(msdg):
    rows = [sent_sms(f"b-{n}") for n in range(5)]
    assert sms_delivery_poll(limit=2)["asked"] == 2
    assert sms_delivery_poll(limit=2)["asked"] == 2
    assert sms_delivery_poll(limit=2)["asked"] == 1  # the last one; then from the start again
    asked = [r["fields"]["msgid"] for r in msdg.requests]
    assert asked == [row.provider_id for row in rows]
    sms_delivery_poll(limit=2)
    assert msdg.requests[-1]["fields"]["msgid"] == "b-1"


@pytest.mark.django_db
def test_msdg_poll_skips_old_unsent_and_reported_sms(msdg, settings):
    sent_sms("old", sent_at=timezone.now() - timedelta(hours=settings.SMS_DLR_POLL_HOURS + 1))
    sent_sms("reported", delivery="delivered")
    NotificationFactory(provider_id="", status=Notification.Status.PENDING)
    assert sms_delivery_poll() == {"asked": 0, "reported": 0}
    assert msdg.requests == []


@pytest.mark.django_db
def test_msdg_poll_stops_at_the_first_gateway_error_and_resumes_there(msdg):
    sent_sms("e-1")
    sent_sms("e-2")
    msdg.respond(503)
    assert sms_delivery_poll() == {"asked": 0, "reported": 0}
    msdg.report("e-1", "delivered")
    assert sms_delivery_poll() == {"asked": 2, "reported": 1}


@pytest.mark.django_db
def test_poll_is_a_no_op_for_gateways_that_push(settings):
    settings.SMS_BACKEND = "gupshup"
    sent_sms("p-1")
    assert poll_sms_delivery_task() == {"asked": 0, "reported": 0}


def test_beat_polls_delivery_reports(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["poll-sms-delivery"]
    assert entry["task"] == "slots.tasks.poll_sms_delivery"
    assert entry["schedule"].total_seconds() == settings.SMS_DLR_POLL_SECONDS


@pytest.mark.django_db(transaction=True)
def test_gupshup_post_callback_also_takes_the_events_under_response(callback):
    from tests.gateways import _http

    row = sent_sms("gs-r")
    body = b'{"response": [{"externalId": "gs-r", "eventType": "FAILED", "cause": "SMSCTIMEDOUT"}]}'
    status, answer = _http("POST", callback, body, "application/json")
    assert status == 200 and '"recorded":1' in answer
    row.refresh_from_db()
    assert row.delivery == "expired"
