"""Benchmark: told in time — a statewide outage of 40,000 bookings, from the clerk's mark-down
to the last SMS and the last e-mail accepted, through real local gateways and ONE worker.

Run: .venv/bin/python bench/bench_told.py [--bookings 40000] [--keep]
     [--worker-env SMS_MAX_IN_FLIGHT=1 --worker-env EMAIL_MAX_IN_FLIGHT=1]  (the one-at-a-time A/B;
     with --results FILE so the main figure is kept)

1. Builds its own PostgreSQL database (`BENCH_TOLD_DB`, default rto_bench_told, dropped and
   re-created): 50 offices x 2 services, 30-minute slots 10:00-17:00 over the next 14 days,
   and `--bookings` confirmed bookings on days 3 and 4, applicants half in Hindi, half with an
   e-mail address. Not timed.
2. Starts, each as a process of its own: a private redis-server (its own port), a fake generic
   SMS gateway (tests/gateways.py: a real HTTP/1.1 server speaking the contract of docs/API.md,
   150 ms per request, 500 TPS, 429 + Retry-After above it), an SMTP server (aiosmtpd, 50 ms per
   message), and ONE notifications worker started the way the README says: a plain
   `celery -A rto_booking worker` with production settings and the default settings of the
   notifications app (only the gateway's URL and key and the SMTP host and port are given).
3. Marks every office's services down through `outage_create` (what the clerk's admin page and
   the API call), from now to the end of day 4: the worker reschedules 40,000 bookings and the
   dispatcher sends their SMS and e-mails while the reschedule is still writing them.
4. Measures, from the outage's creation: the reschedule's end, the last SMS the gateway
   accepted and the last e-mail the SMTP server accepted; messages/s; the gateway's 429s; and
   checks 0 duplicates (each notification accepted once by its server) and 0 lost (every row
   sent, every sent row seen by its server). Writes bench/results/told.json.

Target (issue 17): the last SMS accepted <= 120 s after the mark-down; the limit is
bookings / TPS (80 s). Exit 0 when the results are right (a missed target is reported), 1 when
wrong (a duplicate, a lost message, a booking not moved).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
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
DB = os.environ.get("BENCH_TOLD_DB", "rto_bench_told")
RESULTS = ROOT / "bench" / "results" / "told.json"
IST = ZoneInfo("Asia/Kolkata")
OFFICES = 50
DAYS = 2
SEATS = 20
RESERVE = 2
GATEWAY_DELAY = 0.150
GATEWAY_TPS = 500
SMTP_DELAY = 0.050
TARGET_SECONDS = 120
API_KEY = "bench-told-key"


def admin(*statements: str) -> None:
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def start_server(kind: str, log: Path, *args: str) -> tuple[subprocess.Popen, int]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.gateways", kind, "--log", str(log), *args],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    port = int(process.stdout.readline().strip())
    return process, port


def build(bookings: int) -> None:
    """Offices, sessions, 14 days of slots, applicants and `bookings` bookings on days 3-4."""
    from django.db import connection
    from django.db.models import Count
    from django.utils import timezone

    from applicants.models import Applicant
    from slots.models import Booking, Slot

    statewide_catalogue(offices=OFFICES, seats=SEATS, reserve=RESERVE)
    first_day = timezone.localdate() + timedelta(days=3)
    start = datetime.combine(first_day, dtime(0), tzinfo=IST)
    end = start + timedelta(days=DAYS)
    slots = list(
        Slot.objects.filter(starts_at__gte=start, starts_at__lt=end).order_by(
            "office_id", "service_id", "starts_at"
        )
    )
    if bookings > len(slots) * (SEATS - RESERVE):
        raise SystemExit(f"at most {len(slots) * (SEATS - RESERVE)} bookings fit")
    verified_at = timezone.now()
    applicants = Applicant.objects.bulk_create(
        [
            Applicant(
                application_number=f"28{i:08d}",
                full_name=f"Applicant {i}",
                date_of_birth="1990-01-01",
                mobile=f"+9196{i:08d}",
                email=f"applicant{i}@example.in" if (i // 2) % 2 else "",
                preferred_language="hi" if i % 2 else "en",
                mobile_verified_at=verified_at,  # the one-time code entered (MOBILE_VERIFICATION)
            )
            for i in range(bookings)
        ],
        batch_size=5000,
    )
    now = timezone.now()
    Booking.objects.bulk_create(
        [
            Booking(
                reference=f"T{index:09d}",
                applicant=applicant,
                slot=slots[index % len(slots)],
                office_id=slots[index % len(slots)].office_id,
                service_id=slots[index % len(slots)].service_id,
                created_at=now - timedelta(seconds=(index * 7919) % bookings),
            )
            for index, applicant in enumerate(applicants)
        ],
        batch_size=5000,
    )
    counts = Booking.objects.values("slot_id").annotate(n=Count("id")).values_list("slot_id", "n")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE slots_slot s SET booked = v.n FROM unnest(%s::bigint[], %s::int[]) AS v(id, n)"
            " WHERE s.id = v.id",
            [[c[0] for c in counts], [c[1] for c in counts]],
        )
        cursor.execute("VACUUM ANALYZE")
    return start, end


def read_log(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bookings", type=int, default=40_000)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument(
        "--worker-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for the worker (e.g. SMS_MAX_IN_FLIGHT=1 for the one-at-a-time A/B)",
    )
    parser.add_argument("--results", default=str(RESULTS), help="where the JSON goes")
    args = parser.parse_args()
    worker_env = dict(item.split("=", 1) for item in args.worker_env)

    from tests.live import production_env, start_plain_worker, start_private_redis, wait_for

    tmp = Path(tempfile.mkdtemp(prefix="bench-told-"))
    sms_log, smtp_log = tmp / "sms.jsonl", tmp / "smtp.jsonl"
    admin(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)', f'CREATE DATABASE "{DB}"')
    redis = start_private_redis(log_dir=tmp / "logs")
    gateway, gateway_port = start_server(
        "sms", sms_log, "--delay", str(GATEWAY_DELAY), "--tps", str(GATEWAY_TPS), "--api-key",
        API_KEY,
    )  # fmt: skip
    smtp, smtp_port = start_server("smtp", smtp_log, "--delay", str(SMTP_DELAY))
    env = production_env(
        database_url=f"{PG.replace('postgresql://', 'postgres://')}/{DB}",
        redis_url=redis.url,
        tmp=tmp,
        SMS_BACKEND="http",
        SMS_GATEWAY_URL=f"http://127.0.0.1:{gateway_port}/sms",
        SMS_GATEWAY_API_KEY=API_KEY,
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(smtp_port),
        LOG_LEVEL="WARNING",
        **worker_env,
    )
    os.environ.clear()
    os.environ.update(env)
    worker = None
    try:
        import django

        django.setup()
        from django.db import connection
        from django.db.models import Count

        from notifications.models import Notification
        from slots.integrity import integrity_violations
        from slots.models import Booking, Office, Outage, Service
        from slots.services.outages import outage_create

        start, end = build(args.bookings)
        print(f"built {args.bookings} bookings in {OFFICES} offices x 2 services")
        worker = start_plain_worker({**env, "LOG_LEVEL": "INFO"}, log_dir=tmp / "logs")
        worker.wait_ready(timeout=60)
        time.sleep(2)  # its start-up sweep (nothing to do) out of the way

        created = time.time()
        outage = outage_create(
            offices=list(Office.objects.all()),
            services=list(Service.objects.all()),
            expected_end=end,
            reason="Statewide licence server down",
            reason_hi="राज्यव्यापी लाइसेंस सर्वर बंद",
        )
        connection.close()

        def finished() -> bool:
            outage.refresh_from_db()
            if outage.state != Outage.State.DONE:
                return False
            return not Notification.objects.filter(status__in=["pending", "failed"]).exists()

        done = wait_for(finished, timeout=args.timeout, interval=0.5)
        drained = time.time()
        statuses = dict(
            Notification.objects.order_by().values_list("status").annotate(n=Count("id"))
        )
        by_channel = {
            (c, s): n
            for c, s, n in Notification.objects.order_by()
            .values_list("channel", "status")
            .annotate(n=Count("id"))
        }
        sent_sms = set(
            Notification.objects.filter(channel="sms", status="sent").values_list("pk", flat=True)
        )
        sent_email = set(
            Notification.objects.filter(channel="email", status="sent").values_list("pk", flat=True)
        )
        sms_rows = read_log(sms_log)
        smtp_rows = read_log(smtp_log)
        sms_ids = [int(r["reference"].rsplit(":", 1)[1]) for r in sms_rows]
        mail_ids = [int(r["id"]) for r in smtp_rows]
        duplicates = (len(sms_ids) - len(set(sms_ids))) + (len(mail_ids) - len(set(mail_ids)))
        lost = len(sent_sms - set(sms_ids)) + len(sent_email - set(mail_ids))
        not_sent = sum(n for (c, s), n in by_channel.items() if s != "sent")
        left_in_window = Booking.objects.filter(
            status="confirmed", slot__starts_at__lt=end, slot__starts_at__gte=start
        ).count()
        violations = integrity_violations()
        run_seconds = (
            (outage.run_finished_at.timestamp() - created) if outage.run_finished_at else None
        )
        last_sms = max((r["at"] for r in sms_rows), default=created) - created
        last_mail = max((r["at"] for r in smtp_rows), default=created) - created
        first_sms = min((r["at"] for r in sms_rows), default=created) - created
        correct = bool(
            done
            and duplicates == 0
            and lost == 0
            and not_sent == 0
            and left_in_window == 0
            and not violations
            and len(sms_ids) == len(sent_sms) == args.bookings
        )
        from django.conf import settings

        result = {
            "bookings": args.bookings,
            "moved": outage.moved,
            "sms": len(sent_sms),
            "email": len(sent_email),
            "reschedule_seconds": round(run_seconds, 1) if run_seconds else None,
            "first_sms_seconds": round(first_sms, 1),
            "last_sms_seconds": round(last_sms, 1),
            "last_email_seconds": round(last_mail, 1),
            "all_recorded_seconds": round(drained - created, 1),
            "sms_per_second": round(len(sms_ids) / max(0.001, last_sms - first_sms)),
            "email_per_second": round(len(mail_ids) / max(0.001, last_mail - first_sms)),
            "limit_seconds": round(args.bookings / GATEWAY_TPS, 1),
            "target_seconds": TARGET_SECONDS,
            "target_met": last_sms <= TARGET_SECONDS,
            "gateway": {"delay_s": GATEWAY_DELAY, "tps": GATEWAY_TPS},
            "smtp_delay_s": SMTP_DELAY,
            "duplicates": duplicates,
            "lost": lost,
            "not_sent": not_sent,
            "statuses": statuses,
            "worker": "celery -A rto_booking worker (one process, its default pool)",
            "settings": {
                "SMS_MAX_IN_FLIGHT": settings.SMS_MAX_IN_FLIGHT,
                "SMS_GATEWAY_TPS": settings.SMS_GATEWAY_TPS,
                "EMAIL_MAX_IN_FLIGHT": settings.EMAIL_MAX_IN_FLIGHT,
                "NOTIFICATION_BATCH_SIZE": settings.NOTIFICATION_BATCH_SIZE,
            },
            "cpus": os.cpu_count(),
            "load_average_after": os.getloadavg(),
            "correct": correct,
        }
        result["worker_env"] = worker_env
        results = Path(args.results)
        results.parent.mkdir(parents=True, exist_ok=True)
        results.write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result, indent=2))
        print(
            f"last SMS accepted {last_sms:.1f} s after the mark-down (limit "
            f"{result['limit_seconds']} s, target <= {TARGET_SECONDS} s: "
            f"{'met' if result['target_met'] else 'MISSED'}); last e-mail {last_mail:.1f} s; "
            f"duplicates {duplicates}, lost {lost}; correct: {correct}"
        )
        return 0 if correct else 1
    finally:
        if worker is not None:
            worker.stop(timeout=30)
        for process in (gateway, smtp):
            process.stdin.close()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        redis.stop()
        from django.db import connections

        connections.close_all()
        if not args.keep:
            admin(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
