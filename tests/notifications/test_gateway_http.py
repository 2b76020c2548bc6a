"""The gateways' HTTP client keeps what requests gave: the proxy the environment names (and
NO_PROXY), and clear "unreachable" errors — real HTTP to the local fake gateway."""

from __future__ import annotations

import pytest

from notifications.backends import HttpSmsBackend, SmsMessage, TransientSendError
from tests.gateways import GenericGateway

# A host that cannot resolve: only a proxy can reach it.
NOWHERE = "http://sms-gateway.invalid/send"


@pytest.fixture
def gateway(settings, monkeypatch):
    server = GenericGateway(api_key="test-key").start()
    settings.SMS_GATEWAY_URL = NOWHERE
    settings.SMS_GATEWAY_API_KEY = "test-key"
    settings.SMS_GATEWAY_TIMEOUT = 2.0
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    try:
        yield server
    finally:
        server.stop()


def message() -> SmsMessage:
    return SmsMessage(
        to="+919800000001",
        text="Booking ABC confirmed",
        reference="ABC",
        kind="booking_confirmed",
        language="en",
        notification_id=7,
    )


def test_the_proxy_the_environment_names_carries_the_sms(gateway, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", gateway.url)  # the fake gateway answers as the proxy
    backend = HttpSmsBackend()
    try:
        assert backend.send(message())
    finally:
        backend.close()
    [request] = gateway.accepted()
    assert request["body"]["to"] == "+919800000001"
    assert request["api_key"] == "test-key"


def test_no_proxy_for_the_gateway_goes_direct(gateway, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", gateway.url)
    monkeypatch.setenv("NO_PROXY", "sms-gateway.invalid")
    backend = HttpSmsBackend()
    try:
        with pytest.raises(TransientSendError, match="unreachable"):
            backend.send(message())
    finally:
        backend.close()
    assert gateway.accepted() == []


def test_without_a_proxy_an_unresolvable_gateway_is_a_retry(gateway):
    backend = HttpSmsBackend()
    try:
        with pytest.raises(TransientSendError, match="unreachable"):
            backend.send(message())
    finally:
        backend.close()
