"""Benchmark: drain 80,000 due outbox rows with the real dispatcher code.

Run: .venv/bin/python bench/bench_outbox.py [--rows 80000] [--processes 2] [--profile]
(BENCH_PLAIN_RECORD=1: the dispatcher records with Django's bulk_update, the plain form of
notifications/hotpath.py, for its A/B)

1. Builds its own PostgreSQL database (rto_bench_outbox, dropped and re-created): one office,
   50,000 bookings of applicants half in Hindi, 60% with an e-mail address, one BookingEvent
   each, and their outbox rows written by `message_rows_for_events` + bulk_create (timed
   separately as "write": the cost an outage pays inside its transactions).
2. Drains every row with `notifications_dispatch` in N processes (default 2, one per core, as
   two `celery worker -P solo` would): SMS to the file backend (one JSON file per message, in a
   temporary directory under /dev/shm by default: this VM's disk stalls for a millisecond per
   file creation in bursts, which measures the disk, not the dispatcher; `--sms-dir-parent /tmp`
   includes it), e-mail through Django's locmem backend (MIME built, .ics attached).
3. Verifies every row is `sent` exactly once (one SMS file per SMS row, attempts == 1), prints
   messages/s against the target and writes bench/results/outbox.json.

Exit 0 when the results are right (a missed target is reported, not fatal); 1 when wrong.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432")
DB = os.environ.get("BENCH_OUTBOX_DB", "rto_bench_outbox")
TARGET = 2000  # messages per second on a 2-core machine
RESULTS = ROOT / "bench" / "results" / "outbox.json"
EMAIL_SHARE = 0.6
SHM = "/dev/shm"  # noqa: S108 (a private mkdtemp inside it, removed afterwards)


def configure_env(sms_dir: str) -> None:
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "rto_booking.settings",
            "DJANGO_SECRET_KEY": "bench-outbox-not-secret",
            "DJANGO_DEBUG": "false",
            "DATABASE_URL": f"{PG.replace('postgresql://', 'postgres://')}/{DB}",
            "SMS_BACKEND": "file",
            "SMS_FILE_DIR": sms_dir,
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            "SITE_URL": "https://rtoslot.mp.gov.in",
            "LOG_LEVEL": "WARNING",
        }
    )
    os.environ.pop("REDIS_URL", None)  # tasks are not used: the dispatcher is called directly


def recreate_database() -> None:
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB}"')


def drop_database() -> None:
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')


def build(rows_wanted: int) -> dict:
    """Catalogue, bookings, events and outbox rows. Returns what was built and the write time."""
    from datetime import date, datetime, timedelta
    from datetime import time as dtime
    from zoneinfo import ZoneInfo

    from django.db import transaction
    from django.utils import timezone

    from applicants.models import Applicant
    from notifications.models import Notification
    from slots.messages import message_rows_for_events
    from slots.models import Offering, Office, Service, Slot
    from tests.factories import booked_in_bulk

    ist = ZoneInfo("Asia/Kolkata")
    office = Office.objects.create(
        code="MP-20",
        name="RTO Jabalpur",
        name_hi="आरटीओ जबलपुर",
        district="Jabalpur",
        address="Civic Centre, Marhatal, Jabalpur 482002",
        address_hi="सिविक सेंटर, मढ़ाताल, जबलपुर 482002",
    )
    service = Service.objects.create(
        slug="photo-biometrics", name="Photo and biometrics", name_hi="फोटो और बायोमेट्रिक"
    )
    offering = Offering.objects.create(office=office, service=service)
    day = date.today() + timedelta(days=3)
    slots = Slot.objects.bulk_create(
        [
            Slot(
                offering=offering,
                office=office,
                service=service,
                starts_at=datetime.combine(day, dtime(10), tzinfo=ist) + timedelta(minutes=30 * i),
                ends_at=datetime.combine(day, dtime(10, 30), tzinfo=ist)
                + timedelta(minutes=30 * i),
                capacity=5000,
            )
            for i in range(14)
        ]
    )
    # Each booking gets an SMS, and an e-mail for EMAIL_SHARE of them.
    bookings_count = round(rows_wanted / (1 + EMAIL_SHARE))
    emails = rows_wanted - bookings_count
    verified_at = timezone.now()
    applicants = Applicant.objects.bulk_create(
        [
            Applicant(
                application_number=f"26{i:08d}",
                full_name=f"Venkataraghavan Subramaniam Iyer {i}",
                date_of_birth=date(1995, 6, 15),
                mobile=f"+9198{i:08d}",
                email=f"applicant{i}@example.in" if i < emails else "",
                preferred_language="hi" if i % 2 else "en",
                mobile_verified_at=verified_at,  # the one-time code entered (MOBILE_VERIFICATION)
            )
            for i in range(bookings_count)
        ],
        batch_size=5000,
    )
    _bookings, events = booked_in_bulk(applicants, slots, reference="MP20PB", batch_size=5000)
    # The objects are in memory with their relations, as the rescheduler hands them over.
    started = time.perf_counter()
    written = 0
    for start in range(0, len(events), 2000):
        chunk = events[start : start + 2000]
        with transaction.atomic():
            rows = message_rows_for_events(events=chunk, kind="booking_confirmed")
            Notification.objects.bulk_create(rows, ignore_conflicts=True, batch_size=2000)
        written += len(rows)
    write_seconds = time.perf_counter() - started
    assert Notification.objects.count() == written == rows_wanted, (written, rows_wanted)
    return {
        "bookings": bookings_count,
        "rows": written,
        "sms": bookings_count,
        "email": emails,
        "write_seconds": round(write_seconds, 3),
        "write_rows_per_second": round(written / write_seconds),
    }


def drain_worker() -> None:
    """One dispatcher process (what a `celery worker -P solo` runs), until nothing is due."""
    import django

    django.setup()
    from notifications import dispatcher

    if os.environ.get("BENCH_PLAIN_RECORD"):
        # The A/B of notifications/hotpath.py: Django's bulk_update in its place.
        from tests.notifications.plain_forms import install_plain_record

        install_plain_record()
    result = dispatcher.notifications_dispatch(time_budget_seconds=900)
    print(json.dumps({"sent": result.sent, "claimed": result.claimed}), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=80_000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--profile", action="store_true", help="one in-process drain, profiled")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--sms-dir-parent",
        default=SHM if os.path.isdir(SHM) else None,
        help="where the SMS files go (default: /dev/shm, memory, so that the virtual disk's "
        "journal flushes are not what is measured; pass /tmp to include them)",
    )
    parser.add_argument("--drain-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drain_worker:
        drain_worker()
        return 0

    sms_dir = tempfile.mkdtemp(prefix="bench-outbox-sms-", dir=args.sms_dir_parent)
    configure_env(sms_dir)
    recreate_database()
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", verbosity=0)
        built = build(args.rows)
        connection.close()
        print(
            f"built {built['rows']} due rows ({built['sms']} SMS, {built['email']} e-mail); "
            f"written at {built['write_rows_per_second']} rows/s"
        )

        started = time.perf_counter()
        if args.profile:
            import cProfile
            import pstats

            from notifications.dispatcher import notifications_dispatch

            profiler = cProfile.Profile()
            profiler.runcall(notifications_dispatch, time_budget_seconds=900)
            order = os.environ.get("BENCH_PROFILE_SORT", "cumulative")
            pstats.Stats(profiler).sort_stats(order).print_stats(35)
            processes = 1
        else:
            processes = args.processes
            children = [
                subprocess.Popen(
                    [sys.executable, __file__, "--drain-worker"],
                    env=dict(os.environ),
                    stdout=subprocess.PIPE,
                    text=True,
                )
                for _ in range(processes)
            ]
            outputs = [child.communicate(timeout=1200)[0] for child in children]
            if any(child.returncode for child in children):
                print("a drain process failed:", outputs)
                return 1
        seconds = time.perf_counter() - started

        from notifications.models import Notification

        statuses = dict(
            Notification.objects.values_list("status").annotate(n=django.db.models.Count("id"))
        )
        attempts = set(Notification.objects.values_list("attempts", flat=True).distinct())
        sms_files = sum(1 for name in os.listdir(sms_dir) if name.endswith(".json"))
        correct = (
            statuses == {"sent": built["rows"]} and attempts == {1} and sms_files == built["sms"]
        )
        rate = built["rows"] / seconds
        result = {
            **built,
            "processes": processes,
            "drain_seconds": round(seconds, 2),
            "messages_per_second": round(rate),
            "target_messages_per_second": TARGET,
            "target_met": rate >= TARGET,
            "correct": correct,
            "statuses": statuses,
            "sms_files": sms_files,
            "batch_size": int(os.environ.get("NOTIFICATION_BATCH_SIZE", 500)),
            "cpus": os.cpu_count(),
            "sms_dir": sms_dir,
        }
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")
        print(
            f"drained {built['rows']} messages in {seconds:.1f}s with {processes} process(es): "
            f"{rate:,.0f} messages/s (target >= {TARGET:,}: "
            f"{'met' if rate >= TARGET else 'MISSED'}); correct: {correct}"
        )
        print(f"results: {RESULTS.relative_to(ROOT)}")
        return 0 if correct else 1
    finally:
        from django.db import connections

        connections.close_all()
        shutil.rmtree(sms_dir, ignore_errors=True)
        if not args.keep:
            drop_database()


if __name__ == "__main__":
    sys.exit(main())
