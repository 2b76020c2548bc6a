"""`make run`'s embedded default: SQLite and in-process tasks, no PostgreSQL or Redis needed."""

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.live import free_port, wait_for

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.integration
def test_sqlite_default_migrates_seeds_and_serves_the_home_page(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "DJANGO_SECRET_KEY"}
    }
    env.update(
        DJANGO_DEBUG="true",
        DJANGO_SETTINGS_MODULE="rto_booking.settings",
        DATABASE_URL=f"sqlite:///{tmp_path / 'demo.sqlite3'}",
    )
    manage = [sys.executable, str(ROOT / "manage.py")]
    for command in (["migrate", "--noinput"], ["seed_demo", "--days", "3"], ["check_integrity"]):
        result = subprocess.run(
            manage + command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=180
        )
        assert result.returncode == 0, result.stdout + result.stderr
    port = free_port()
    server = subprocess.Popen(
        [*manage, "runserver", "--noreload", f"127.0.0.1:{port}"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def page(language):
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/", headers={"Accept-Language": language}
            )
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
                return response.read().decode()

        def up():
            try:
                page("en")
            except OSError:
                return False
            return True

        assert wait_for(up, timeout=30)
        english, hindi = page("en"), page("hi")
        for code in ("MP-04", "MP-09", "MP-07", "MP-20", "MP-13"):
            assert code in english
        assert "RTO Bhopal" in english and "Photo and biometrics" in english
        assert "आरटीओ भोपाल" in hindi and "कार्यालय" in hindi
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_compose_file_runs_the_whole_stack():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {
        "web",
        "worker-rescheduling",
        "worker-notifications",
        "beat",
        "postgres",
        "redis",
    } <= set(services)
    assert "-Q rescheduling" in services["worker-rescheduling"]["command"]
    assert "-Q notifications" in services["worker-notifications"]["command"]
    assert "beat" in services["beat"]["command"]
    assert "noeviction" in services["redis"]["command"]
