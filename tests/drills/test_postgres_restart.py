"""Drill (c): PostgreSQL goes away under a running web process, then comes back.

A private PostgreSQL server (own data directory and port) and a real gunicorn process on it.
While the server is stopped, API requests answer 503 with the API's error shape (code
`database_unavailable`), pages answer a friendly 503, /readyz says which check failed and
/healthz still says the process is up. When the server is back, the same gunicorn worker answers
200 again without a restart (the health check drops the dead persistent connection), and after a
restart between two requests the first request already answers 200.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.live import free_port, http_call, start_gunicorn, wait_for

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def call(port: int, path: str, **kwargs):
    return http_call(port, path, **kwargs)


def test_web_answers_503_while_postgres_is_down_and_recovers_without_restart(private_postgres):
    pg = private_postgres
    pg.create_database("rto_drill")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_", "REDIS_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="tests.settings",
        DATABASE_URL=pg.url("rto_drill"),
        REDIS_URL="",  # embedded: no Redis in this drill, only the database goes away
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DATABASE_CONN_MAX_AGE="600",  # a persistent connection that PostgreSQL will break
        LOG_FORMAT="json",
        PYTHONUNBUFFERED="1",
    )
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr

    port = free_port()
    web = start_gunicorn(
        env, port=port, log_dir=Path(tempfile.mkdtemp(prefix="drill-gunicorn-")), workers=1
    )
    try:
        assert wait_for(lambda: _up(port), timeout=20), web.log()
        status, _headers, body = call(port, "/api/v1/offices/")
        assert status == 200, body
        assert call(port, "/readyz")[0] == 200

        pg.stop(mode="fast")  # by its data directory; the shared server is not involved
        assert not pg.running()

        started = time.monotonic()
        status, headers, body = call(port, "/api/v1/offices/")
        assert status == 503, body
        error = json.loads(body)
        assert error["code"] == "database_unavailable" and error["detail"], error
        assert headers["Retry-After"] and headers["X-Request-ID"]
        # A staff token is looked up in the database: still a 503, never a 500 or a 401.
        status, _headers, body = call(
            port,
            "/api/v1/outages/",
            method="POST",
            body={"offices": ["MP-04"]},
            headers={"Authorization": "Token " + "0" * 40},
        )
        assert status == 503 and json.loads(body)["code"] == "database_unavailable", body
        status, _headers, page = call(port, "/", headers={"Accept": "text/html"})
        assert status == 503 and "Please try again in a few minutes" in page
        status, _headers, body = call(port, "/readyz")
        assert status == 503
        assert json.loads(body)["checks"]["postgresql"]["status"] == "fail"
        assert call(port, "/healthz")[0] == 200
        assert time.monotonic() - started < 10, "requests must fail fast, not hang"

        pg.start()  # same data directory, same port
        assert wait_for(lambda: call(port, "/api/v1/offices/")[0] == 200, timeout=15), web.log()
        assert call(port, "/readyz")[0] == 200

        # A restart between two requests: the worker's persistent connection is dead, and the
        # health check (rto_booking/postgresql/base.py) replaces it before the very first
        # request after the restart uses it: no 503 for that applicant.
        assert call(port, "/api/v1/offices/")[0] == 200
        pg.stop(mode="fast")
        pg.start()
        status, _headers, body = call(port, "/api/v1/offices/")
        assert status == 200, body
        assert web.alive()
        # The same worker process served before, during and after: no restart.
        assert web.log().count("Booting worker with pid") == 1, web.log()
    finally:
        web.stop()


def _up(port: int) -> bool:
    try:
        return call(port, "/healthz")[0] == 200
    except OSError:
        return False
