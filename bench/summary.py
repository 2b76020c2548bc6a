"""Print one table of every benchmark's latest figures (bench/results/*.json)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def load(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def main() -> int:
    rows = []
    booking = load("booking")
    if booking:
        burst, ratio, targets = booking["burst"], booking["ratio"], booking["targets"]
        availability = booking["availability"]
        rows += [
            ("booking API (64 clients)", f"{burst['bookings_per_s']:.0f} bookings/s", ""),
            ("raw SQL limit, same clients", f"{booking['raw']['bookings_per_s']:.0f}/s", ""),
            (
                "raw SQL, the same rows",
                f"{booking['raw_same_rows']['bookings_per_s']:.0f}/s",
                "",
            ),
            (
                "ratio API / raw",
                f"{ratio:.2f}",
                f">= {targets['ratio']} {verdict(ratio >= targets['ratio'])}",
            ),
            ("ratio API / raw, the same rows", f"{booking['ratio_same_rows']:.2f}", ""),
            *(
                (
                    f"A/B: API / {name.removeprefix('api, ')}",
                    f"{1 / entry['vs_api']:.2f}×" if entry["vs_api"] else "-",
                    "",
                )
                for name, entry in booking.get("side_by_side", {}).items()
            ),
            (
                "booking p99",
                f"{burst['p99_ms']:.0f} ms",
                f"<= {targets['p99_ms']} {verdict(burst['p99_ms'] <= targets['p99_ms'])}",
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
                f"<= {targets['availability_p95_ms']} ms "
                f"{verdict(availability['p95_ms'] <= targets['availability_p95_ms'])} / "
                f"<= {targets['availability_queries']} "
                f"{verdict(availability['queries'] <= targets['availability_queries'])}",
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
                f"<= {reschedule['target_ratio']} {verdict(reschedule['target_met'])}",
            ),
        ]
        if reschedule.get("plain_forms_over_django"):
            rows.append(
                (
                    "A/B: reschedule / plain forms",
                    f"{reschedule['plain_forms_over_django']:.2f}×",
                    "",
                )
            )
    hold = load("hold")
    if hold:
        for phase, label in (("hold", "held"), ("place", "placed once")):
            figures = hold[phase]
            rows.append(
                (
                    f"open-ended statewide: {label}",
                    f"{hold['bookings']} in {figures['django_seconds']:.2f} s "
                    f"(SQL {figures['sql_limit_seconds']:.2f} s, "
                    f"{figures['ratio_django_over_sql']:.2f}×)",
                    f"<= {hold['target_ratio']} {verdict(figures['target_met'])}",
                )
            )
    outbox = load("outbox")
    if outbox:
        rows.append(
            (
                "outbox drain",
                f"{outbox['messages_per_second']} messages/s",
                f">= 2000 {verdict(outbox['target_met'])}",
            )
        )
    told = load("told")
    if told:
        rows += [
            (
                f"told in time: {told['bookings']} by SMS",
                f"last {told['last_sms_seconds']:.0f} s ({told['sms_per_second']}/s)",
                f"<= {told['target_seconds']} s {verdict(told['target_met'])}"
                f" (limit {told['limit_seconds']:.0f} s)",
            ),
            (
                "told in time: e-mail",
                f"last {told['last_email_seconds']:.0f} s ({told['email_per_second']}/s)",
                "",
            ),
            (
                "told in time: duplicates / lost",
                f"{told['duplicates']} / {told['lost']}",
                "0 / 0",
            ),
        ]
    ballot = load("ballot")
    if ballot:
        rows.append(
            (
                f"midnight ballot: {ballot['requests']} requests",
                f"{ballot['draw_s']:.1f} s (SQL {ballot['sql_limit_s']:.2f} s)",
                f"<= {ballot['target_s']:.0f} s {verdict(ballot['target_met'])}",
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
