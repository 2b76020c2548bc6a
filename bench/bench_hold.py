"""Benchmark: a statewide outage "until further notice" — every booking held, then placed once
when its end is known — by the Django path vs. the set-based SQL limit of each.

Run: .venv/bin/python bench/bench_hold.py

The same statewide data as bench_reschedule.py (50 offices x 2 services, ~39,200 confirmed
bookings over two days), in its own database (rto_bench_hold). The outage is open-ended with a
hold horizon that reaches past the two days, so every booking is held:

1. hold: `outage_reschedule` puts them on hold (status, seat given back, history, outbox) vs.
   one SQL transaction doing the same on an identical copy;
2. place: the outage is given its end (as `outage_extend` records it), and
   `outage_reschedule` places every held booking FIFO after it (seats taken, history,
   outbox) vs. one SQL transaction.

Checks: both paths end in the same assignment, events and outbox; integrity_violations() == {}.
Target (issue "Outages as they really happen"): each ≤ 2x its SQL limit. Writes
bench/results/hold.json. Exit 0 when the results are right (a missed target is reported), 1 on
wrong results.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

os.environ.setdefault("BENCH_RESCHEDULE_DB", "rto_bench_hold")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_reschedule as base
from django.conf import settings
from django.db import connections
from django.db.models import F
from django.utils import timezone

import notifications.services as notification_services
from notifications.models import Notification
from slots.integrity import integrity_violations
from slots.models import Booking, Outage
from slots.services.reschedule import outage_reschedule

TARGET_RATIO = 2.0
RESULTS = base.ROOT / "bench" / "results" / "hold.json"

# The rescheduler limit's outbox statement (bench_reschedule.SQL_STEPS), for one kind.
_RESCHEDULE_OUTBOX = base.SQL_STEPS[-2]
OUTBOX = _RESCHEDULE_OUTBOX[_RESCHEDULE_OUTBOX.index("INSERT INTO notifications_notification") :]
OUTBOX = OUTBOX.replace(
    "CASE WHEN ev.kind = 'rescheduled' THEN 'rescheduled_outage' ELSE 'needs_new_slot' END",
    "%(kind)s",
)
assert "%(kind)s" in OUTBOX

HOLD_STEPS = [
    base.SQL_STEPS[0],  # the outage's groups
    # The bookings of the hold horizon, locked.
    """
    CREATE TEMP TABLE a ON COMMIT DROP AS
    SELECT b.id, b.slot_id, s.starts_at AS from_starts
    FROM slots_booking b
    JOIN g ON g.office_id = b.office_id AND g.service_id = b.service_id
    JOIN slots_slot s ON s.id = b.slot_id
    WHERE b.status = 'confirmed' AND s.starts_at < %(horizon)s
      AND s.ends_at > greatest(%(start)s, now())
    """,
    "SELECT 1 FROM slots_booking b JOIN a ON a.id = b.id FOR UPDATE OF b",
    """
    UPDATE slots_booking b SET status = 'on_hold', held_by_id = %(outage)s, priority = true,
        updated_at = now()
    FROM a WHERE a.id = b.id
    """,
    """
    UPDATE slots_slot s SET booked = s.booked - d.n
    FROM (SELECT slot_id, count(*) AS n FROM a GROUP BY slot_id) d WHERE s.id = d.slot_id
    """,
    """
    WITH ev AS (
        INSERT INTO slots_bookingevent (booking_id, at, kind, actor, from_slot_id, to_slot_id,
                                        from_starts_at, to_starts_at, outage_id,
                                        outage_revision, reason)
        SELECT a.id, now(), 'on_hold', 'system', a.slot_id, NULL, a.from_starts, NULL, ot.id,
               ot.revision, ot.reason
        FROM a CROSS JOIN slots_outage ot WHERE ot.id = %(outage)s
        RETURNING id, booking_id, from_starts_at, to_starts_at, reason
    )
    """
    + OUTBOX,
    """
    UPDATE slots_outage SET state = 'done', run_finished_at = now(),
        affected = (SELECT count(*) FROM a), on_hold = (SELECT count(*) FROM a),
        notified = (SELECT count(*) FROM a)
    WHERE id = %(outage)s
    """,
]


def _place_steps() -> list[str]:
    """The rescheduler's SQL limit (bench_reschedule.SQL_STEPS), for held bookings: they are
    the outage's on_hold ones, hold no seat, and become confirmed again."""
    steps = list(base.SQL_STEPS)
    steps[1] = """
    CREATE TEMP TABLE a ON COMMIT DROP AS
    SELECT b.id, b.slot_id, b.office_id, b.service_id, s.starts_at AS from_starts,
           row_number() OVER (PARTITION BY b.office_id, b.service_id
                              ORDER BY s.starts_at, b.created_at, b.id) AS rn
    FROM slots_booking b
    JOIN slots_slot s ON s.id = b.slot_id
    WHERE b.status = 'on_hold' AND b.held_by_id = %(outage)s
    """
    replaced = {
        "status = CASE WHEN m.to_slot IS NULL THEN 'needs_new_slot' ELSE b.status END,": (
            "status = CASE WHEN m.to_slot IS NULL THEN 'needs_new_slot' ELSE 'confirmed' END,"
            " held_by_id = NULL,"
        ),
        # A held booking holds no seat: nothing to give back where it was.
        "SELECT from_slot AS slot, -1 AS delta": "SELECT from_slot AS slot, 0 AS delta",
    }
    out = []
    for step in steps:
        for old, new in replaced.items():
            step = step.replace(old, new)
        out.append(step)
    out[-1] = """
    UPDATE slots_outage SET state = 'done', run_finished_at = now(), on_hold = 0,
        moved = (SELECT count(*) FROM m WHERE to_slot IS NOT NULL),
        needs_new_slot = (SELECT count(*) FROM m WHERE to_slot IS NULL),
        notified = notified + (SELECT count(*) FROM m)
    WHERE id = %(outage)s
    """
    return out


def _sql(dbname: str, steps: list[str], params: dict) -> float:
    with base.psycopg.connect(f"{base.PG}/{dbname}") as conn:
        conn.execute("SELECT 1")
        conn.commit()
        began = time.perf_counter()
        with conn.transaction():
            for step in steps:
                conn.execute(step, params)
        return time.perf_counter() - began


def _snapshot(dbname: str, outage_id: int) -> dict:
    with base.psycopg.connect(f"{base.PG}/{dbname}") as conn:
        return {
            "bookings": conn.execute(
                "SELECT id, slot_id, status, held_by_id IS NULL FROM slots_booking ORDER BY id"
            ).fetchall(),
            "events": dict(
                conn.execute(
                    "SELECT kind, count(*) FROM slots_bookingevent WHERE outage_id = %s "
                    "GROUP BY kind",
                    [outage_id],
                ).fetchall()
            ),
            "outbox": conn.execute(base.CHECK_SQL["outbox"]).fetchall(),
            "bad_counters": conn.execute(base.CHECK_SQL["bad_counters"]).fetchone()[0],
        }


def main() -> int:
    began = time.perf_counter()
    outage_id, bookings, start, end = base.build()
    print(f"set-up: {bookings} bookings in {time.perf_counter() - began:.1f} s (not timed)")
    # Open-ended, with a horizon that reaches past the bookings' two days.
    Outage.objects.filter(pk=outage_id).update(expected_end=None)
    hours = int((end - timezone.now()).total_seconds() // 3600) + 2
    settings.OUTAGE_HOLD_HOURS = hours
    horizon = timezone.now() + timedelta(hours=hours)
    notification_services._dispatch_after_commit = lambda: None  # another worker's job
    site = settings.SITE_URL
    db_sql = f"{base.DB}_sql"
    connections.close_all()
    base.admin(f"DROP DATABASE IF EXISTS {db_sql} WITH (FORCE)")
    base.admin(f"CREATE DATABASE {db_sql} TEMPLATE {base.DB}")

    errors: list[str] = []
    figures = {}
    for phase in ("hold", "place"):
        if phase == "place":
            # What `outage_extend` records (its run, published at commit, is timed below).
            Outage.objects.filter(pk=outage_id).update(
                expected_end=end, state=Outage.State.QUEUED, revision=F("revision") + 1
            )
            with base.psycopg.connect(f"{base.PG}/{db_sql}") as conn:
                conn.execute(
                    "UPDATE slots_outage SET expected_end = %s, state = 'queued',"
                    " revision = revision + 1 WHERE id = %s",
                    [end, outage_id],
                )
        base.admin("CHECKPOINT")
        timings: dict[str, list[float]] = {}

        def timed(execute, sql, params, many, context, timings=timings):
            began = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                key = " ".join(sql.split())[:90]
                timings.setdefault(key, []).append(time.perf_counter() - began)

        t = time.perf_counter()
        with connections["default"].execute_wrapper(timed):
            outage = outage_reschedule(outage_id=outage_id)
        django_s = time.perf_counter() - t
        if os.environ.get("BENCH_QUERIES"):
            for key, spent in sorted(timings.items(), key=lambda kv: -sum(kv[1]))[:12]:
                print(f"{phase}: {sum(spent):7.3f} s {len(spent):5d}x  {key}")
        base.admin("CHECKPOINT")
        steps = HOLD_STEPS if phase == "hold" else _place_steps()
        sql_s = _sql(
            db_sql,
            steps,
            {
                "outage": outage_id,
                "start": start,
                "horizon": horizon,
                "end": end,
                "site": site,
                "kind": "on_hold",
            },
        )
        ours, limit = _snapshot(base.DB, outage_id), _snapshot(db_sql, outage_id)
        for key in ("bookings", "events", "outbox"):
            if ours[key] != limit[key]:
                errors.append(f"{phase}: Django and SQL differ in {key}")
        if ours["bad_counters"] or limit["bad_counters"]:
            errors.append(f"{phase}: slot counters wrong")
        expected = (bookings, 0) if phase == "hold" else (0, bookings)
        if (outage.state, outage.on_hold, outage.moved) != ("done", *expected):
            errors.append(f"{phase}: outage {outage.state} {outage.on_hold} {outage.moved}")
        ratio = django_s / sql_s
        figures[phase] = {
            "django_seconds": round(django_s, 3),
            "sql_limit_seconds": round(sql_s, 3),
            "ratio_django_over_sql": round(ratio, 2),
            "target_met": ratio <= TARGET_RATIO,
        }
    violations = integrity_violations()
    if violations:
        errors.append(f"integrity_violations(): {violations}")
    result = {
        "bookings": bookings,
        **figures,
        "outbox_rows": Notification.objects.count(),
        "held": Booking.objects.filter(events__kind="on_hold").count(),
        "target_ratio": TARGET_RATIO,
        "correct": not errors,
        "errors": errors,
        "cpus": os.cpu_count(),
        "measured_at": timezone.now().isoformat(),
    }
    print()
    print(f"{'phase':>6} {'bookings':>9} {'django s':>9} {'sql s':>7} {'ratio':>6}  target")
    for phase, f in figures.items():
        print(
            f"{phase:>6} {bookings:>9} {f['django_seconds']:>9.2f} {f['sql_limit_seconds']:>7.2f}"
            f" {f['ratio_django_over_sql']:>6.2f}  <= {TARGET_RATIO:.1f}x: "
            f"{'met' if f['target_met'] else 'MISSED'}"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(base.ROOT)}")
    connections.close_all()
    base.admin(f"DROP DATABASE IF EXISTS {db_sql} WITH (FORCE)")
    if errors:
        print("WRONG RESULTS:", *errors, sep="\n  ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
