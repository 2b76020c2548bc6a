"""Benchmark: booking bursts and availability through the real API, against the raw-SQL limit.

Run: .venv/bin/python bench/bench_booking.py [--clients 64] [--bookings 5000] [--workers 4]

1. Builds its own PostgreSQL database (rto_bench_booking): Bhopal MP-04 with photo-biometrics
   slots for the next 9 days (60 seats every 30 minutes, 10:00–17:00), the six other offices
   of the demo with the four services for 30 days (a slot table of realistic size, see
   `_rest_of_the_state`) and 10,000 earlier bookings there (`_history`), 5,800 applicants with
   signed API tokens, and one extra slot of 50 seats for the last-seats phase. An identical copy
   (CREATE DATABASE … TEMPLATE) is made for the raw-SQL limit.
2. Starts gunicorn with production settings (DEBUG off, RATE_LIMITS=off, Redis as broker and
   cache; gunicorn.conf.py as deployed) and drives it with an epoll HTTP/1.1 client (64 requests
   in flight; it reports its own CPU per request, since it shares the 2 cores): 5,000 applicants
   each POST /api/v1/bookings/ for a slot in the next 7 days. Before timing, `--warmup` other
   applicants book the 8th day, so the timed burst meets workers that have connected and
   prepared their statements (the warm-up's slowest answer is reported). Then the last-seats
   phase: 500 clients at once for 50 seats.
3. The raw limit, in the same run: the same conditional UPDATE + INSERT straight through
   psycopg by the same number of clients (connected before timing), on the copy. The API burst
   and the raw limit take turns over `--rounds` parts of the applicants, so a busy neighbour on
   a shared machine slows both alike.
4. Availability: GET 31 days for one office × service, p50/p95 and queries per request.
5. Prints one table, checks nothing was overbooked (counters = rows, booked <= capacity) and
   writes bench/results/booking.json. Exit 1 only on wrong results (overbooking, lost answers).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import secrets
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432")
DB = "rto_bench_booking"
DB_RAW = "rto_bench_booking_raw"
DB_RAW_ROWS = "rto_bench_booking_raw_rows"
DB_PLAIN = "rto_bench_booking_variant"
DB_AGAINST = "rto_bench_booking_against"
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")
RESULTS = ROOT / "bench" / "results" / "booking.json"
TARGETS = {"ratio": 0.25, "p99_ms": 150, "availability_p95_ms": 15, "availability_queries": 4}


def configure_env() -> dict[str, str]:
    env = {
        "DJANGO_SETTINGS_MODULE": "rto_booking.settings",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_DEBUG": "false",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_COOKIES": "false",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": f"{PG.replace('postgresql://', 'postgres://')}/{DB}",
        "REDIS_URL": REDIS,
        "RATE_LIMITS": "off",
        "SMS_BACKEND": "console",
        "LOG_LEVEL": "WARNING",
        "LOG_FORMAT": "plain",
        "SITE_URL": "https://rto.example.in",
        # The README's production steps: static files collected (once per machine, below).
        "STATIC_ROOT": str(Path(tempfile.gettempdir()) / "rto-bench-static"),
    }
    os.environ.update(env)
    return env


def admin(sql: str) -> None:
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def recreate(name: str, template: str | None = None) -> None:
    admin(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"
    )
    admin(f"DROP DATABASE IF EXISTS {name}")
    admin(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""))


def build(bookings: int, last_clients: int, warmup: int = 0, history: int = 10_000) -> dict:
    """Catalogue, slots, applicants and tokens. Returns what the phases need."""
    import django
    from django.core.management import call_command

    recreate(DB)
    django.setup()
    call_command("migrate", verbosity=0)

    from datetime import time as clock

    from django.db import connection
    from django.utils import timezone

    from applicants.models import Applicant
    from applicants.tokens import applicant_token_issue
    from slots.models import Offering, Office, Service, Slot
    from slots.services.slot_generation import slots_generate
    from tests.factories import daily_sessions

    office = Office.objects.create(
        code="MP-04", name="RTO Bhopal", name_hi="आरटीओ भोपाल", district="Bhopal"
    )
    photo = Service.objects.create(
        slug="photo-biometrics", name="Photo and biometrics", name_hi="फोटो और बायोमेट्रिक"
    )
    learner = Service.objects.create(
        slug="learner-test", name="Learner's licence test", name_hi="लर्नर लाइसेंस परीक्षा"
    )
    offering = Offering.objects.create(office=office, service=photo)
    daily_sessions(offering, start=(10, 0), end=(17, 0), seats=60, reserve=0)
    slots_generate(days=9, offerings=Offering.objects.filter(pk=offering.pk))
    _rest_of_the_state(days=30)
    tomorrow = timezone.localdate() + timedelta(days=1)
    burst_slots = list(
        Slot.objects.filter(
            offering=offering,
            starts_at__date__gte=tomorrow,
            starts_at__date__lt=tomorrow + timedelta(days=7),
        )
        .order_by("starts_at")
        .values_list("pk", flat=True)
    )
    # Warm-up bookings go to the day after the burst's seven, so they take none of its seats.
    warmup_slots = list(
        Slot.objects.filter(offering=offering, starts_at__date=tomorrow + timedelta(days=7))
        .order_by("starts_at")
        .values_list("pk", flat=True)
    )
    # The last-seats slot: another service (so no applicant holds it already), 50 seats.
    last_offering = Offering.objects.create(office=office, service=learner)
    start = timezone.make_aware(
        timezone.datetime.combine(tomorrow + timedelta(days=2), clock(10, 0))
    )
    last_slot = Slot.objects.create(
        offering=last_offering,
        office=office,
        service=learner,
        starts_at=start,
        ends_at=start + timedelta(minutes=30),
        capacity=50,
    )
    verified_at = timezone.now()
    applicants = Applicant.objects.bulk_create(
        [
            Applicant(
                application_number=f"26{i:08d}",
                full_name=f"Applicant {i}",
                date_of_birth=date(1995, 1, 1),
                mobile=f"+9198{i:08d}",
                email=f"a{i}@example.in" if i % 2 else "",
                preferred_language="hi" if i % 3 == 0 else "en",
                mobile_verified_at=verified_at,  # the one-time code entered (MOBILE_VERIFICATION)
            )
            for i in range(bookings + last_clients + warmup + history)
        ],
        batch_size=2000,
    )
    applicants, earlier = (
        applicants[: len(applicants) - history],
        applicants[len(applicants) - history :],
    )
    tokens = [applicant_token_issue(applicant=a).token for a in applicants]
    _history(earlier)
    slot_count = Slot.objects.count()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    connection.close()
    return {
        "burst": [
            (
                tokens[i],
                burst_slots[i % len(burst_slots)],
                applicants[i].pk,
                applicants[i].mobile,
                applicants[i].email,
            )
            for i in range(bookings)
        ],
        "last": [(tokens[bookings + i], last_slot.pk, None) for i in range(last_clients)],
        "warmup": [
            (tokens[bookings + last_clients + i], warmup_slots[i % len(warmup_slots)], None)
            for i in range(warmup)
        ],
        "last_slot": last_slot.pk,
        "slots": slot_count,
        "earlier_bookings": len(earlier),
        "today": timezone.localdate(),
    }


def _rest_of_the_state(*, days: int) -> None:
    """The other offices of the demo, each with the four services and slots for `days` days.

    A real deployment's slot table holds every office's horizon (the demo alone makes ~17,000
    rows). The burst books one office only, but with nothing else in the table (127 rows in
    three pages) PostgreSQL reads a slot by a sequential scan, which walks every dead version
    the seat updates leave until vacuum comes: bookings per second fell by a fifth per 1,250
    bookings (docs/PERFORMANCE.md). With the rest of the state present, slots are read through
    their primary key, as in production, by the API and the raw limit alike."""
    from slots.models import Offering, Office, Service
    from slots.services.demo import OFFICES, SERVICES
    from slots.services.slot_generation import slots_generate
    from tests.factories import daily_sessions

    services = [
        Service.objects.get_or_create(
            slug=spec.slug, defaults={"name": spec.name, "name_hi": spec.name_hi}
        )[0]
        for spec in SERVICES
    ]
    offerings = []
    for code, name, name_hi, district, *_rest in OFFICES:
        if code == "MP-04":
            continue
        office = Office.objects.create(code=code, name=name, name_hi=name_hi, district=district)
        for service in services:
            offering = Offering.objects.create(office=office, service=service)
            daily_sessions(offering, start=(10, 0), end=(17, 0), seats=20, reserve=2)
            offerings.append(offering.pk)
    slots_generate(days=days, offerings=Offering.objects.filter(pk__in=offerings))


def _history(people: list) -> None:
    """A booking for each of `people`, made before the burst at the other offices, each with its
    BOOKED event and a sent SMS, and the slots' counters to match.

    A live system has them; a benchmark that starts with empty tables measures something else.
    PostgreSQL plans a foreign-key check once per connection: planned on an empty booking
    table, the check of every new history and outbox row against its booking is a sequential
    scan over all bookings made since, so the burst slowed as it went (docs/PERFORMANCE.md).
    The raw limit writes no row that refers to a booking, so it did not pay that."""
    from collections import Counter

    from django.utils import timezone

    from notifications.models import Notification
    from slots.hotpath import slots_booked_add
    from slots.models import Slot
    from tests.factories import booked_in_bulk

    slots = list(
        Slot.objects.exclude(office__code="MP-04")
        .select_related("office", "service")
        .order_by("starts_at", "pk")[: len(people) // 10]
    )
    now = timezone.now()
    bookings, events = booked_in_bulk(people, slots, reference="H")
    Notification.objects.bulk_create(
        [
            Notification(
                booking=event.booking,
                event_key=f"event:{event.pk}",
                channel=Notification.Channel.SMS,
                kind=Notification.Kind.BOOKING_CONFIRMED,
                recipient=event.booking.applicant.mobile,
                status=Notification.Status.SENT,
                sent_at=now,
            )
            for event in events
        ],
        batch_size=2000,
    )
    slots_booked_add(Counter(booking.slot_id for booking in bookings))


# --- A small asyncio HTTP/1.1 client ------------------------------------------------------------


class _Response(asyncio.Protocol):
    """Just enough HTTP/1.1 to read a status and a Content-Length body: the load generator
    shares the 2 cores with the server, so it parses nothing it does not need."""

    def __init__(self):
        self.transport = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future | None = None
        self.closed = False

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.buffer += data
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buffer[:end]).lower()
        at = head.find(b"\r\ncontent-length:")
        length = 0
        if at >= 0:
            stop = head.find(b"\r\n", at + 2)
            length = int(head[at + 17 : stop if stop >= 0 else len(head)])
        if len(self.buffer) < end + 4 + length:
            return
        status = int(self.buffer[9:12])
        del self.buffer[: end + 4 + length]
        waiter.set_result((status, b"\r\nconnection: close" in head))

    def connection_lost(self, exc):
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("server closed the connection"))


class Connection:
    """One client: keeps the connection while the server does (gunicorn's sync workers close
    after every answer, so a burst client reconnects per request, as a browser would)."""

    def __init__(self, port: int):
        self.port = port
        self.protocol: _Response | None = None

    async def request(self, method: str, path: str, body: bytes = b"", headers=()) -> int:
        loop = asyncio.get_running_loop()
        if self.protocol is None or self.protocol.closed:
            _transport, self.protocol = await loop.create_connection(
                _Response, "127.0.0.1", self.port
            )
        head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *headers]
        if body:
            head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        protocol = self.protocol
        protocol.waiter = loop.create_future()
        protocol.transport.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        status, close = await protocol.waiter
        if close:
            await self.close()
        return status

    async def close(self):
        if self.protocol is not None:
            self.protocol.transport.close()
            self.protocol = None


def _booking_request(token: str, slot_id: int) -> bytes:
    body = b'{"slot": %d}' % slot_id
    return (
        b"POST /api/v1/bookings/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
        + token.encode()
        + b"\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
        + body
    )


def _complete(buffer: bytearray) -> int | None:
    """The status of a complete response in `buffer`, or None while more is to come."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = bytes(buffer[:end]).lower()
    at = head.find(b"\r\ncontent-length:")
    length = 0
    if at >= 0:
        stop = head.find(b"\r\n", at + 2)
        length = int(head[at + 17 : stop if stop >= 0 else len(head)])
    return int(buffer[9:12]) if len(buffer) >= end + 4 + length else None


def burst(port: int, jobs: list, clients: int) -> dict:
    """POST a booking for each (token, slot, _) with `clients` requests in flight.

    Non-blocking sockets and one epoll loop, no asyncio: the load generator shares the 2 cores
    with the server, so it should cost as little as it can (its CPU per request is reported).
    gunicorn's sync workers close the connection after every answer, so each request has its
    own connection, as a browser's would after `Connection: close`. A request whose connection
    fails is retried twice, then counted as 599.
    """
    selector = selectors.DefaultSelector()
    waiting = collections.deque(jobs)
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    def start(job, attempt: int = 0, began: float | None = None) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", port))
        request = _booking_request(job[0], job[1])
        state = [job, attempt, began or time.perf_counter(), request, bytearray()]
        selector.register(sock, selectors.EVENT_WRITE, state)

    def finish(sock, state, status: int | None) -> None:
        selector.unregister(sock)
        sock.close()
        job, attempt, began = state[0], state[1], state[2]
        if status is None and attempt < 2:
            start(job, attempt + 1, began)
            return
        status = status or 599
        latencies.append((time.perf_counter() - began) * 1000)
        statuses[status] = statuses.get(status, 0) + 1
        if waiting:
            start(waiting.popleft())

    began, cpu = time.perf_counter(), time.process_time()
    for _ in range(min(clients, len(waiting))):
        start(waiting.popleft())
    while selector.get_map():
        for key, events in selector.select():
            sock, state = key.fileobj, key.data
            try:
                if events & selectors.EVENT_WRITE:
                    if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                        raise ConnectionError("connect failed")
                    sent = sock.send(state[3])
                    state[3] = state[3][sent:]
                    if not state[3]:
                        selector.modify(sock, selectors.EVENT_READ, state)
                    continue
                data = sock.recv(65536)
                if not data:
                    raise ConnectionError("closed before a whole answer")
                state[4] += data
                status = _complete(state[4])
                if status is not None:
                    finish(sock, state, status)
            except OSError:
                finish(sock, state, None)
    elapsed = time.perf_counter() - began
    return {
        "elapsed": elapsed,
        "latencies": latencies,
        "statuses": statuses,
        "client_cpu_ms": (time.process_time() - cpu) * 1000 / max(len(jobs), 1),
    }


def _parts(jobs: list, rounds: int) -> list[list]:
    size = -(-len(jobs) // max(rounds, 1))
    return [jobs[i : i + size] for i in range(0, len(jobs), size)]


def _combined(parts: list[dict]) -> dict:
    """One result from the rounds: times and counts add up, latencies pool."""
    total = sum(len(part["latencies"]) for part in parts) or 1
    combined = {"elapsed": sum(part["elapsed"] for part in parts), "latencies": []}
    for part in parts:
        combined["latencies"] += part["latencies"]
        for key in ("booked", "full"):
            if key in part:
                combined[key] = combined.get(key, 0) + part[key]
        for status, count in part.get("statuses", {}).items():
            combined.setdefault("statuses", {})
            combined["statuses"][status] = combined["statuses"].get(status, 0) + count
        if "client_cpu_ms" in part:
            share = len(part["latencies"]) / total
            combined["client_cpu_ms"] = (
                combined.get("client_cpu_ms", 0) + part["client_cpu_ms"] * share
            )
    return combined


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


async def _raw_clients(dsn: str, jobs: list, clients: int, *, autocommit: bool, book) -> dict:
    """`clients` psycopg connections take jobs off one queue; `book(conn, job)` makes one
    booking and says whether it got the seat. Connected first, as the web workers' persistent
    connections are: only bookings are timed."""
    queue: asyncio.Queue = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)
    done = {"booked": 0, "full": 0}
    latencies: list[float] = []

    async def client(conn):
        try:
            while not queue.empty():
                job = queue.get_nowait()
                began = time.perf_counter()
                done["booked" if await book(conn, job) else "full"] += 1
                latencies.append((time.perf_counter() - began) * 1000)
        finally:
            await conn.close()

    connections = await asyncio.gather(
        *(psycopg.AsyncConnection.connect(dsn, autocommit=autocommit) for _ in range(clients))
    )
    began = time.perf_counter()
    await asyncio.gather(*(client(conn) for conn in connections))
    return {**done, "elapsed": time.perf_counter() - began, "latencies": latencies}


async def raw_limit(jobs: list, clients: int) -> dict:
    """The same conditional UPDATE + INSERT, straight through psycopg, on the identical copy."""

    async def book(conn, job) -> bool:
        _token, slot_id, applicant_id, *_contact = job
        cursor = await conn.execute(
            "UPDATE slots_slot SET booked = booked + 1 "
            "WHERE id = %s AND booked < capacity RETURNING office_id, service_id",
            [slot_id],
        )
        row = await cursor.fetchone()
        if row is None:
            await conn.rollback()
            return False
        await conn.execute(
            "INSERT INTO slots_booking (reference, applicant_id, slot_id, office_id, "
            "service_id, status, priority, self_reschedules, created_at, updated_at) "
            "VALUES (%s, %s, %s, %s, %s, 'confirmed', false, 0, now(), now())",
            [secrets.token_hex(5).upper(), applicant_id, slot_id, row[0], row[1]],
        )
        await conn.commit()
        return True

    return await _raw_clients(f"{PG}/{DB_RAW}", jobs, clients, autocommit=False, book=book)


# The rows a booking writes, straight through psycopg: the seat, the booking, its BOOKED event
# and one outbox row per channel with a context of the size the service writes, one statement.
_RAW_ROWS_SQL = """
WITH seat AS (
    UPDATE slots_slot SET booked = booked + 1 WHERE id = %(slot)s AND booked < capacity
    RETURNING id, office_id, service_id, starts_at
), b AS (
    INSERT INTO slots_booking (reference, applicant_id, slot_id, office_id, service_id, status,
                               priority, self_reschedules, created_at, updated_at)
    SELECT %(reference)s, %(applicant)s, seat.id, seat.office_id, seat.service_id, 'confirmed',
           false, 0, now(), now() FROM seat
    RETURNING id, slot_id
), e AS (
    INSERT INTO slots_bookingevent (booking_id, at, kind, actor, to_slot_id, to_starts_at, reason)
    SELECT b.id, now(), 'booked', 'applicant', b.slot_id, seat.starts_at, '' FROM b, seat
    RETURNING id, booking_id
)
INSERT INTO notifications_notification (
    booking_id, event_key, channel, kind, language, recipient, context, subject, body,
    body_html, status, attempts, next_attempt_at, last_error, provider_id, created_at)
SELECT e.booking_id, 'event:' || e.id, ch.channel, 'booking_confirmed', 'en', ch.recipient,
       %(context)s::jsonb, '', '', '', 'pending', 0, now(), '', '', now()
FROM e CROSS JOIN LATERAL (VALUES ('sms', %(mobile)s), ('email', %(email)s)) ch(channel, recipient)
WHERE ch.recipient <> ''
RETURNING booking_id
"""
_RAW_CONTEXT = json.dumps(
    {
        "reference": "ABCDEFGHJK",
        "full_name": "Applicant 1234",
        "office": {
            "code": "MP-04",
            "name": "RTO Bhopal",
            "name_hi": "आरटीओ भोपाल",
            "address": "",
            "address_hi": "",
        },
        "service": {
            "slug": "photo-biometrics",
            "name": "Photo and biometrics",
            "name_hi": "फोटो और बायोमेट्रिक",
        },
        "slot": {"starts_at": "2026-12-02T04:30:00+00:00", "ends_at": "2026-12-02T05:00:00+00:00"},
        "links": {"booking": "https://rto.example.in/my/bookings/ABCDEFGHJK/"},
        "event_id": 1,
        "from_starts_at": None,
        "to_starts_at": "2026-12-02T04:30:00+00:00",
        "outage": None,
    },
    ensure_ascii=False,
)


async def raw_rows_limit(jobs: list, clients: int) -> dict:
    """What a booking writes (seat, booking, event, outbox rows), straight through psycopg in
    one statement per booking, on its own identical copy: the floor under the API that writes
    the same rows."""

    async def book(conn, job) -> bool:
        _token, slot_id, applicant_id, mobile, email = job
        cursor = await conn.execute(
            _RAW_ROWS_SQL,
            {
                "slot": slot_id,
                "reference": secrets.token_hex(5).upper(),
                "applicant": applicant_id,
                "context": _RAW_CONTEXT,
                "mobile": mobile,
                "email": email,
            },
        )
        return await cursor.fetchone() is not None

    return await _raw_clients(f"{PG}/{DB_RAW_ROWS}", jobs, clients, autocommit=True, book=book)


async def availability(port: int, today: date, requests: int) -> list[float]:
    conn = Connection(port)
    path = (
        "/api/v1/offices/MP-04/availability/?service=photo-biometrics"
        f"&from={today.isoformat()}&to={(today + timedelta(days=30)).isoformat()}"
    )
    latencies = []
    for _ in range(requests):
        began = time.perf_counter()
        status = await conn.request("GET", path)
        latencies.append((time.perf_counter() - began) * 1000)
        if status != 200:
            raise RuntimeError(f"availability answered {status}")
    await conn.close()
    return latencies


def availability_queries(today: date) -> int:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    path = (
        "/api/v1/offices/MP-04/availability/?service=photo-biometrics"
        f"&from={today.isoformat()}&to={(today + timedelta(days=30)).isoformat()}"
    )
    client.get(path, HTTP_HOST="127.0.0.1")  # warm
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, HTTP_HOST="127.0.0.1")
    assert response.status_code == 200, response.content[:300]
    return len(queries)


def overbooking(db: str) -> dict:
    with psycopg.connect(f"{PG}/{db}") as conn:
        over = conn.execute("SELECT count(*) FROM slots_slot WHERE booked > capacity").fetchone()
        mismatched = conn.execute(
            "SELECT count(*) FROM slots_slot s LEFT JOIN ("
            " SELECT slot_id, count(*) AS n FROM slots_booking"
            " WHERE status IN ('confirmed','attended','no_show') GROUP BY slot_id) b"
            " ON b.slot_id = s.id WHERE s.booked <> coalesce(b.n, 0)"
        ).fetchone()
    return {"overbooked_slots": over[0], "counter_mismatches": mismatched[0]}


def start_gunicorn(
    env: dict,
    workers: int,
    threads: int,
    *,
    database: str = DB,
    cwd: Path = ROOT,
    config: Path | None = None,
) -> tuple[subprocess.Popen, int]:
    """gunicorn as deployed (./gunicorn.conf.py of `cwd`, or `config`) on `database`."""
    from tests.live import free_port, wait_for

    port = free_port()
    process = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "rto_booking.wsgi",
            *(["-c", str(config)] if config else []),
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--bind",
            f"127.0.0.1:{port}",
            "--backlog",
            "2048",
            "--keep-alive",
            "30",
            "--log-level",
            "warning",
        ],
        cwd=cwd,
        env={
            **os.environ,
            **env,
            "DATABASE_URL": f"{PG.replace('postgresql://', 'postgres://')}/{database}",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )

    def ready():
        try:
            return asyncio.run(Connection(port).request("GET", "/api/v1/offices/")) == 200
        except OSError:
            return False

    if not wait_for(ready, timeout=60, interval=0.3):
        process.kill()
        raise RuntimeError("gunicorn did not start")
    return process, port


def _checkout(rev: str) -> Path:
    """A worktree of `rev` beside the checkout (for the A/B against an earlier commit)."""
    path = Path(tempfile.gettempdir()) / f"rto-bench-{rev.replace('/', '-')}"
    if not path.exists():
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(path), rev],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
    return path


def _rates(part: dict, key: str) -> float:
    return part[key] / part["elapsed"] if part["elapsed"] else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--bookings", type=int, default=5000)
    parser.add_argument(
        "--rounds",
        type=int,
        default=4,
        help="the contenders take turns in this many parts of the applicants",
    )
    parser.add_argument("--last-clients", type=int, default=500)
    parser.add_argument(
        "--warmup",
        type=int,
        default=300,
        help="bookings (other applicants, another day) sent before timing, so every worker has "
        "connected, prepared its statements and loaded its code before the timed burst",
    )
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument(
        "--threads", type=int, default=1, help="threads per worker (> 1: gthread workers)"
    )
    parser.add_argument(
        "--variants",
        default="control,plain-forms",
        help="contenders beside the code as it is, each on its own copy of the database "
        "(comma-separated names of bench/variants.py; `+` combines, e.g. a+b; empty: none). "
        "Default: control (the same code again: the run's noise) and plain-forms (the A/B of "
        "slots/hotpath.py)",
    )
    parser.add_argument(
        "--against",
        metavar="REV",
        help="also run the API of an earlier commit (a worktree in /tmp) on an identical copy, "
        "side by side: the A/B of what changed since",
    )
    parser.add_argument(
        "--py-spy",
        metavar="FILE",
        help="record the gunicorn workers with py-spy during the burst (collapsed stacks to FILE; "
        "py-spy is not in requirements.txt: pip install py-spy)",
    )
    args = parser.parse_args()

    env = configure_env()
    began = time.perf_counter()
    data = build(args.bookings, args.last_clients, args.warmup)
    print(
        f"set-up: {args.bookings + args.last_clients + args.warmup} applicants, "
        f"{data['earlier_bookings']} earlier bookings, {data['slots']} slots "
        f"in {time.perf_counter() - began:.1f} s (not timed)"
    )
    collected = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )
    if collected.returncode:
        raise RuntimeError(f"collectstatic failed: {collected.stderr}")
    variants = [name for name in args.variants.split(",") if name]
    copies = [DB_RAW, DB_RAW_ROWS, *(f"{DB_PLAIN}_{i}" for i in range(len(variants)))]
    if args.against:
        copies.append(DB_AGAINST)
    for copy in copies:
        recreate(copy, template=DB)

    import redis

    redis.Redis.from_url(REDIS).flushdb()
    servers = {"api": start_gunicorn(env, args.workers, args.threads)}
    for i, variant in enumerate(variants):
        servers[f"api, {variant}"] = start_gunicorn(
            {**env, "BENCH_VARIANT": variant.replace("+", ",")},
            args.workers,
            args.threads,
            database=f"{DB_PLAIN}_{i}",
            config=ROOT / "bench" / "gunicorn_variant.py",
        )
    if args.against:
        servers[f"api at {args.against}"] = start_gunicorn(
            env, args.workers, args.threads, database=DB_AGAINST, cwd=_checkout(args.against)
        )
    server, port = servers["api"]
    spy = None
    if args.py_spy:
        spy = subprocess.Popen(
            [
                str(ROOT / ".venv" / "bin" / "py-spy"),
                "record",
                "--subprocesses",
                "--format",
                "raw",
                "--rate",
                "200",
                "--pid",
                str(server.pid),
                "-o",
                args.py_spy,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1)
    results: dict[str, list[dict]] = {name: [] for name in servers}
    results["raw"], results["raw, same rows"] = [], []
    warm = {}
    try:
        for name, (_process, each_port) in servers.items():
            warm[name] = burst(each_port, data["warmup"], args.clients) if data["warmup"] else None
        # The contenders take turns on the same applicants (`--rounds` parts), each on its own
        # identical copy of the database, so a busy neighbour on a shared machine slows all
        # alike and the ratios stay fair.
        order = list(servers)
        for part in _parts(data["burst"], args.rounds):
            # Each round in another order: whoever goes first (right after the raw limits'
            # writes) meets a busier database.
            for name in order:
                results[name].append(burst(servers[name][1], part, args.clients))
            order = order[1:] + order[:1]
            if spy is not None and len(results["api"]) == args.rounds:
                spy.send_signal(2)
                spy.wait(timeout=60)
            results["raw"].append(asyncio.run(raw_limit(part, args.clients)))
            results["raw, same rows"].append(asyncio.run(raw_rows_limit(part, args.clients)))
        last = burst(port, data["last"], args.last_clients)
        avail = asyncio.run(availability(port, data["today"], 200))
    finally:
        for process, _each_port in servers.values():
            process.terminate()
            process.wait(timeout=15)
    combined = {name: _combined(parts) for name, parts in results.items()}
    api, raw, raw_rows = combined["api"], combined["raw"], combined["raw, same rows"]
    queries = availability_queries(data["today"])
    checks = overbooking(DB)
    with psycopg.connect(f"{PG}/{DB}") as conn:
        last_booked = conn.execute(
            "SELECT booked FROM slots_slot WHERE id = %s", [data["last_slot"]]
        ).fetchone()[0]

    api_ok = api["statuses"].get(201, 0)
    api_rate = api_ok / api["elapsed"]
    raw_rate = _rates(raw, "booked")
    raw_rows_rate = _rates(raw_rows, "booked")
    five_xx = sum(
        n
        for phase in (last, *combined.values(), *(w for w in warm.values() if w))
        for s, n in phase.get("statuses", {}).items()
        if s >= 500
    )
    side_by_side = {
        name: {
            "bookings_per_s": round(part["statuses"].get(201, 0) / part["elapsed"], 1),
            "p99_ms": round(percentile(part["latencies"], 99), 1),
            "vs_api": round((part["statuses"].get(201, 0) / part["elapsed"]) / api_rate, 3),
        }
        for name, part in combined.items()
        if name not in {"api", "raw", "raw, same rows"}
    }
    result = {
        "machine": {
            "cores": os.cpu_count(),
            "rounds": args.rounds,
            "gunicorn_workers": args.workers,
            "gunicorn_threads": args.threads,
        },
        "clients": args.clients,
        "burst": {
            "requests": len(data["burst"]),
            "statuses": api["statuses"],
            "bookings_per_s": round(api_rate, 1),
            "p50_ms": round(percentile(api["latencies"], 50), 1),
            "p95_ms": round(percentile(api["latencies"], 95), 1),
            "p99_ms": round(percentile(api["latencies"], 99), 1),
            "load_generator_cpu_ms_per_request": round(api["client_cpu_ms"], 3),
        },
        "raw": {
            "bookings_per_s": round(raw_rate, 1),
            "p99_ms": round(percentile(raw["latencies"], 99), 1),
        },
        "raw_same_rows": {
            "bookings_per_s": round(raw_rows_rate, 1),
            "p99_ms": round(percentile(raw_rows["latencies"], 99), 1),
        },
        "ratio": round(api_rate / raw_rate, 3) if raw_rate else None,
        "ratio_same_rows": round(api_rate / raw_rows_rate, 3) if raw_rows_rate else None,
        "side_by_side": side_by_side,
        "warmup": {
            name: {
                "requests": len(data["warmup"]),
                "statuses": w["statuses"] if w else {},
                "max_ms": round(max(w["latencies"]), 1) if w else None,
            }
            for name, w in warm.items()
        },
        "last_seats": {
            "clients": args.last_clients,
            "seats": 50,
            "statuses": last["statuses"],
            "booked": last_booked,
            "p99_ms": round(percentile(last["latencies"], 99), 1),
        },
        "availability": {
            "p50_ms": round(percentile(avail, 50), 2),
            "p95_ms": round(percentile(avail, 95), 2),
            "mean_ms": round(statistics.mean(avail), 2),
            "queries": queries,
        },
        "five_xx": five_xx,
        **checks,
        "targets": TARGETS,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, default=str))

    def verdict(ok):
        return "met" if ok else "MISSED"

    print()
    print(f"{'measure':38} {'value':>12}  target")
    rows = [
        ("booking API bookings/s", f"{api_rate:.0f}", ""),
        ("raw SQL bookings/s (same clients)", f"{raw_rate:.0f}", ""),
        ("raw SQL, the same rows, bookings/s", f"{raw_rows_rate:.0f}", ""),
        (
            "ratio API / raw",
            f"{result['ratio']:.2f}",
            f">= {TARGETS['ratio']:.2f}: {verdict(result['ratio'] >= TARGETS['ratio'])}",
        ),
        ("ratio API / raw, the same rows", f"{result['ratio_same_rows']:.2f}", ""),
        *(
            (
                f"{name} bookings/s",
                f"{entry['bookings_per_s']:.0f}",
                f"API / this: {1 / entry['vs_api']:.2f}×" if entry["vs_api"] else "",
            )
            for name, entry in side_by_side.items()
        ),
        (
            "booking p50 / p95 ms",
            f"{result['burst']['p50_ms']:.0f} / {result['burst']['p95_ms']:.0f}",
            "",
        ),
        (
            "booking p99 ms",
            f"{result['burst']['p99_ms']:.0f}",
            f"<= {TARGETS['p99_ms']}: {verdict(result['burst']['p99_ms'] <= TARGETS['p99_ms'])}",
        ),
        ("burst answers", json.dumps(api["statuses"]), ""),
        (
            "warm-up (not timed): answers, slowest",
            f"{json.dumps(warm['api']['statuses'])}, {max(warm['api']['latencies']):.0f} ms"
            if warm.get("api")
            else "none",
            "",
        ),
        ("load generator CPU ms / request", f"{api['client_cpu_ms']:.2f}", ""),
        ("last seats: answers", json.dumps(last["statuses"]), "50 × 201, 450 × 409"),
        ("5xx", str(five_xx), "0"),
        (
            "overbooked slots / counter mismatches",
            f"{checks['overbooked_slots']} / {checks['counter_mismatches']}",
            "0 / 0",
        ),
        (
            "availability p50 / p95 ms",
            f"{result['availability']['p50_ms']:.1f} / {result['availability']['p95_ms']:.1f}",
            f"p95 <= {TARGETS['availability_p95_ms']}: "
            f"{verdict(result['availability']['p95_ms'] <= TARGETS['availability_p95_ms'])}",
        ),
        (
            "availability queries per request",
            str(queries),
            f"<= {TARGETS['availability_queries']}: "
            f"{verdict(queries <= TARGETS['availability_queries'])}",
        ),
    ]
    for name, value, target in rows:
        print(f"{name:38} {value:>12}  {target}")
    print(f"wrote {RESULTS.relative_to(ROOT)}")

    others_wrong = any(
        part["statuses"].get(201, 0) != len(data["burst"])
        for part in (combined[name] for name in side_by_side)
    )
    wrong = (
        checks["overbooked_slots"]
        or checks["counter_mismatches"]
        or last_booked != 50
        or last["statuses"].get(201, 0) != 50
        or five_xx
        or sum(api["statuses"].values()) != len(data["burst"])
        or others_wrong
        or any(w and w["statuses"].get(201, 0) != len(data["warmup"]) for w in warm.values())
    )
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
