"""The slots app's numbers for /metrics, read from PostgreSQL at scrape time."""

from __future__ import annotations

from django.db.models import BooleanField, Case, CharField, Count, Q, Sum, Value, When
from django.db.models.functions import Concat
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from slots.models import BallotEntry, Booking, Offer, Outage, WaitlistEntry


def database_metrics() -> list:
    bookings = GaugeMetricFamily(
        "rto_bookings", "Bookings by status (all time, from PostgreSQL).", labels=["status"]
    )
    # Counters, not gauges over the last 7 days: Prometheus users take a window themselves
    # (increase(rto_bookings_no_show_total[7d])) and a `_total` name promises a counter. Counted
    # all time from PostgreSQL, they only grow (an appointment, once attended or missed, stays so).
    no_show = CounterMetricFamily(
        "rto_bookings_no_show",
        "Appointments missed (no-show), all time, by office and service.",
        labels=["office", "service"],
    )
    attended = CounterMetricFamily(
        "rto_bookings_attended",
        "Appointments attended, all time, by office and service.",
        labels=["office", "service"],
    )
    by_status: dict[str, int] = {}
    # One query for all three: the status count grouped by office and service too (a handful
    # of offices × services × statuses rows), summed here for `rto_bookings`.
    rows = (
        Booking.objects.order_by()
        .values("status", "office__code", "service__slug")
        .annotate(count=Count("id"))
    )
    for row in rows:
        by_status[row["status"]] = by_status.get(row["status"], 0) + row["count"]
        labels = [row["office__code"], row["service__slug"]]
        if row["status"] == Booking.Status.NO_SHOW:
            no_show.add_metric(labels, row["count"])
        elif row["status"] == Booking.Status.ATTENDED:
            attended.add_metric(labels, row["count"])
    for status, count in by_status.items():
        bookings.add_metric([status], count)

    outages = GaugeMetricFamily(
        "rto_outages",
        "Outages by rescheduling state and whether they are still active (unresolved).",
        labels=["state", "active"],
    )
    moved = GaugeMetricFamily(
        "rto_outage_bookings",
        "Bookings affected by all outages so far, by outcome (affected, moved, "
        "needs_new_slot); an undone outage takes its moves back.",
        labels=["outcome"],
    )
    now = timezone.now()
    still_active = Case(
        When(Q(resolved_at__isnull=True) | Q(resolved_at__gt=now), then=Value(True)),
        default=Value(False),
        output_field=BooleanField(),
    )
    rows = (
        Outage.objects.order_by()
        .annotate(active=still_active)
        .values("state", "active")
        .annotate(
            count=Count("id"),
            affected_sum=Sum("affected"),
            moved_sum=Sum("moved"),
            needs_sum=Sum("needs_new_slot"),
        )
    )
    totals = {"affected": 0, "moved": 0, "needs_new_slot": 0}
    for row in rows:
        outages.add_metric([row["state"], "true" if row["active"] else "false"], row["count"])
        totals["affected"] += row["affected_sum"] or 0
        totals["moved"] += row["moved_sum"] or 0
        totals["needs_new_slot"] += row["needs_sum"] or 0
    for outcome, value in totals.items():
        moved.add_metric([outcome], value)
    return [bookings, no_show, attended, outages, moved, *_waitlist_metrics()]


def _waitlist_metrics() -> list:
    """Waiting list and ballots (DESIGN.md, "Fair access"), in one query: offers by state
    (made = all of them: open, accepted, declined, expired), the entries waiting now, and the
    requests in the ballots of newly opened days by state."""
    waiting_key = "_waiting"  # no offer state is spelt so
    ballot_prefix = "ballot:"
    by_state = (
        Offer.objects.order_by().values_list("state").annotate(n=Count("id")).order_by()
    ).union(
        WaitlistEntry.objects.filter(state=WaitlistEntry.State.WAITING)
        .order_by()
        .annotate(key=Value(waiting_key))
        .values_list("key")
        .annotate(n=Count("id")),
        BallotEntry.objects.order_by()
        .annotate(key=Concat(Value(ballot_prefix), "state", output_field=CharField()))
        .values_list("key")
        .annotate(n=Count("id")),
    )
    counts = dict(by_state)
    waiting_now = counts.pop(waiting_key, 0)
    ballot = {
        key.removeprefix(ballot_prefix): counts.pop(key)
        for key in list(counts)
        if key.startswith(ballot_prefix)
    }
    offers = GaugeMetricFamily(
        "rto_waitlist_offers",
        "Waiting-list offers made so far, by state (open, accepted, declined, expired).",
        labels=["state"],
    )
    for state in Offer.State.values:
        offers.add_metric([state], counts.get(state, 0))
    made = GaugeMetricFamily("rto_waitlist_offers_made", "Waiting-list offers made so far.")
    made.add_metric([], sum(counts.values()))
    waiting = GaugeMetricFamily(
        "rto_waitlist_waiting", "Applicants on a waiting list now (entries waiting)."
    )
    waiting.add_metric([], waiting_now)
    requests = GaugeMetricFamily(
        "rto_ballot_requests",
        "Requests in the ballots of newly opened days, by state (pending, won, lost, void).",
        labels=["state"],
    )
    for state in BallotEntry.State.values:
        requests.add_metric([state], ballot.get(state, 0))
    return [offers, made, waiting, requests]
