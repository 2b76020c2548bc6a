"""The monitoring settings come from the environment like every other (tests/test_settings_env)."""

import os
import subprocess
import sys

import pytest

from tests.test_settings_env import ROOT, _start

PRINT = (
    "import django; django.setup(); from django.conf import settings as s; "
    "print(repr(s.ALERT_WEBHOOK_TOKEN), s.OUTAGE_AUTO_DECLARE)"
)


def _read(**env_overrides: str) -> str:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "ALERT_", "OUTAGE_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="rto_booking.settings",
        DJANGO_SECRET_KEY="a-test-secret-key-that-is-long-enough-for-django-checks-0123456789",
        **env_overrides,
    )
    result = subprocess.run(
        [sys.executable, "-c", PRINT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_a_bad_auto_declare_value_fails_at_start_naming_the_variable():
    result = _start(OUTAGE_AUTO_DECLARE="sometimes")
    assert result.returncode != 0 and "OUTAGE_AUTO_DECLARE" in result.stderr


@pytest.mark.parametrize(
    ("env", "read"),
    [
        ({}, "'' False"),
        (
            {"ALERT_WEBHOOK_TOKEN": "from-the-env", "OUTAGE_AUTO_DECLARE": "true"},
            "'from-the-env' True",
        ),
    ],
)
def test_token_and_auto_mode_are_read_from_the_environment(env, read):
    assert _read(**env) == read
