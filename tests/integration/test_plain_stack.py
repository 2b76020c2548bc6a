"""The stack as an operator starts it: the README's production steps and plain commands.

`migrate`, `collectstatic`, then `gunicorn rto_booking.wsgi`, `celery -A rto_booking worker`
(no -Q) and `celery -A rto_booking beat`, with production settings (rto_booking.settings, debug
off) and nothing shortened: SMS to files, e-mail through Django's file backend. An applicant
books through the API, a clerk marks the service down, and the booking is moved and both
messages go out. The faults then: a worker killed in the middle of a reschedule, Redis lost
while an outage is recorded, a dispatcher killed in the middle of a batch — each resumes
within a minute of a worker and Redis being there again, with the default settings.
"""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.utils import timezone
from rest_framework.authtoken.models import Token

from notifications.models import Notification
from slots.integrity import integrity_violations
from slots.models import Booking, BookingEvent, Outage
from slots.services.slot_generation import slots_generate
from tests.admin.conftest import ensure_groups
from tests.factories import UserFactory, daily_sessions, local_dt
from tests.integration.test_outage_live import _bulk_bookings
from tests.live import (
    FakeSmsGateway,
    database_url,
    free_port,
    http_call,
    manage,
    production_env,
    start_beat,
    start_gunicorn,
    start_plain_worker,
    start_private_redis,
    use_broker,
    wait_for,
    web_up,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
RESUME_WITHIN = 60  # seconds, with default settings (the promise)


class Stack:
    """Processes started with the README's commands; every one stopped by its own PID."""

    def __init__(self, tmp: Path, redis_url: str, **extra_env: str):
        self.tmp = tmp
        self.env = production_env(
            database_url=database_url(connection.settings_dict),
            redis_url=redis_url,
            tmp=tmp,
            **extra_env,
        )
        self.processes = []
        self.port = None

    def run_build_steps(self) -> None:
        for step in (["migrate", "--noinput"], ["collectstatic", "--noinput", "-v0"]):
            result = manage(self.env, *step)
            assert result.returncode == 0, result.stdout + result.stderr

    def web(self):
        self.port = free_port()
        web = start_gunicorn(self.env, port=self.port, log_dir=self.tmp / "logs")
        self.processes.append(web)
        assert wait_for(lambda: web_up(self.port) or not web.alive(), timeout=30), web.log()
        assert web.alive(), web.log()
        return web

    def worker(self, **extra_env: str):
        worker = start_plain_worker({**self.env, **extra_env}, log_dir=self.tmp / "logs")
        self.processes.append(worker)
        worker.wait_ready(timeout=60)
        return worker

    def beat(self):
        beat = start_beat(self.env, workdir=self.tmp / "beat", log_dir=self.tmp / "logs")
        self.processes.append(beat)
        return beat

    def stop(self):
        for process in reversed(self.processes):
            process.stop()
        for process in self.processes:
            process.kill()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.log()[-2500:]}" for p in self.processes)


@pytest.fixture
def redis(tmp_path):
    server = start_private_redis(log_dir=tmp_path / "redis")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def stack(tmp_path, redis):
    started = []

    def make(**extra_env: str) -> Stack:
        stack = Stack(tmp_path, redis.url, **extra_env)
        started.append(stack)
        return stack

    try:
        yield make
    finally:
        for stack in started:
            stack.stop()


def _sms(directory: Path) -> list[dict]:
    return [json.loads(path.read_text()) for path in sorted(directory.glob("*.json"))]


def _mail(directory: Path) -> str:
    return "".join(path.read_text(errors="replace") for path in sorted(directory.glob("*.log")))


def _declare(redis, office, day, *, days: int = 1):
    """A clerk marks the office's services down for `days` from `day`, published to `redis`."""
    from django.db import transaction

    from slots.services.outages import outage_create

    with use_broker(redis.url), transaction.atomic():
        return outage_create(
            offices=[office],
            starts_at=local_dt(day, 0),
            expected_end=local_dt(day + timedelta(days=days), 0),
            reason="Licence server down",
        )


def _api(port, path, **kwargs):
    status, _headers, body = http_call(port, path, **kwargs)
    return status, (json.loads(body) if body.startswith(("{", "[")) else body)


def test_plain_commands_book_move_and_tell_by_sms_and_email(stack, bhopal, bhopal_photo):
    daily_sessions(bhopal_photo, start=(10, 0), end=(12, 0), seats=4, reserve=1)
    slots_generate(days=10)
    clerk = UserFactory(username="clerk-bhopal-stack")
    bhopal.clerks.add(clerk)
    ensure_groups()  # the API honours the admin's groups: a real clerk is in "Clerk"
    clerk.groups.add(Group.objects.get(name="Clerk"))
    token = Token.objects.create(user=clerk).key
    day = timezone.localdate() + timedelta(days=3)

    plain = stack()
    plain.run_build_steps()
    web = plain.web()
    plain.worker()
    plain.beat()
    port = plain.port

    status, applicant = _api(
        port,
        "/api/v1/applicants/",
        method="POST",
        body={
            "full_name": "Kavita Raghuvanshi",
            "date_of_birth": "1999-02-03",
            "mobile": "9826012345",
            "email": "kavita@example.in",
            "preferred_language": "hi",
        },
    )
    assert status == 201, applicant
    assert applicant["mobile_verified"] is False
    sms_dir, mail_dir = plain.tmp / "sms", plain.tmp / "mail"
    # The one-time code comes by SMS through the worker (the outbox): read it as a person would.
    assert wait_for(lambda: any(m["kind"] == "mobile_code" for m in _sms(sms_dir)), timeout=30), (
        plain.logs()
    )
    code_sms = next(m for m in _sms(sms_dir) if m["kind"] == "mobile_code")
    assert code_sms["to"] == "+919826012345"
    code = re.search(r"\b(\d{6})\b", code_sms["text"]).group(1)
    status, verified = _api(
        port,
        "/api/v1/applicants/verify-mobile/",
        method="POST",
        body={"application_number": applicant["application_number"], "code": code},
    )
    assert (status, verified) == (200, {"mobile_verified": True})
    status, signed_in = _api(
        port,
        "/api/v1/auth/applicant/",
        method="POST",
        body={"application_number": applicant["application_number"], "date_of_birth": "1999-02-03"},
    )
    assert status == 200, signed_in
    bearer = {"Authorization": f"Bearer {signed_in['token']}"}
    status, days = _api(
        port,
        f"/api/v1/offices/MP-04/availability/?service=photo-biometrics&from={day}&to={day}",
    )
    slot = days["days"][0]["slots"][0]
    status, booking = _api(
        port, "/api/v1/bookings/", method="POST", body={"slot": slot["id"]}, headers=bearer
    )
    assert status == 201, booking

    assert wait_for(
        lambda: any(m["kind"] == "booking_confirmed" for m in _sms(sms_dir)), timeout=30
    ), plain.logs()
    assert wait_for(lambda: booking["reference"] in _mail(mail_dir), timeout=30), plain.logs()
    confirmation = next(m for m in _sms(sms_dir) if m["kind"] == "booking_confirmed")
    assert confirmation["to"] == "+919826012345" and booking["reference"] in confirmation["text"]
    assert "https://booking.rto.example.in/my/bookings/" in _mail(mail_dir)

    status, outage = _api(
        port,
        "/api/v1/outages/",
        method="POST",
        headers={"Authorization": f"Token {token}"},
        body={
            "offices": ["MP-04"],
            "services": ["photo-biometrics"],
            "starts_at": local_dt(day, 0).isoformat(),
            "expected_end": local_dt(day + timedelta(days=1), 0).isoformat(),
            "reason": "Photo-capture server down",
        },
    )
    assert status == 201, outage

    def moved():
        return _api(port, f"/api/v1/outages/{outage['id']}/")[1]["reschedule"]

    assert wait_for(lambda: moved()["state"] == "done", timeout=60), (moved(), plain.logs())
    assert moved()["moved"] == 1
    status, after = _api(port, f"/api/v1/bookings/{booking['reference']}/", headers=bearer)
    assert after["slot"]["starts_at"] >= local_dt(day + timedelta(days=1), 0).isoformat()
    assert after["priority"] is True
    assert wait_for(
        lambda: any(m["kind"] == "rescheduled_outage" for m in _sms(sms_dir)), timeout=30
    ), plain.logs()
    assert wait_for(lambda: _mail(mail_dir).count(booking["reference"]) >= 2, timeout=30)
    assert wait_for(
        lambda: all(
            n["status"] == "sent"
            for n in _api(port, f"/api/v1/bookings/{booking['reference']}/", headers=bearer)[1][
                "notifications"
            ]
        ),
        timeout=30,
    )

    # Production pages with the build steps done: the docs and an HTML 404 answer, never 500.
    assert http_call(port, "/api/docs/")[0] == 200
    assert http_call(port, "/no-such-page/", headers={"Accept": "text/html"})[0] == 404
    # Collected files are served hashed and cached for ever, the plain names for a while only,
    # and whitenoise's start asks the manifest about nothing it does not hold.
    page = http_call(port, "/", headers={"Accept": "text/html"})[2]
    hashed = re.search(r'/static/[^"]+\.[0-9a-f]{12}\.css', page)
    assert hashed, page[:2000]
    status, headers, _css = http_call(port, hashed.group(0))
    assert status == 200 and "immutable" in headers["Cache-Control"], headers
    status, headers, _css = http_call(port, re.sub(r"\.[0-9a-f]{12}\.", ".", hashed.group(0)))
    assert status == 200 and "immutable" not in headers["Cache-Control"], headers
    assert "not in the manifest" not in web.log()
    status, _headers, ready = http_call(port, "/readyz")
    assert status == 200, ready
    checks = json.loads(ready)["checks"]
    assert checks["email"]["status"] == checks["sms"]["status"] == "ok"
    assert integrity_violations() == {}


def test_web_refuses_to_start_without_collectstatic_and_says_so(stack):
    plain = stack()
    from tests.live import start_gunicorn as gunicorn

    web = gunicorn(plain.env, port=free_port(), log_dir=plain.tmp / "logs")
    plain.processes.append(web)
    assert wait_for(lambda: not web.alive(), timeout=30), web.log()
    assert "collectstatic --noinput" in web.log()


def test_a_worker_killed_mid_reschedule_resumes_within_a_minute(stack, redis, bhopal, bhopal_photo):
    daily_sessions(bhopal_photo, end=(17, 0), seats=100, reserve=10)
    slots_generate(days=14)
    day = timezone.localdate() + timedelta(days=3)
    total = _bulk_bookings(bhopal_photo, day, days=2, per_slot=60)  # 1,680 bookings

    plain = stack()
    plain.beat()
    # Small chunks (not a timer: only how much each transaction moves) make the run long
    # enough to be killed in the middle of it.
    first = plain.worker(RESCHEDULE_CHUNK_SIZE="10")
    outage = _declare(redis, bhopal, day, days=2)

    def progress():
        return Outage.objects.values_list("state", "moved").get(pk=outage.pk)

    assert wait_for(lambda: progress()[1] >= 50, timeout=60, interval=0.02), plain.logs()
    first.kill()
    state, moved_at_kill = progress()
    assert state == "running" and moved_at_kill < total, "the run ended before the kill"

    plain.worker()  # the plain command, default settings
    started = time.monotonic()
    assert wait_for(lambda: progress() == ("done", total), timeout=RESUME_WITHIN), (
        progress(),
        plain.logs(),
    )
    print(f"resumed and finished {time.monotonic() - started:.1f} s after the new worker")
    moves = BookingEvent.objects.filter(outage=outage, kind="rescheduled")
    assert moves.count() == total == moves.values("booking_id").distinct().count()
    sms = Notification.objects.filter(kind="rescheduled_outage", channel="sms")
    assert sms.count() == total == sms.values("booking_id").distinct().count()
    assert integrity_violations() == {}


def test_an_outage_recorded_while_redis_is_down_is_moved_within_a_minute_of_its_return(
    stack, redis, tmp_path, bhopal, bhopal_photo
):
    daily_sessions(bhopal_photo, start=(10, 0), end=(12, 0), seats=10, reserve=2)
    slots_generate(days=10)
    day = timezone.localdate() + timedelta(days=3)
    total = _bulk_bookings(bhopal_photo, day, days=1, per_slot=5)

    plain = stack()
    worker = plain.worker()
    plain.beat()

    # Redis goes while the worker is idle. (Lost in the middle of acknowledging a task, kombu
    # can end the worker with "Unrecoverable error"; a supervisor restarts it, README.md.)
    assert wait_for(lambda: worker.log().count(" succeeded in ") >= 2, timeout=30), worker.log()
    time.sleep(1)
    redis.stop()  # the private one, by its PID
    outage = _declare(redis, bhopal, day)
    time.sleep(3)
    assert Outage.objects.get(pk=outage.pk).state == "queued"  # the publish was lost

    back = start_private_redis(port=redis.port, log_dir=tmp_path / "redis-again")
    try:
        started = time.monotonic()
        assert wait_for(
            lambda: Outage.objects.get(pk=outage.pk).state == "done", timeout=RESUME_WITHIN
        ), plain.logs()
        print(f"moved {time.monotonic() - started:.1f} s after Redis came back")
        assert Booking.objects.filter(priority=True).count() == total
        assert wait_for(
            lambda: not Notification.objects.exclude(status="sent").exists(),
            timeout=RESUME_WITHIN,
        ), plain.logs()
    finally:
        back.stop()


def test_a_dispatcher_killed_mid_batch_hands_its_rows_back_within_a_minute(
    stack, redis, bhopal, bhopal_photo
):
    daily_sessions(bhopal_photo, start=(10, 0), end=(12, 0), seats=40, reserve=0)
    slots_generate(days=10)
    day = timezone.localdate() + timedelta(days=3)
    gateway = FakeSmsGateway(delay=0.15).start()  # a real gateway's answer time
    try:
        plain = stack(SMS_BACKEND="http", SMS_GATEWAY_URL=gateway.url, SMS_GATEWAY_API_KEY="k")
        total = _bulk_bookings(bhopal_photo, day, days=1, per_slot=20)
        first = plain.worker()
        _declare(redis, bhopal, day)
        sms = Notification.objects.filter(channel="sms")
        assert wait_for(lambda: len(gateway.accepted()) >= 10, timeout=60), plain.logs()
        first.kill()  # mid-batch: claimed rows, leased for minutes, are left behind
        assert sms.filter(status="pending", claimed_by__isnull=False).exists()

        plain.worker()
        started = time.monotonic()
        assert wait_for(
            lambda: sms.filter(status="sent").count() == total, timeout=RESUME_WITHIN
        ), (list(sms.values_list("status", "claimed_by")[:5]), plain.logs())
        print(f"all sent {time.monotonic() - started:.1f} s after the new worker")
        sent_to = {r["body"]["to"] for r in gateway.accepted()}
        assert len(sent_to) == total  # everybody reached (a few perhaps twice: at-least-once)
    finally:
        gateway.stop()
