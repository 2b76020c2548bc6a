"""`make run` (python -m rto_booking.embedded run): an embedded PostgreSQL and Redis, the demo
migrated and seeded, the web process with a real Celery worker and beat, and Ctrl-C stopping
all of it. Real processes throughout, on a data directory of the test's own; the machine's
PostgreSQL and Redis are neither used nor touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.live import free_port, wait_for

ROOT = Path(__file__).resolve().parent.parent
# Everything must be gone this long after Ctrl-C (each process has 15 s to stop by itself).
STOPPED_WITHIN = 45
EMBEDDED = [sys.executable, "-m", "rto_booking.embedded"]

# Run by `exec -- python manage.py shell -c` against the demo's database while `run` is up:
# book the demo applicant, mark that office down over the booking, and watch the rescheduling
# progress that only the worker of `run` can move (this process publishes to Redis, never runs
# the task itself).
OUTAGE_SCRIPT = """
import json, time
from datetime import timedelta
from django.conf import settings
from django.utils import timezone
from applicants.models import Applicant
from slots.errors import BookingError
from slots.models import Outage, Slot
from slots.services.bookings import booking_create
from slots.services.outages import outage_create

applicant = Applicant.objects.get(application_number="2611000001")
later = timezone.now() + timedelta(hours=3)
booking = None
for slot in Slot.objects.filter(starts_at__gt=later).order_by("starts_at")[:100]:
    try:
        booking = booking_create(applicant=applicant, slot_id=slot.pk)
        break
    except BookingError:
        continue
outage = outage_create(
    offices=[booking.office],
    services=[booking.service],
    expected_end=booking.slot.ends_at + timedelta(minutes=1),
    reason="Licence server down",
)
states = []
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    outage.refresh_from_db()
    if not states or states[-1] != outage.state:
        states.append(outage.state)
    if outage.state in ("done", "failed"):
        break
    time.sleep(0.05)
print(json.dumps({
    "eager": settings.CELERY_TASK_ALWAYS_EAGER,
    "states": states,
    "affected": outage.affected,
    "moved": outage.moved,
    "needs_new_slot": outage.needs_new_slot,
}))
"""


def _environment() -> dict[str, str]:
    """The user's environment with nothing that names a server or a demo setting."""
    unset = {"DATABASE_URL", "REDIS_URL", "EMBEDDED_DATA_DIR", "PORT", "SEED_DAYS", "SITE_URL"}
    return {
        key: value
        for key, value in os.environ.items()
        if key not in unset and not key.startswith("DJANGO_")
    }


def _page(port: int, language: str) -> str:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/", headers={"Accept-Language": language}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return response.read().decode()


def _gone(pid: int) -> bool:
    """The process has exited (a zombie not yet reaped by its parent counts as exited)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def _group_gone(pgid: int) -> bool:
    """No live process is left in the process group (a worker's pool, runserver's server)."""
    for stat_path in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat_path.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                return False
    return True


@pytest.mark.integration
@pytest.mark.timeout(600)
def test_make_run_is_the_real_stack_and_ctrl_c_stops_all_of_it(tmp_path):
    data_dir = tmp_path / "var"
    port = free_port()
    env = _environment()
    log_path = tmp_path / "run.log"
    with log_path.open("wb") as log:
        run = subprocess.Popen(
            [*EMBEDDED, "run", "--data-dir", str(data_dir), "--port", str(port), "--days", "3"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output() -> str:
        return log_path.read_text(errors="replace")

    try:
        worker_ready = re.compile(r"^worker +\| .*celery@\S+ ready", re.M)
        assert wait_for(
            lambda: (
                ("embedded | ready:" in output() and worker_ready.search(output()))
                or run.poll() is not None
            ),
            timeout=240,
        ), output()
        assert run.poll() is None, output()
        text = output()
        postgres_pid = int(re.search(r"PostgreSQL \(pid (\d+)\)", text).group(1))
        redis_pid = int(re.search(r"Redis \(pid (\d+)\)", text).group(1))
        children = {
            name: int(pid) for name, pid in re.findall(r"(web|worker|beat) pid (\d+)", text)
        }
        assert set(children) == {"web", "worker", "beat"}, text
        assert re.search(r"^web +\| .*Starting development server", text, re.M), text
        assert re.search(r"^beat +\| .*beat: Starting", text, re.M), text
        assert (data_dir / "postgres" / "PG_VERSION").exists()
        assert str(data_dir / "celerybeat-schedule") in text

        english, hindi = _page(port, "en"), _page(port, "hi")
        for code in ("MP-04", "MP-09", "MP-07", "MP-20", "MP-13"):
            assert code in english
        assert "RTO Bhopal" in english and "Photo and biometrics" in english
        assert "आरटीओ भोपाल" in hindi and "कार्यालय" in hindi

        # A second command on the same data: it joins the servers of `run` and leaves them up.
        manage_shell = [sys.executable, "manage.py", "shell", "-c", OUTAGE_SCRIPT]
        shell = subprocess.run(
            [*EMBEDDED, "exec", "--data-dir", str(data_dir), "--", *manage_shell],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert shell.returncode == 0, shell.stdout + shell.stderr
        progress = json.loads(shell.stdout.strip().splitlines()[-1])
        assert progress["eager"] is False
        assert progress["states"][-1] == "done", (progress, output())
        assert progress["states"][0] in {"queued", "running"}, progress
        assert progress["affected"] == 1
        assert progress["moved"] + progress["needs_new_slot"] == 1
        assert re.search(
            r"^worker +\| .*Task slots\.tasks\.reschedule_outage\[\S+\] succeeded", output(), re.M
        ), output()
        assert run.poll() is None and not _gone(postgres_pid) and not _gone(redis_pid)

        started = time.monotonic()
        os.kill(run.pid, signal.SIGINT)
        run.wait(timeout=STOPPED_WITHIN)
        assert run.returncode == 0, output()
        leftovers = [pid for pid in (postgres_pid, redis_pid) if not _gone(pid)]
        leftovers += [pgid for pgid in children.values() if not _group_gone(pgid)]
        assert leftovers == [], output()
        assert time.monotonic() - started < STOPPED_WITHIN
        text = output()
        assert "SIGINT: stopping everything" in text and "embedded | stopped" in text
        assert not (data_dir / "postgres" / "postmaster.pid").exists()
        assert (data_dir / "redis" / "redis.rdb").exists()  # saved on the way out
    finally:
        if run.poll() is None:
            # A failed assertion above: stop it the way a user would, then make sure.
            os.kill(run.pid, signal.SIGINT)
            try:
                run.wait(timeout=STOPPED_WITHIN)
            except subprocess.TimeoutExpired:
                os.killpg(run.pid, signal.SIGKILL)
                run.wait(timeout=10)


@pytest.mark.integration
def test_a_child_that_dies_stops_the_rest_and_is_named(tmp_path):
    """The web process cannot listen (its port is taken): the run stops the worker, beat,
    Redis and PostgreSQL, and exits non-zero naming the web process."""
    data_dir = tmp_path / "var"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [*EMBEDDED, "run", "--data-dir", str(data_dir), "--port", str(port), "--days", "1"],
            cwd=ROOT,
            env=_environment(),
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert result.returncode != 0
    assert "embedded | error: web died" in result.stderr, result.stdout + result.stderr
    assert re.search(r"^web +\| .*port is already in use", result.stdout, re.M), result.stdout
    assert "web exited (code 1): stopping the rest" in result.stdout
    assert "embedded | stopped" in result.stdout
    assert not (data_dir / "postgres" / "postmaster.pid").exists()
    redis_pid = int(re.search(r"Redis \(pid (\d+)\)", result.stdout).group(1))
    assert _gone(redis_pid)


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
