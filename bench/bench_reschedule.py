"""Benchmark: a statewide outage rescheduled by the Django path vs. the set-based SQL limit.

Run: .venv/bin/python bench/bench_reschedule.py [--profile] [--queries] [--no-plain-forms]

1. Builds its own PostgreSQL database (rto_bench_reschedule): 50 offices x (photo-biometrics,
   learner-test), weekly sessions 10:00-17:00 of 30-minute slots, and ~39,200 confirmed bookings
   over two days with true slot counters. Set-up is not timed.
2. Copies the database (CREATE DATABASE ... TEMPLATE) so every path starts from identical data.
3. Times `outage_reschedule(outage_id=...)` (history + outbox rows included) on the original;
   the same with slots/hotpath.py's plain ORM forms on a copy (the A/B of those statements,
   tests/slots/plain_forms.py); and one hand-written set-based SQL transaction doing the same
   work on another copy (the limit).
4. Verifies both (every booking moved out of the window, same FIFO assignment in both, counters
   true, integrity_violations() == {}), prints a table and writes bench/results/reschedule.json.

Exit 0 when the results are right (target met or not: a miss is reported); 1 on wrong results.
The outbox dispatcher is not run inside the timed call: with tasks in-process it would send
~60,000 messages inside `outage_reschedule`, while in production it runs on another worker
(its own benchmark is bench_outbox.py). The number of dispatches requested is reported.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
from statewide import statewide_catalogue

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432")
DB = os.environ.get("BENCH_RESCHEDULE_DB", "rto_bench_reschedule")
DB_SQL = f"{DB}_sql"
DB_PLAIN = f"{DB}_plain"
OFFICES = 50
DAYS = 2
PER_SLOT = 14
SEATS = 20
RESERVE = 2
TARGET_RATIO = 1.5
RESULTS = ROOT / "bench" / "results" / "reschedule.json"
IST = ZoneInfo("Asia/Kolkata")

_tmp = tempfile.mkdtemp(prefix="bench-reschedule-")
os.environ.update(
    {
        "DJANGO_SETTINGS_MODULE": "rto_booking.settings",
        "DJANGO_SECRET_KEY": "bench-reschedule-not-secret",
        "DJANGO_DEBUG": "false",
        "DATABASE_URL": f"{PG.replace('postgresql://', 'postgres://')}/{DB}",
        "SMS_BACKEND": "file",
        "SMS_FILE_DIR": os.path.join(_tmp, "sms"),
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
    }
)
os.environ.pop("REDIS_URL", None)


def admin(*statements: str) -> None:
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


admin(
    f"DROP DATABASE IF EXISTS {DB_SQL} WITH (FORCE)",
    f"DROP DATABASE IF EXISTS {DB_PLAIN} WITH (FORCE)",
    f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)",
)
admin(f"CREATE DATABASE {DB}")

import django  # noqa: E402

django.setup()

from django.db import connection, connections  # noqa: E402
from django.utils import timezone  # noqa: E402

import notifications.services as notification_services  # noqa: E402
import slots.hotpath as hotpath  # noqa: E402
import slots.messages as messages  # noqa: E402
import slots.services.reschedule as reschedule  # noqa: E402
from applicants.models import Applicant  # noqa: E402
from notifications.models import Notification  # noqa: E402
from slots.integrity import integrity_violations  # noqa: E402
from slots.models import (  # noqa: E402
    Booking,
    BookingEvent,
    Outage,
    Slot,
)
from slots.services.reschedule import outage_reschedule  # noqa: E402
from tests.slots.plain_forms import use_plain_forms  # noqa: E402

# --- Set-up (not timed) ----------------------------------------------------------------------


def local(day, hour=0):
    return datetime.combine(day, dtime(hour, 0), tzinfo=IST)


def build() -> tuple[int, int, datetime, datetime]:
    """Offices, sessions, slots, applicants, bookings, and the outage. Returns (outage, n, ...)."""
    offerings = statewide_catalogue(offices=OFFICES, seats=SEATS, reserve=RESERVE)
    offices = sorted({o.office for o in offerings}, key=lambda o: o.pk)
    services = sorted({o.service for o in offerings}, key=lambda s: s.pk)

    first_day = timezone.localdate() + timedelta(days=3)
    start, end = local(first_day), local(first_day + timedelta(days=DAYS))
    slots = list(
        Slot.objects.filter(starts_at__gte=start, starts_at__lt=end).order_by(
            "office_id", "service_id", "starts_at"
        )
    )
    count = len(slots) * PER_SLOT
    verified_at = timezone.now()
    applicants = Applicant.objects.bulk_create(
        [
            Applicant(
                application_number=f"27{i:08d}",
                full_name=f"Applicant {i}",
                date_of_birth="1990-01-01",
                mobile=f"+9197{i:08d}",
                email=f"applicant{i}@example.in" if (i // 2) % 2 else "",
                preferred_language="hi" if i % 2 else "en",
                mobile_verified_at=verified_at,  # the one-time code entered (MOBILE_VERIFICATION)
            )
            for i in range(count)
        ],
        batch_size=5000,
    )
    now = timezone.now()
    Booking.objects.bulk_create(
        [
            Booking(
                reference=f"B{index:09d}",
                applicant=applicant,
                slot=slots[index // PER_SLOT],
                office_id=slots[index // PER_SLOT].office_id,
                service_id=slots[index // PER_SLOT].service_id,
                # Booking times interleave across slots so FIFO order is not insertion order.
                created_at=now - timedelta(seconds=(index * 7919) % count),
            )
            for index, applicant in enumerate(applicants)
        ],
        batch_size=5000,
    )
    Slot.objects.filter(pk__in=[s.pk for s in slots]).update(booked=PER_SLOT)
    outage = Outage.objects.create(
        starts_at=start,
        expected_end=end,
        reason="Statewide licence server down",
        reason_hi="राज्यव्यापी लाइसेंस सर्वर बंद",
    )
    outage.offices.set(offices)
    outage.services.set(services)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return outage.pk, count, start, end


# --- The SQL limit -----------------------------------------------------------------------------

SQL_STEPS = [
    # Groups of the outage (empty services = every offering of its offices).
    """
    CREATE TEMP TABLE g ON COMMIT DROP AS
    SELECT DISTINCT o.office_id, o.service_id
    FROM slots_offering o
    JOIN slots_outage_offices oo ON oo.office_id = o.office_id AND oo.outage_id = %(outage)s
    WHERE NOT EXISTS (SELECT 1 FROM slots_outage_services x WHERE x.outage_id = %(outage)s)
       OR o.service_id IN (SELECT service_id FROM slots_outage_services
                           WHERE outage_id = %(outage)s)
    """,
    # Affected bookings, locked, numbered FIFO per group.
    """
    CREATE TEMP TABLE a ON COMMIT DROP AS
    SELECT b.id, b.slot_id, b.office_id, b.service_id, s.starts_at AS from_starts,
           row_number() OVER (PARTITION BY b.office_id, b.service_id
                              ORDER BY s.starts_at, b.created_at, b.id) AS rn
    FROM slots_booking b
    JOIN g ON g.office_id = b.office_id AND g.service_id = b.service_id
    JOIN slots_slot s ON s.id = b.slot_id
    WHERE b.status = 'confirmed' AND s.starts_at < %(end)s
      AND s.ends_at > greatest(%(start)s, now())
    """,
    "SELECT 1 FROM slots_booking b JOIN a ON a.id = b.id FOR UPDATE OF b",
    # Candidate slots with cumulative free seats per group: seat numbers (lo, hi].
    """
    CREATE TEMP TABLE c ON COMMIT DROP AS
    SELECT id, office_id, service_id, starts_at,
           sum(free) OVER w - free AS lo, sum(free) OVER w AS hi
    FROM (
        SELECT s.id, s.office_id, s.service_id, s.starts_at, s.capacity - s.booked AS free
        FROM slots_slot s
        JOIN g ON g.office_id = s.office_id AND g.service_id = s.service_id
        JOIN slots_offering f ON f.id = s.offering_id AND f.is_active
        WHERE s.starts_at >= greatest(%(end)s, now() + interval '120 minutes')
          AND s.starts_at < now() + interval '45 days'
          AND s.booked < s.capacity
          AND NOT EXISTS (
              SELECT 1 FROM slots_closure cl
              WHERE cl.office_id = s.office_id
                AND (cl.service_id IS NULL OR cl.service_id = s.service_id)
                AND cl.date = (s.starts_at AT TIME ZONE 'Asia/Kolkata')::date)
          AND NOT EXISTS (
              SELECT 1 FROM slots_outage ot
              JOIN slots_outage_offices ox ON ox.outage_id = ot.id AND ox.office_id = s.office_id
              WHERE ot.resolved_at IS NULL AND ot.starts_at < s.ends_at
                AND ot.expected_end > s.starts_at
                AND (NOT EXISTS (SELECT 1 FROM slots_outage_services y WHERE y.outage_id = ot.id)
                     OR EXISTS (SELECT 1 FROM slots_outage_services y
                                WHERE y.outage_id = ot.id AND y.service_id = s.service_id)))
        FOR UPDATE OF s
    ) free
    WINDOW w AS (PARTITION BY office_id, service_id ORDER BY starts_at, id)
    """,
    "CREATE INDEX ON c (office_id, service_id, hi)",
    # FIFO: the rn-th affected booking of a group takes the seat numbered rn.
    """
    CREATE TEMP TABLE m ON COMMIT DROP AS
    SELECT a.id, a.slot_id AS from_slot, a.from_starts, c.id AS to_slot, c.starts_at AS to_starts
    FROM a LEFT JOIN c ON c.office_id = a.office_id AND c.service_id = a.service_id
                      AND a.rn > c.lo AND a.rn <= c.hi
    """,
    """
    UPDATE slots_booking b
    SET slot_id = coalesce(m.to_slot, b.slot_id),
        status = CASE WHEN m.to_slot IS NULL THEN 'needs_new_slot' ELSE b.status END,
        priority = true, updated_at = now()
    FROM m WHERE m.id = b.id
    """,
    """
    UPDATE slots_slot s SET booked = s.booked + d.delta
    FROM (SELECT slot, sum(delta) AS delta FROM (
              SELECT from_slot AS slot, -1 AS delta FROM m
              UNION ALL SELECT to_slot, 1 FROM m WHERE to_slot IS NOT NULL) x
          GROUP BY slot) d
    WHERE s.id = d.slot AND d.delta <> 0
    """,
    # History, then one outbox row per event and channel, context as the Django path writes it.
    """
    WITH ev AS (
        INSERT INTO slots_bookingevent (booking_id, at, kind, actor, from_slot_id, to_slot_id,
                                        from_starts_at, to_starts_at, outage_id,
                                        outage_revision, reason)
        SELECT m.id, now(),
               CASE WHEN m.to_slot IS NULL THEN 'needs_new_slot' ELSE 'rescheduled' END,
               'system', m.from_slot, m.to_slot, m.from_starts, m.to_starts, ot.id,
               ot.revision, ot.reason
        FROM m CROSS JOIN slots_outage ot WHERE ot.id = %(outage)s
        RETURNING id, booking_id, kind, from_starts_at, to_starts_at, reason
    )
    INSERT INTO notifications_notification (
        booking_id, event_key, channel, kind, language, recipient, context, subject, body,
        body_html, status, attempts, next_attempt_at, last_error, provider_id, created_at)
    SELECT b.id, 'event:' || ev.id, ch.channel,
           CASE WHEN ev.kind = 'rescheduled' THEN 'rescheduled_outage' ELSE 'needs_new_slot' END,
           coalesce(nullif(ap.preferred_language, ''), 'en'), ch.recipient,
           jsonb_build_object(
               'reference', b.reference, 'full_name', ap.full_name,
               'office', jsonb_build_object('code', o.code, 'name', o.name, 'name_hi', o.name_hi,
                                            'address', o.address, 'address_hi', o.address_hi),
               'service', jsonb_build_object('slug', sv.slug, 'name', sv.name,
                                             'name_hi', sv.name_hi),
               'slot', jsonb_build_object('starts_at', to_json(s.starts_at),
                                          'ends_at', to_json(s.ends_at)),
               'links', jsonb_build_object('booking', %(site)s || '/my/bookings/'
                                                      || b.reference || '/'),
               'event_id', ev.id,
               'from_starts_at', to_json(ev.from_starts_at),
               'to_starts_at', to_json(ev.to_starts_at),
               'event_reason', ev.reason,
               'outage', jsonb_build_object('id', ot.id, 'reason', ot.reason,
                                            'reason_hi', ot.reason_hi)),
           '', '', '', 'pending', 0, now(), '', '', now()
    FROM ev
    JOIN slots_booking b ON b.id = ev.booking_id
    JOIN applicants_applicant ap ON ap.id = b.applicant_id
    JOIN slots_office o ON o.id = b.office_id
    JOIN slots_service sv ON sv.id = b.service_id
    JOIN slots_slot s ON s.id = b.slot_id
    CROSS JOIN slots_outage ot
    CROSS JOIN LATERAL (VALUES ('sms', ap.mobile), ('email', ap.email)) ch(channel, recipient)
    WHERE ot.id = %(outage)s AND ch.recipient <> ''
    ON CONFLICT DO NOTHING
    """,
    """
    UPDATE slots_outage SET state = 'done', run_finished_at = now(),
        affected = (SELECT count(*) FROM m),
        moved = (SELECT count(*) FROM m WHERE to_slot IS NOT NULL),
        needs_new_slot = (SELECT count(*) FROM m WHERE to_slot IS NULL),
        notified = (SELECT count(*) FROM m)
    WHERE id = %(outage)s
    """,
]


def run_sql_limit(
    outage_id: int, start: datetime, end: datetime, site: str
) -> tuple[float, list[tuple[str, float]]]:
    """Run SQL_STEPS in one transaction on the copy; return (seconds, per-step seconds)."""
    params = {"outage": outage_id, "start": start, "end": end, "site": site}
    steps = []
    with psycopg.connect(f"{PG}/{DB_SQL}") as conn:
        conn.execute("SELECT 1")  # connect outside the clock, as Django's connection is
        conn.commit()
        began = time.perf_counter()
        with conn.transaction():
            for step in SQL_STEPS:
                t = time.perf_counter()
                conn.execute(step, params)
                steps.append((" ".join(step.split())[:60], time.perf_counter() - t))
        spent = time.perf_counter() - began
        steps.append(("COMMIT", spent - sum(s for _n, s in steps)))
        return spent, steps


# --- Checks ------------------------------------------------------------------------------------

CHECK_SQL = {
    "assignment": """SELECT id, slot_id, status FROM slots_booking
                     WHERE id IN (SELECT booking_id FROM slots_bookingevent WHERE outage_id = %s)
                     ORDER BY id""",
    "in_window": """SELECT count(*) FROM slots_booking b JOIN slots_slot s ON s.id = b.slot_id
                    WHERE b.status = 'confirmed' AND s.starts_at < %s AND s.ends_at > %s""",
    "events": "SELECT kind, count(*) FROM slots_bookingevent WHERE outage_id = %s GROUP BY kind",
    "outbox": """SELECT channel, kind, language, count(*) FROM notifications_notification
                 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""",
    "bad_counters": """SELECT count(*) FROM slots_slot s WHERE s.booked <> (
                         SELECT count(*) FROM slots_booking b WHERE b.slot_id = s.id
                         AND b.status IN ('confirmed', 'attended', 'no_show'))""",
}


def snapshot(dbname: str, outage_id: int, start: datetime, end: datetime) -> dict:
    with psycopg.connect(f"{PG}/{dbname}") as conn:
        return {
            "assignment": conn.execute(CHECK_SQL["assignment"], [outage_id]).fetchall(),
            "in_window": conn.execute(CHECK_SQL["in_window"], [end, start]).fetchone()[0],
            "events": dict(conn.execute(CHECK_SQL["events"], [outage_id]).fetchall()),
            "outbox": conn.execute(CHECK_SQL["outbox"]).fetchall(),
            "bad_counters": conn.execute(CHECK_SQL["bad_counters"]).fetchone()[0],
        }


def _time_phases(timings: dict[str, list[float]]) -> None:
    """Wrap the Django path's steps so --queries also shows where the Python time goes."""

    def wrap(module, name):
        original = getattr(module, name, None)
        if original is None:
            return

        def timed(*args, **kwargs):
            began = time.perf_counter()
            result = None
            try:
                result = original(*args, **kwargs)
                return result
            finally:
                key = f"phase {name}" + (" (empty)" if result == (0, 0) else "")
                timings.setdefault(key, []).append(time.perf_counter() - began)

        setattr(module, name, timed)

    wrap(reschedule, "_process_chunk")
    for name in ("candidates_for", "assign"):
        wrap(reschedule, name)
    for name in ("events_insert", "bookings_point_to", "slots_booked_add"):
        wrap(hotpath, name)
    wrap(messages, "messages_write_for_event_ids")
    wrap(connection, "commit")


def _use_database(name: str) -> None:
    connections.close_all()
    connections["default"].settings_dict["NAME"] = name


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", action="store_true", help="cProfile the Django path")
    parser.add_argument("--queries", action="store_true", help="time the Django path's SQL")
    parser.add_argument(
        "--no-plain-forms", action="store_true", help="skip the A/B of slots/hotpath.py"
    )
    args = parser.parse_args()

    t = time.perf_counter()
    outage_id, bookings, start, end = build()
    setup_s = time.perf_counter() - t
    print(f"set-up: {bookings} bookings in {setup_s:.1f} s (not timed)")

    # Identical copies for the plain forms and the SQL path (TEMPLATE needs no other session
    # on the source).
    connections.close_all()
    admin(f"CREATE DATABASE {DB_SQL} TEMPLATE {DB}")
    if not args.no_plain_forms:
        admin(f"CREATE DATABASE {DB_PLAIN} TEMPLATE {DB}")

    # The dispatcher belongs to another worker in production; count requests, send nothing.
    dispatches = []
    notification_services._dispatch_after_commit = lambda: dispatches.append(1)

    from django.conf import settings

    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    timings: dict[str, list[float]] = {}

    def timed(execute, sql, params, many, context):
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            key = " ".join(sql.split())[:70]
            timings.setdefault(key, []).append(time.perf_counter() - began)

    if args.queries:
        _time_phases(timings)
    admin("CHECKPOINT")
    began = time.perf_counter()
    if args.queries:
        with connection.execute_wrapper(timed):
            outage = outage_reschedule(outage_id=outage_id)
    else:
        outage = outage_reschedule(outage_id=outage_id)
    django_s = time.perf_counter() - began
    plain_s = None
    if not args.no_plain_forms:
        _use_database(DB_PLAIN)
        admin("CHECKPOINT")
        began = time.perf_counter()
        with use_plain_forms():
            plain_outage = outage_reschedule(outage_id=outage_id)
        plain_s = time.perf_counter() - began
        plain_snapshot = snapshot(DB_PLAIN, outage_id, start, end)
        _use_database(DB)
    for key, spent in sorted(timings.items(), key=lambda kv: -sum(kv[1]))[:20]:
        print(f"{sum(spent):7.3f} s {len(spent):5d}x  {key}")
    if profiler is not None:
        import pstats

        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)

    admin("CHECKPOINT")
    sql_s, sql_steps = run_sql_limit(outage_id, start, end, settings.SITE_URL)
    if args.queries:
        for name, spent in sql_steps:
            print(f"{spent:7.3f} s  sql: {name}")

    errors = []
    if outage is None or outage.state != Outage.State.DONE:
        errors.append(f"outage state {getattr(outage, 'state', None)!r}, expected 'done'")
    elif (outage.moved, outage.needs_new_slot) != (bookings, 0):
        errors.append(f"moved {outage.moved} / needs_new_slot {outage.needs_new_slot}")
    ours = snapshot(DB, outage_id, start, end)
    limit = snapshot(DB_SQL, outage_id, start, end)
    for name, snap in (("django", ours), ("sql", limit)):
        if snap["in_window"]:
            errors.append(f"{name}: {snap['in_window']} bookings still inside the window")
        if snap["events"] != {"rescheduled": bookings}:
            errors.append(f"{name}: events {snap['events']}")
        if snap["bad_counters"]:
            errors.append(f"{name}: {snap['bad_counters']} slot counters wrong")
    if ours["assignment"] != limit["assignment"]:
        differ = sum(a != b for a, b in zip(ours["assignment"], limit["assignment"], strict=False))
        errors.append(f"Django and SQL assignments differ ({differ} bookings)")
    if ours["outbox"] != limit["outbox"]:
        errors.append(f"outbox differs: django {ours['outbox']} sql {limit['outbox']}")
    if plain_s is not None:
        if (plain_outage.state, plain_outage.moved) != (Outage.State.DONE, bookings):
            errors.append(f"plain forms: {plain_outage.state} {plain_outage.moved}")
        for key in ("assignment", "outbox", "events"):
            if plain_snapshot[key] != ours[key]:
                errors.append(f"plain forms: {key} differs from the statements'")
    violations = integrity_violations()
    if violations:
        errors.append(f"integrity_violations(): {violations}")
    outbox_rows = sum(row[-1] for row in ours["outbox"])
    if outbox_rows != Notification.objects.count():
        errors.append("outbox count mismatch")
    moved = BookingEvent.objects.filter(outage_id=outage_id, kind="rescheduled").count()

    ratio = django_s / sql_s if sql_s else float("inf")
    met = ratio <= TARGET_RATIO
    result = {
        "bookings": bookings,
        "moved": moved,
        "outbox_rows": outbox_rows,
        "groups": OFFICES * 2,
        "chunk_size": settings.RESCHEDULE_CHUNK_SIZE,
        "django_seconds": round(django_s, 3),
        "django_bookings_per_s": round(bookings / django_s, 1),
        "sql_limit_seconds": round(sql_s, 3),
        "sql_bookings_per_s": round(bookings / sql_s, 1),
        "sql_steps_seconds": {name: round(spent, 3) for name, spent in sql_steps},
        "ratio_django_over_sql": round(ratio, 2),
        "plain_forms_seconds": round(plain_s, 3) if plain_s else None,
        "plain_forms_over_django": round(plain_s / django_s, 2) if plain_s else None,
        "target_ratio": TARGET_RATIO,
        "target_met": met,
        "dispatch_requests": len(dispatches),
        "correct": not errors,
        "errors": errors,
        "cpus": os.cpu_count(),
        "measured_at": timezone.now().isoformat(),
    }
    print()
    print(f"{'bookings':>9} {'django s':>9} {'bookings/s':>11} {'sql s':>7} {'ratio':>6}  target")
    print(
        f"{bookings:>9} {django_s:>9.2f} {bookings / django_s:>11.0f} {sql_s:>7.2f} "
        f"{ratio:>6.2f}  <= {TARGET_RATIO:.1f}x: {'met' if met else 'MISSED'}"
    )
    if plain_s is not None:
        print(
            f"the same with hotpath's plain ORM forms: {plain_s:.2f} s "
            f"({plain_s / django_s:.2f}x the statements)"
        )
    print(f"outbox rows {outbox_rows}, dispatch requests {len(dispatches)} (not run)")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    connections.close_all()
    admin(
        f"DROP DATABASE IF EXISTS {DB_SQL} WITH (FORCE)",
        f"DROP DATABASE IF EXISTS {DB_PLAIN} WITH (FORCE)",
    )
    if errors:
        print("WRONG RESULTS:", *errors, sep="\n  ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
