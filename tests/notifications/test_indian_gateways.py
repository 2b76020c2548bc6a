"""The adapters for Indian gateways, each against a local server speaking its protocol
(tests/gateways.py): NIC's HttpLink, C-DAC's MSDG (sending, and its pull delivery report) and
Gupshup Enterprise."""

from __future__ import annotations

import pytest
from django.utils import timezone

from notifications.backends import (
    GupshupSmsBackend,
    MsdgSmsBackend,
    NicSmsBackend,
    PermanentSendError,
    RateLimitedError,
    SmsMessage,
    TransientSendError,
    get_sms_backend,
    ucs2_hex,
)
from notifications.dispatcher import notifications_dispatch
from notifications.models import Notification
from tests.factories import NotificationFactory
from tests.gateways import GupshupGateway, MsdgGateway, NicGateway

DLT = {"dlt_template_id": "1107161234567890123", "dlt_entity_id": "1101456789012345678"}


def message(text: str, **kwargs) -> SmsMessage:
    return SmsMessage(
        to="+919812345678",
        text=text,
        reference="MP04PB1",
        kind="booking_confirmed",
        language="hi" if not text.isascii() else "en",
        notification_id=3,
        **{**DLT, **kwargs},
    )


def _serving(settings, server, *, backend: str, username: str, password: str):
    """Point SMS_BACKEND at `server` (started) for the test, then stop it."""
    settings.SMS_BACKEND = backend
    settings.SMS_GATEWAY_URL = server.url
    settings.SMS_GATEWAY_USERNAME, settings.SMS_GATEWAY_PASSWORD = username, password
    settings.SMS_GATEWAY_SENDER_ID = "RTOMPB"
    settings.SMS_GATEWAY_TIMEOUT = 2.0
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def nic(settings):
    server = NicGateway(username="rtomp", pin="s3cret").start()
    yield from _serving(settings, server, backend="nic", username="rtomp", password="s3cret")


@pytest.fixture
def gupshup(settings):
    server = GupshupGateway(userid="2000123456", password="s3cret").start()
    yield from _serving(
        settings, server, backend="gupshup", username="2000123456", password="s3cret"
    )


def test_ucs2_hex_is_the_guides_format():
    # The guide's example: FEFF, then each UTF-16 code unit as four upper-case hex digits.
    assert ucs2_hex("प्र") == "FEFF092A094D0930"
    assert bytes.fromhex(ucs2_hex("बुकिंग पक्की")).decode("utf-16") == "बुकिंग पक्की"


# --- NIC ---------------------------------------------------------------------------------------


def test_nic_english_is_plain_text_with_dlt_fields(nic):
    provider_id = NicSmsBackend().send(message("Booking MP04PB1 confirmed"))
    (request,) = nic.requests
    assert request["method"] == "POST" and request["path"] == "/failsafe/HttpLink"
    assert request["fields"] == {
        "username": "rtomp",
        "pin": "s3cret",
        "mnumber": "919812345678",
        "signature": "RTOMPB",
        "message": "Booking MP04PB1 confirmed",
        **DLT,
    }
    assert provider_id == "12313946898506681700001"


def test_nic_a_message_of_more_than_one_sms_goes_with_concat(nic):
    long_text = "Learner's licence test at RTO Bhopal is down. " * 5
    NicSmsBackend().send(message(long_text.strip()))
    NicSmsBackend().send(message("बुकिंग MP04PB1 पक्की, " * 5))
    assert [r["fields"].get("concat") for r in nic.requests] == ["1", "1"]
    NicSmsBackend().send(message("Booking confirmed"))
    assert "concat" not in nic.requests[-1]["fields"]


def test_nic_hindi_goes_as_msgtype_uc_hex(nic):
    NicSmsBackend().send(message("बुकिंग MP04PB1 पक्की"))
    fields = nic.requests[0]["fields"]
    assert fields["msgType"] == "UC"
    assert fields["message"].startswith("FEFF") and fields["message"] == fields["message"].upper()
    assert nic.decoded(nic.requests[0]) == "बुकिंग MP04PB1 पक्की"


def test_nic_error_answers_are_final(nic, settings):
    settings.SMS_GATEWAY_PASSWORD = "wrong"
    with pytest.raises(PermanentSendError, match="API-1"):
        NicSmsBackend().send(message("Booking confirmed"))
    settings.SMS_GATEWAY_PASSWORD = "s3cret"
    with pytest.raises(PermanentSendError, match="API-9"):
        NicSmsBackend().send(message("Booking confirmed", dlt_template_id=""))


def test_nic_a_rejection_naming_a_request_id_is_not_an_acceptance(nic):
    # The guide's refusal carries "Request ID=" too; only code=API000 is an acceptance.
    nic.respond((200, "Message Rejected for Request ID=77~code=API-3& info=REJECTED: Empty"))
    with pytest.raises(PermanentSendError, match="API-3"):
        NicSmsBackend().send(message("Booking confirmed"))


@pytest.mark.parametrize(
    ("answer", "error"),
    [(503, TransientSendError), (429, RateLimitedError), (403, PermanentSendError)],
)
def test_nic_http_failures_are_classed_like_the_generic_gateway(nic, answer, error):
    nic.respond(answer)
    with pytest.raises(error):
        NicSmsBackend().send(message("Booking confirmed"))


@pytest.mark.django_db
def test_dispatcher_sends_hindi_through_nic_with_the_registered_ids(nic, settings, tmp_path):
    import json

    from notifications import dlt

    data = dlt.registry_regenerated({"entity_id": DLT["dlt_entity_id"], "header": "RTOMPB"})
    for item in data["templates"]:
        item["template_id"] = DLT["dlt_template_id"]
    path = tmp_path / "dlt.json"
    path.write_text(json.dumps(data, ensure_ascii=False))
    settings.DLT_TEMPLATES_FILE = str(path)
    row = NotificationFactory(language="hi", next_attempt_at=timezone.now())

    notifications_dispatch()

    row.refresh_from_db()
    assert (row.status, row.provider_id) == (Notification.Status.SENT, "12313946898506681700001")
    assert nic.decoded(nic.requests[0]) == row.body
    assert nic.requests[0]["fields"]["dlt_template_id"] == DLT["dlt_template_id"]


# --- C-DAC MSDG --------------------------------------------------------------------------------


@pytest.fixture
def msdg(settings):
    server = MsdgGateway(username="rtomp-msdg", password="s3cret", secure_key="sk-9").start()
    settings.SMS_GATEWAY_SECURE_KEY = "sk-9"
    settings.SMS_GATEWAY_REPORT_URL = server.report_url
    yield from _serving(settings, server, backend="msdg", username="rtomp-msdg", password="s3cret")


def test_msdg_english_is_singlemsg_signed_with_the_secure_key(msdg):
    import hashlib

    provider_id = MsdgSmsBackend().send(message("Booking MP04PB1 confirmed"))
    (request,) = msdg.requests
    assert request["method"] == "POST" and request["path"] == "/esms/sendsmsrequestDLT"
    fields = request["fields"]
    assert fields["password"] == hashlib.sha1(b"s3cret").hexdigest()  # noqa: S324
    assert (
        fields["key"]
        == hashlib.sha512(b"rtomp-msdgRTOMPBBooking MP04PB1 confirmedsk-9").hexdigest()
    )
    assert {k: fields[k] for k in ("username", "senderid", "smsservicetype", "mobileno")} == {
        "username": "rtomp-msdg",
        "senderid": "RTOMPB",
        "smsservicetype": "singlemsg",
        "mobileno": "919812345678",
    }
    assert fields["templateid"] == DLT["dlt_template_id"]
    assert provider_id == "150620161466000000001msdgsms"


def test_msdg_hindi_is_unicodemsg_as_html_entities(msdg):
    MsdgSmsBackend().send(message("बुकिंग MP04PB1 पक्की"))
    fields = msdg.requests[0]["fields"]
    assert fields["smsservicetype"] == "unicodemsg"
    assert fields["content"].startswith("&#2348;")
    assert msdg.decoded(msdg.requests[0]) == "बुकिंग MP04PB1 पक्की"


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ("401,Credentials Error, may be invalid username or password", PermanentSendError),
        ("ERROR : 406 Invalid mobile number", PermanentSendError),
        ("423,TEMPLATE_ID is mandatory and it should be 12 or 19 digit length", PermanentSendError),
        ("404,Internal Database Error", TransientSendError),
        ("409,SMSC response timed out, message will be submitted", TransientSendError),
        ("402,but no id", PermanentSendError),
    ],
)
def test_msdg_answers_are_classed_by_their_code(msdg, answer, error):
    msdg.respond((200, answer))
    with pytest.raises(error, match=answer.split(",")[0].split(":")[-1].strip()[:3]):
        MsdgSmsBackend().send(message("Booking confirmed"))


def test_msdg_a_wrong_secure_key_is_the_gateways_hash_error(msdg, settings):
    settings.SMS_GATEWAY_SECURE_KEY = "other"
    with pytest.raises(PermanentSendError, match="416"):
        MsdgSmsBackend().send(message("Booking confirmed"))


@pytest.mark.parametrize(
    ("state", "delivery"),
    [
        ("delivered", "delivered"),
        ("failed", "undelivered"),
        ("expired", "expired"),
        ("submitted", None),
    ],
)
def test_msdg_delivery_report_is_read_from_its_xml(msdg, state, delivery):
    msdg.report("150620161466000000001msdgsms", state)
    assert MsdgSmsBackend().delivery_status("150620161466000000001msdgsms") == delivery
    request = msdg.requests[-1]
    assert (request["method"], request["path"]) == ("GET", "/XMLForReportG/reportXMLNew")
    assert request["fields"] == {
        "userid": "rtomp-msdg",
        "password": "s3cret",
        "msgid": "150620161466000000001msdgsms",
    }


def test_msdg_report_trouble_is_transient(msdg):
    msdg.respond(503)
    with pytest.raises(TransientSendError):
        MsdgSmsBackend().delivery_status("x")
    msdg.respond((200, "<html>maintenance"))
    with pytest.raises(TransientSendError):
        MsdgSmsBackend().delivery_status("x")


# --- Gupshup -----------------------------------------------------------------------------------


def test_gupshup_request_fields(gupshup):
    provider_id = GupshupSmsBackend().send(message("Booking MP04PB1 confirmed"))
    (request,) = gupshup.requests
    assert request["method"] == "POST" and request["path"] == "/GatewayAPI/rest"
    assert request["fields"] == {
        "method": "SendMessage",
        "userid": "2000123456",
        "password": "s3cret",
        "auth_scheme": "plain",
        "v": "1.1",
        "format": "json",
        "send_to": "919812345678",
        "msg": "Booking MP04PB1 confirmed",
        "msg_type": "TEXT",
        "mask": "RTOMPB",
        "principalEntityId": DLT["dlt_entity_id"],
        "dltTemplateId": DLT["dlt_template_id"],
    }
    assert provider_id == "4843671605020300001-2420971527"


def test_gupshup_hindi_is_unicode_text_in_utf8(gupshup):
    GupshupSmsBackend().send(message("बुकिंग MP04PB1 पक्की"))
    fields = gupshup.requests[0]["fields"]
    assert (fields["msg_type"], fields["msg"]) == ("Unicode_text", "बुकिंग MP04PB1 पक्की")


def test_gupshup_error_answer_is_final_and_5xx_transient(gupshup, settings):
    settings.SMS_GATEWAY_PASSWORD = "wrong"
    with pytest.raises(PermanentSendError, match="105"):
        GupshupSmsBackend().send(message("Booking confirmed"))
    settings.SMS_GATEWAY_PASSWORD = "s3cret"
    gupshup.respond(502)
    with pytest.raises(TransientSendError):
        GupshupSmsBackend().send(message("Booking confirmed"))
    gupshup.respond((200, "<html>proxy error</html>"))
    with pytest.raises(TransientSendError):
        GupshupSmsBackend().send(message("Booking confirmed"))


def test_backends_are_chosen_by_settings(settings):
    settings.SMS_GATEWAY_URL = ""
    settings.SMS_BACKEND = "nic"
    assert get_sms_backend().url == "https://smsgw.sms.gov.in/failsafe/HttpLink"
    settings.SMS_BACKEND = "gupshup"
    assert get_sms_backend().url == "https://enterprise.smsgupshup.com/GatewayAPI/rest"
    settings.SMS_BACKEND, settings.SMS_GATEWAY_REPORT_URL = "msdg", ""
    backend = get_sms_backend()
    assert backend.url == "https://msdgweb.mgov.gov.in/esms/sendsmsrequestDLT"
    assert backend.report_url == "https://msdgweb.mgov.gov.in/XMLForReportG/reportXMLNew"
