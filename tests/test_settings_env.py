"""Settings come from the environment; a bad value stops the process naming the variable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _start(**env_overrides: str | None) -> subprocess.CompletedProcess:
    """Load the settings in a fresh process (nothing connects); an override of None unsets."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    env.update(
        DJANGO_SETTINGS_MODULE="rto_booking.settings",
        DJANGO_SECRET_KEY="a-test-secret-key-that-is-long-enough-for-django-checks-0123456789",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/rto_booking",
    )
    env.update(env_overrides)
    env = {key: value for key, value in env.items() if value is not None}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DJANGO_DEBUG", "perhaps"),
        ("DATABASE_URL", "not-a-database-url"),
        ("REDIS_URL", "http://127.0.0.1:6379"),
        ("RATE_LIMITS", "sometimes"),
        ("MOBILE_VERIFICATION", "later"),
        ("APPLICANTS_PER_MOBILE", "-1"),
        ("BOOKING_HORIZON_DAYS", "thirty"),
        ("BOOKING_CUTOFF_MINUTES", "-5"),
        ("SMS_BACKEND", "carrier-pigeon"),
        ("REMINDER_HOURS", "two days"),
        ("RELEASE_UNCONFIRMED", "maybe"),
        ("RELEASE_AFTER_HOURS", "-1"),
        ("RELEASE_LAST_CALL_MINUTES", "soon"),
    ],
)
def test_a_bad_value_fails_at_start_naming_the_variable(variable, value):
    result = _start(**{variable: value})
    assert result.returncode != 0
    assert "started" not in result.stdout
    assert variable in result.stderr


@pytest.mark.parametrize(
    "overrides",
    [
        {"REMINDER_HOURS": "12", "RELEASE_AFTER_HOURS": "12"},  # the last call before the reminder
        {"RELEASE_AFTER_HOURS": "2", "RELEASE_LAST_CALL_MINUTES": "120"},  # released too late
    ],
)
def test_release_timings_that_contradict_each_other_fail_at_start(overrides):
    result = _start(**overrides)
    assert result.returncode != 0
    assert "RELEASE_" in result.stderr
    assert _start(RELEASE_UNCONFIRMED="true", RELEASE_AFTER_HOURS="6").returncode == 0


def test_msdg_without_its_secure_key_fails_at_start_naming_it():
    login = {"SMS_GATEWAY_USERNAME": "rtomp", "SMS_GATEWAY_PASSWORD": "pw"}
    result = _start(SMS_BACKEND="msdg", SMS_GATEWAY_SECURE_KEY=None, **login)
    assert result.returncode != 0 and "SMS_GATEWAY_SECURE_KEY" in result.stderr
    assert _start(SMS_BACKEND="msdg", SMS_GATEWAY_SECURE_KEY="k", **login).returncode == 0


def test_good_values_start():
    result = _start(
        DJANGO_DEBUG="false",
        REDIS_URL="redis://127.0.0.1:6379/0",
        RATE_LIMITS="off",
        MOBILE_VERIFICATION="off",
    )
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


@pytest.mark.parametrize("value", [None, ""])
def test_a_missing_database_url_fails_naming_it_and_make_run(value):
    result = _start(DATABASE_URL=value)
    assert result.returncode != 0
    assert "started" not in result.stdout
    assert "DATABASE_URL is not set" in result.stderr
    assert "`make run` starts an embedded PostgreSQL" in result.stderr


@pytest.mark.parametrize(
    "value", ["sqlite:////tmp/rto.sqlite3", "sqlite://:memory:", "mysql://rto:rto@127.0.0.1/rto"]
)
def test_a_database_url_other_than_postgresql_fails_naming_it(value):
    result = _start(DATABASE_URL=value)
    assert result.returncode != 0
    assert "started" not in result.stdout
    assert "DATABASE_URL" in result.stderr
    assert "PostgreSQL is the only database engine" in result.stderr


@pytest.mark.parametrize(
    "value",
    [
        "postgres://postgres@127.0.0.1:5432/rto_booking",
        "postgresql://postgres:@/rto_booking?host=/tmp/embedded/postgres",  # embedded's form
    ],
)
def test_a_postgresql_database_url_starts(value):
    result = _start(DATABASE_URL=value)
    assert result.returncode == 0, result.stderr
