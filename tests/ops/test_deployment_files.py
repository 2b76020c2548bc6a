"""docker-compose.yml, .env.example and requirements.txt describe the whole stack."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def compose_services() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def test_every_long_running_service_has_a_health_check():
    services = compose_services()
    assert {
        "web",
        "worker-rescheduling",
        "worker-notifications",
        "beat",
        "flower",
        "postgres",
        "redis",
    } <= set(services)
    for name, service in services.items():
        if name == "migrate":
            continue
        assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"
    assert "/healthz" in str(services["web"]["healthcheck"]["test"])
    assert "rto_booking.health worker" in str(services["worker-notifications"]["healthcheck"])


def test_redis_never_evicts_and_persists():
    command = compose_services()["redis"]["command"]
    assert "--maxmemory-policy noeviction" in command
    assert "--appendonly yes" in command


def test_operations_packages_are_pinned():
    pins = {
        line.split("==")[0].split("[")[0].lower()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if "==" in line
    }
    assert {"flower", "prometheus-client", "python-json-logger", "django-csp"} <= pins


def test_env_example_names_every_variable_settings_read():
    settings_text = (ROOT / "rto_booking" / "settings.py").read_text()
    read = set(
        re.findall(r"""_(?:env\("\w+", |positive_int\()["']([A-Z][A-Z0-9_]+)["']""", settings_text)
    )
    assert len(read) > 40
    example = (ROOT / ".env.example").read_text()
    missing = sorted(name for name in read if not re.search(rf"^#? ?{name}=", example, re.M))
    assert not missing, f".env.example does not mention {missing}"


def test_env_example_values_carry_no_inline_comments():
    # django-environ and docker compose would take "value   # comment" as the whole value.
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            assert "#" not in line, line
