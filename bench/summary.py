"""Print one table of every benchmark's latest figures (bench/results/*.json)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def load(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def main() -> int:
    rows = []
    booking = load("booking")
    if booking:
        burst, ratio = booking["burst"], booking["ratio"]
        raw_rate = booking["raw"]["bookings_per_s"]
        availability = booking["availability"]
        rows += [
            ("booking API (64 clients)", f"{burst['bookings_per_s']:.0f} bookings/s", ""),
            (
                "raw SQL limit, same clients",
                f"{raw_rate:.0f} bookings/s",
                "",
            ),
            ("ratio API / raw", f"{ratio:.2f}", f">= 0.20 {'met' if ratio >= 0.2 else 'MISSED'}"),
            (
                "booking p99",
                f"{burst['p99_ms']:.0f} ms",
                f"<= 150 {'met' if burst['p99_ms'] <= 150 else 'MISSED'}",
            ),
            (
                "5xx / overbooked slots",
                f"{booking['five_xx']} / {booking['overbooked_slots']}",
                "0 / 0",
            ),
            (
                "last seats (500 clients, 50 seats)",
                json.dumps(booking["last_seats"]["statuses"]),
                "50 × 201",
            ),
            (
                "availability p95 / queries",
                f"{availability['p95_ms']:.1f} ms / {availability['queries']}",
                "<= 25 ms / <= 4",
            ),
        ]
    reschedule = load("reschedule")
    if reschedule:
        rows += [
            (
                "statewide reschedule",
                f"{reschedule['bookings']} in {reschedule['django_seconds']:.2f} s",
                "",
            ),
            (
                "ratio to the SQL limit",
                f"{reschedule['ratio_django_over_sql']:.2f}",
                f"<= 2 {'met' if reschedule['target_met'] else 'MISSED'}",
            ),
        ]
    outbox = load("outbox")
    if outbox:
        rows.append(
            (
                "outbox drain",
                f"{outbox['messages_per_second']} messages/s",
                f">= 2000 {'met' if outbox['target_met'] else 'MISSED'}",
            )
        )
    if not rows:
        print("no results yet: run make bench")
        return 1
    print()
    print(f"{'benchmark':36} {'figure':>28}  target")
    for name, value, target in rows:
        print(f"{name:36} {value:>28}  {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
