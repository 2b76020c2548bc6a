"""Property-based run of the served OpenAPI schema against a live server on PostgreSQL.

A real HTTP server (gunicorn, in a subprocess) answers on the pytest-django test database, so
every generated request goes through the whole stack: WSGI, middleware, DRF, services and
PostgreSQL. Each operation gets a batch of generated cases; every answer must not be a 5xx and
must match the schema's response for its status.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import requests
from django.db import connection
from hypothesis import HealthCheck, given, settings
from rest_framework.authtoken.models import Token

from applicants.tokens import applicant_token_issue
from slots.services.bookings import booking_create
from slots.services.outages import outage_create
from tests.conftest import in_days
from tests.factories import SlotFactory
from tests.live import database_url

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
CASES_PER_OPERATION = 25
ALERT_TOKEN = "schemathesis-alert-token"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def live_server_url(tmp_path):
    port = _free_port()
    log = (tmp_path / "gunicorn.log").open("wb")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(connection.settings_dict),
        "DATABASE_CONN_MAX_AGE": "0",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "RATE_LIMITS": "off",
        "ALERT_WEBHOOK_TOKEN": ALERT_TOKEN,
        "PYTHONUNBUFFERED": "1",
    }
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "rto_booking.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "4",
            "--timeout",
            "60",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                # A first request on a loaded machine may take seconds (workers importing,
                # the first query): a slow answer is waited for again, not an error.
                if requests.get(f"{url}/api/v1/offices/", timeout=10).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                log.flush()
                raise RuntimeError(f"gunicorn did not start: {log.name}")
            time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture
def seeded(bhopal_photo, indore_photo, learner, applicant, clerk_bhopal):
    first = SlotFactory(offering=bhopal_photo, starts_at=in_days(2, 9), capacity=3)
    for day in range(2, 6):
        for hour in (10, 11):
            SlotFactory(offering=bhopal_photo, starts_at=in_days(day, hour), capacity=3)
            SlotFactory(offering=indore_photo, starts_at=in_days(day, hour), capacity=3)
    token, _created = Token.objects.get_or_create(user=clerk_bhopal)
    booking = booking_create(applicant=applicant, slot_id=first.pk)
    outage = outage_create(
        offices=[bhopal_photo.office], expected_end=in_days(30), starts_at=in_days(29), reason="x"
    )
    return {
        "applicant": f"Bearer {applicant_token_issue(applicant=applicant).token}",
        "staff": f"Token {token.key}",
        "monitoring": f"Bearer {ALERT_TOKEN}",
        "reference": booking.reference,
        "outage": outage.pk,
    }


def _run_operation(*, strategy, headers, base_url, session, checks, statuses) -> None:
    @settings(
        max_examples=CASES_PER_OPERATION,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case):
        case.headers = {**(case.headers or {}), **headers}
        response = case.call_and_validate(base_url=base_url, session=session, checks=checks)
        statuses[response.status_code] += 1

    run()


def test_served_schema_holds_for_generated_requests(live_server_url, seeded):
    import schemathesis
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import response_schema_conformance

    schema = schemathesis.openapi.from_url(f"{live_server_url}/api/schema/?format=json")
    session = requests.Session()
    checks = [not_a_server_error, response_schema_conformance]
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 16
    # Path parameters that exist, so generated bodies and queries reach the views' real work.
    known = {"code": "MP-04", "reference": seeded["reference"], "id": seeded["outage"]}
    statuses: Counter[int] = Counter()

    for operation in operations:
        tags = operation.definition.raw.get("tags") or []
        caller = "staff" if "staff" in tags else "monitoring" if "monitoring" in tags else None
        headers = {"Authorization": seeded[caller or "applicant"]}
        names = {p.name for p in operation.path_parameters}
        strategies = [operation.as_strategy()]
        if names:
            fixed = {name: known[name] for name in names}
            strategies.append(operation.as_strategy(path_parameters=fixed))
        for strategy in strategies:
            _run_operation(
                strategy=strategy,
                headers=headers,
                base_url=live_server_url,
                session=session,
                checks=checks,
                statuses=statuses,
            )
    print(
        f"schemathesis: {sum(statuses.values())} cases, statuses {dict(sorted(statuses.items()))}"
    )
    assert sum(statuses.values()) >= 300
    # The generated data must also reach the successful paths, not only validation errors.
    assert statuses[200] + statuses[201] >= 50
