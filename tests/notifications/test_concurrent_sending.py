"""Concurrent, rate-aware sending: many requests in flight, connections reused, the gateway's
rate and its 429 `Retry-After` obeyed, the generic gateway contract to the letter, e-mail over
real SMTP, soonest appointments first. Real local servers (tests/gateways.py), no mocks."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.backends import (
    HttpSmsBackend,
    PermanentSendError,
    RateLimitedError,
    SmsMessage,
    TransientSendError,
    parse_retry_after,
)
from notifications.dispatcher import notifications_dispatch
from notifications.models import Notification
from notifications.ratelimit import PAUSE_KEY, RateLimiter
from tests.factories import ApplicantFactory, BookingFactory, NotificationFactory
from tests.gateways import GenericGateway, SlowSmtpServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def generic(settings):
    server = GenericGateway(api_key="test-key").start()
    settings.SMS_BACKEND = "http"
    settings.SMS_GATEWAY_URL = server.url
    settings.SMS_GATEWAY_API_KEY = "test-key"
    settings.SMS_GATEWAY_TIMEOUT = 2.0
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def smtp(settings):
    server = SlowSmtpServer(delay=0.05).start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = server.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    try:
        yield server
    finally:
        server.stop()


def due_rows(count: int, **kwargs) -> list[Notification]:
    return NotificationFactory.create_batch(
        count, next_attempt_at=timezone.now() - timedelta(seconds=1), **kwargs
    )


def message(text: str = "Booking ABC confirmed", **kwargs) -> SmsMessage:
    return SmsMessage(
        to="+919800000001",
        text=text,
        reference="ABC",
        kind="booking_confirmed",
        language="en",
        notification_id=7,
        **kwargs,
    )


# --- The generic gateway contract (docs/API.md, "SMS gateways") ------------------------------


def test_generic_gateway_request_is_the_contract_to_the_letter(generic, settings):
    settings.SMS_GATEWAY_SENDER_ID = "RTOMPB"
    provider_id = HttpSmsBackend().send(message())
    (request,) = generic.requests
    assert provider_id == "gw-1"
    assert request["api_key"] == "test-key"
    assert request["content_type"] == "application/json"
    assert request["body"] == {
        "to": "+919800000001",
        "text": "Booking ABC confirmed",
        "sender": "RTOMPB",
        "unicode": False,
        "reference": "ABC:7",
    }


def test_hindi_is_unicode_and_dlt_ids_travel_when_known(generic):
    HttpSmsBackend().send(
        message("बुकिंग ABC पक्की", dlt_template_id="1107161234567890123", dlt_entity_id="1101")
    )
    body = generic.requests[0]["body"]
    assert body["unicode"] is True
    assert (body["dlt_template_id"], body["dlt_entity_id"]) == ("1107161234567890123", "1101")


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ((200, {"status": "queued"}), TransientSendError),  # 2xx without an id: not accepted
        (429, RateLimitedError),
        (500, TransientSendError),
        (503, TransientSendError),
        (400, PermanentSendError),
        (401, PermanentSendError),
        (404, PermanentSendError),
        (422, PermanentSendError),
    ],
)
def test_generic_gateway_answers(generic, answer, error):
    generic.respond(answer)
    with pytest.raises(error):
        HttpSmsBackend().send(message())


def test_429_carries_retry_after(generic):
    generic.retry_after = "7"
    generic.respond(429)
    with pytest.raises(RateLimitedError) as raised:
        HttpSmsBackend().send(message())
    assert raised.value.retry_after == 7


def test_retry_after_as_seconds_or_http_date():
    from email.utils import format_datetime

    assert parse_retry_after("3") == 3
    assert parse_retry_after("") is None and parse_retry_after("soon") is None
    later = format_datetime(timezone.now() + timedelta(seconds=30), usegmt=True)
    assert 25 <= parse_retry_after(later) <= 31


def test_time_out_is_transient(settings):
    server = GenericGateway(delay=1.0).start()
    settings.SMS_GATEWAY_URL = server.url
    settings.SMS_GATEWAY_TIMEOUT = 0.2
    try:
        with pytest.raises(TransientSendError, match="unreachable"):
            HttpSmsBackend().send(message())
    finally:
        server.stop()


# --- Concurrency in one dispatcher run ---------------------------------------------------------


def test_many_sms_in_flight_on_kept_alive_connections(generic, settings):
    settings.SMS_MAX_IN_FLIGHT = 8
    generic.delay = 0.2
    rows = due_rows(32)

    result = notifications_dispatch()

    assert result.sent == 32
    per_row = Counter(r["body"]["reference"].rsplit(":", 1)[1] for r in generic.accepted())
    assert set(per_row) == {str(row.pk) for row in rows} and max(per_row.values()) == 1
    assert 2 <= generic.max_in_flight <= 8
    # One connection per sending thread, reused for its messages.
    assert len(generic.connections) <= 8


def test_soonest_appointments_go_first(generic, settings):
    settings.SMS_MAX_IN_FLIGHT = 1
    rows = due_rows(4)
    # Written in the opposite order of their appointments.
    for days, row in zip((9, 7, 5, 3), rows, strict=True):
        starts = (timezone.now() + timedelta(days=days)).isoformat()
        row.context = {**row.context, "slot": {**row.context["slot"], "starts_at": starts}}
        row.save(update_fields=["context"])

    notifications_dispatch()

    order = [int(r["body"]["reference"].rsplit(":", 1)[1]) for r in generic.accepted()]
    assert order == [row.pk for row in reversed(rows)]


def test_a_moved_booking_counts_by_its_original_time(generic, settings):
    settings.SMS_MAX_IN_FLIGHT = 1
    later, moved = due_rows(2)
    soon = (timezone.now() + timedelta(days=1)).isoformat()
    far = (timezone.now() + timedelta(days=20)).isoformat()
    later.context = {**later.context, "slot": {"starts_at": far}}
    moved.context = {**moved.context, "slot": {"starts_at": far}, "from_starts_at": soon}
    for row in (later, moved):
        row.save(update_fields=["context"])

    notifications_dispatch()

    order = [int(r["body"]["reference"].rsplit(":", 1)[1]) for r in generic.accepted()]
    assert order == [moved.pk, later.pk]


def test_429_pauses_and_the_message_is_sent_once_without_counting_an_attempt(generic, settings):
    settings.SMS_MAX_IN_FLIGHT = 2
    generic.respond(429, 429, 429)
    rows = due_rows(5)

    result = notifications_dispatch()

    assert result.sent == 5
    assert generic.statuses().count(429) == 3
    per_row = Counter(r["body"]["reference"] for r in generic.accepted())
    assert len(per_row) == 5 and max(per_row.values()) == 1
    for row in rows:
        row.refresh_from_db()
        assert (row.status, row.attempts) == ("sent", 1)


def test_retry_after_beyond_the_lease_hands_the_row_back_for_then(generic, settings):
    settings.NOTIFICATION_CLAIM_LEASE_SECONDS = 6  # 3 s of sending per claim
    generic.retry_after = "60"
    generic.respond(429)
    (row,) = due_rows(1)
    before = timezone.now()

    result = notifications_dispatch()

    row.refresh_from_db()
    assert (result.sent, result.released) == (0, 1)
    assert (row.status, row.attempts, row.claimed_by) == ("pending", 0, None)
    assert 55 <= (row.next_attempt_at - before).total_seconds() <= 62


def test_429_without_retry_after_is_a_retry_with_back_off(generic, settings):
    generic.retry_after = None
    generic.respond(429)
    (row,) = due_rows(1)

    notifications_dispatch()

    row.refresh_from_db()
    assert (row.status, row.attempts) == ("failed", 1)
    assert "429" in row.last_error and row.next_attempt_at > timezone.now()


def test_a_gateway_failing_for_a_while_loses_nothing(generic, settings):
    settings.SMS_MAX_IN_FLIGHT = 4
    generic.respond(*([500] * 6), *([429] * 3), 503, 502)
    rows = due_rows(10)

    for _ in range(6):
        Notification.objects.filter(status="failed").update(next_attempt_at=timezone.now())
        notifications_dispatch()

    assert set(Notification.objects.values_list("status", flat=True)) == {"sent"}
    per_row = Counter(r["body"]["reference"] for r in generic.accepted())
    assert len(per_row) == len(rows) and max(per_row.values()) == 1


def test_emails_go_over_a_few_reused_smtp_connections(smtp, settings):
    settings.EMAIL_MAX_IN_FLIGHT = 3
    rows = [
        NotificationFactory(
            booking=BookingFactory(applicant=ApplicantFactory(email=f"a{i}@example.in")),
            channel=Notification.Channel.EMAIL,
            next_attempt_at=timezone.now(),
        )
        for i in range(12)
    ]

    result = notifications_dispatch()

    assert result.sent == 12
    ids = Counter(int(m["notification_id"]) for m in smtp.messages)
    assert set(ids) == {row.pk for row in rows} and max(ids.values()) == 1
    peers = {m["peer"] for m in smtp.messages}
    assert 1 <= len(peers) <= 3


def test_sms_and_email_of_one_run_are_sent_side_by_side(generic, smtp, settings):
    applicant = ApplicantFactory(email="both@example.in")
    booking = BookingFactory(applicant=applicant)
    NotificationFactory(booking=booking, event_key="event:x", next_attempt_at=timezone.now())
    NotificationFactory(
        booking=booking,
        event_key="event:x",
        channel=Notification.Channel.EMAIL,
        next_attempt_at=timezone.now(),
    )
    assert notifications_dispatch().sent == 2
    assert len(generic.accepted()) == 1 and len(smtp.messages) == 1


# --- The rate ----------------------------------------------------------------------------------


def test_the_rate_holds_across_runs_sharing_the_count(settings):
    """Two limiters (two dispatcher runs) at 20 a second together: no wall-clock second
    gets more than 20 tokens (the shared count), however the threads interleave."""
    from django.core.cache import cache

    cache.delete(PAUSE_KEY)
    stamps: list[float] = []
    lock = threading.Lock()

    def run(limiter: RateLimiter) -> None:
        for _ in range(25):
            assert limiter.acquire(stop_at=time.monotonic() + 30)
            with lock:
                stamps.append(time.time())

    threads = [threading.Thread(target=run, args=(RateLimiter(20),)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    per_second = Counter(int(stamp) for stamp in stamps)
    assert len(stamps) == 50
    # A token granted in the last instant of a second may be stamped in the next one: one
    # such slip per limiter at most.
    assert max(per_second.values()) <= 20 + 2


def test_a_pause_stops_every_limiter_sharing_the_cache():
    from django.core.cache import cache

    cache.delete(PAUSE_KEY)
    first, second = RateLimiter(100), RateLimiter(100)
    first.pause(30)
    # The other run learns of the pause from the cache: no token before its end.
    assert second.acquire(stop_at=time.monotonic() + 0.3) is False
    cache.delete(PAUSE_KEY)
