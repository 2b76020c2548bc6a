"""Every PostgreSQL advisory lock the product takes, in one place.

Advisory locks are taken in the two-key form `(namespace, key)`, so the product's locks never
collide with each other or with anybody else's:

* `RESCHEDULE_GROUP` — transaction locks, one per office × service: the rescheduler's chunks,
  slot generation and an outage's undo take them (always all of them in one sorted order, so
  two writers never wait for each other in a cycle) before they lock slots.
* `OUTAGE_RUN` — a session lock per outage, held by the process running its reschedule for the
  whole run. A second run of the same outage finds it taken and leaves the work to the first;
  the reconcile finds a *free* lock on an unfinished outage and knows, as a fact rather than
  from a timer, that its run died (worker killed, task lost): PostgreSQL drops a session's locks
  the moment its connection goes.
* `DISPATCHER` — a session lock per notification dispatcher run, keyed by the run's claim token
  (stored on the rows it claims): rows claimed under a token whose lock is free belong to a
  dispatcher that died, and are handed back at once instead of waiting for their lease.
* `ALERT_FINGERPRINT` — a transaction lock per monitoring alert (a hash of its fingerprint):
  the webhook's firing/resolved handling and a clerk's confirmation of that alert's proposals
  run one at a time (monitoring.services).
* `REGISTRATION` — a transaction lock per person registering (a hash of the normalised full
  name, date of birth and mobile): two identical registrations at once make one applicant, the
  second finds the first (applicants.services.applicant_register).
* `BALLOT_DRAW` — a session lock per office × service × day being drawn (a hash of the three):
  the beat's next round, arriving while a long draw runs, leaves that day to it, so each
  ballot's order is one shuffle and its positions one sequence (slots.services.ballot_draw).
"""

from __future__ import annotations

import contextlib
import secrets
import zlib
from collections.abc import Iterable, Iterator

from django.db import connection

RESCHEDULE_GROUP = 7001
OUTAGE_RUN = 7002
DISPATCHER = 7003
ALERT_FINGERPRINT = 7004
# One key (0): SMS claims take it for their transaction, so the per-mobile hourly count of one
# claim sees every other claim's rows (notifications/dispatcher.py, SMS_MAX_PER_HOUR).
SMS_CAP = 7005
REGISTRATION = 7006
BALLOT_DRAW = 7007

# Keys are PostgreSQL int4 values; tokens are drawn from the positive half, so that pg_locks
# (which shows the key as an unsigned oid) shows them unchanged.
_INT4_MAX = 2**31 - 1


def xact_lock_all(namespace: int, keys: Iterable[int], *, timeout_s: int) -> None:
    """Take transaction-level locks on every key, in ascending order, waiting at most
    `timeout_s` seconds (then PostgreSQL raises lock_not_available). Must run in a transaction;
    the locks go with it."""
    ordered = sorted(set(keys))
    if not ordered:
        return
    with connection.cursor() as cursor:
        # set_config(…, true) is SET LOCAL as a function: it takes a bound parameter.
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{int(timeout_s)}s"])
        cursor.execute(
            "SELECT count(pg_advisory_xact_lock(%s, k)) "
            "FROM (SELECT k FROM unnest(%s::int[]) AS k ORDER BY k) AS ordered",
            [namespace, ordered],
        )


@contextlib.contextmanager
def session_lock(namespace: int, key: int) -> Iterator[bool]:
    """Try to take a session lock on this connection for the block; yields whether it did.

    Held across the block's transactions; released at the end (or by PostgreSQL when the
    connection dies, which is what makes a free lock mean a dead holder)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [namespace, key])
        acquired = bool(cursor.fetchone()[0])
    try:
        yield acquired
    finally:
        if acquired and connection.connection is not None:
            with contextlib.suppress(Exception), connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [namespace, key])


def held_keys(namespace: int) -> set[int]:
    """Keys of `namespace` some session holds right now (any process, any connection)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT objid::text::bigint FROM pg_locks "
            "WHERE locktype = 'advisory' AND classid = %s::int::oid AND objsubid = 2 AND granted",
            [namespace],
        )
        return {row[0] for row in cursor.fetchall()}


def hashed_key(*parts) -> int:
    """A stable int4 key for a lock on a thing named by several values."""
    return zlib.crc32(":".join(str(part) for part in parts).encode()) & _INT4_MAX


def new_token() -> int:
    """A random key for a session lock that names one run (e.g. a dispatcher's claims)."""
    return secrets.randbelow(_INT4_MAX) + 1
