"""Settings come from the environment; a bad value stops the process naming the variable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _start(**env_overrides) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    env.update(
        DJANGO_SETTINGS_MODULE="rto_booking.settings",
        DJANGO_SECRET_KEY="a-test-secret-key-that-is-long-enough-for-django-checks-0123456789",
        DATABASE_URL="sqlite:////tmp/rto-settings-test.sqlite3",
    )
    env.update(env_overrides)
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
        ("BOOKING_HORIZON_DAYS", "thirty"),
        ("BOOKING_CUTOFF_MINUTES", "-5"),
        ("SMS_BACKEND", "carrier-pigeon"),
    ],
)
def test_a_bad_value_fails_at_start_naming_the_variable(variable, value):
    result = _start(**{variable: value})
    assert result.returncode != 0
    assert "started" not in result.stdout
    assert variable in result.stderr


def test_good_values_start():
    result = _start(DJANGO_DEBUG="false", REDIS_URL="redis://127.0.0.1:6379/0", RATE_LIMITS="off")
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout
