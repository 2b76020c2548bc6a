"""The hand-written statements that earn their place, together (STYLE.md, "Speed-ups").

Everything else in the project is plain Django. Each statement here has a plain form — what the
ORM would do, kept in tests/slots/plain_forms.py — that a test holds equal to it, and an A/B
measured side by side in one run (docs/PERFORMANCE.md, "Speed-ups: kept and removed"; the
plain forms are swapped in by `bench/bench_booking.py --plain-forms` and
`bench/bench_reschedule.py --plain-forms`).

Each entry: what it does · why it is hand-written · the gain measured · the test that holds it
equal to its plain form.

* `slot_with_checks` — the slot with office, service and offering, and its closure, outage and
  the applicant's active booking, in one SELECT. Why: the booking rules needed four queries,
  and compiling the ORM form (three subqueries) cost more than running it. Gain: the "hot path"
  A/B of docs/PERFORMANCE.md. Equal: tests/slots/test_hotpath.py::
  test_slot_with_checks_answers_as_the_plain_form.
* `booking_insert` — the seat UPDATE, the booking, its BOOKED event and its outbox rows in one
  statement (a data-modifying WITH, its own transaction). Why: one round trip instead of six,
  and the outbox rows built in PostgreSQL instead of Python. Gain: the "hot path" A/B. Equal:
  tests/slots/test_hotpath.py::test_booking_insert_writes_what_the_plain_form_writes.
* `outbox_rows_for_event_ids` — a reschedule chunk's outbox rows, one INSERT … SELECT from the
  new events. Why: building and shipping thousands of JSON contexts from Python cost more than
  the rest of the move. Gain: the "reschedule" A/B. Equal: tests/slots/test_hotpath.py::
  test_outbox_rows_in_sql_equal_the_python_rows.
* `slots_booked_add`, `slots_booked_add_if_free`, `bookings_point_to` — a chunk's counter and
  slot changes as one UPDATE … FROM (VALUES …) each. Why: the ORM's CASE WHEN per row grows
  with the square of the chunk. Gain: the "reschedule" A/B. Equal: tests/slots/test_hotpath.py::
  test_bulk_updates_equal_the_plain_form.
* `events_insert` — a chunk's history rows as one JSON document. Why: quoting bulk_create's
  arrays client-side cost more than the rest of the chunk. Gain: the "reschedule" A/B. Equal:
  tests/slots/test_hotpath.py::test_events_insert_equals_bulk_create.

Table and column names come from the models' `_meta` (Django's documented Model _meta API),
values always travel as parameters, cast to their column's type.
"""

from __future__ import annotations

import contextlib
import functools
import json
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from types import SimpleNamespace

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from notifications.models import Notification
from slots.models import (
    Booking,
    BookingEvent,
    Closure,
    Offering,
    Office,
    Outage,
    Service,
    Slot,
    hold_horizon,
)

# --- Reading rows back into model instances ----------------------------------------------------


def _columns(model, alias: str) -> str:
    """Every concrete column of `model`, qualified by `alias`, in field order."""
    return ", ".join(f'{alias}."{field.column}"' for field in model._meta.concrete_fields)


def _instance(model, row, start: int):
    """The instance `row[start:]` holds (columns as `_columns`), and where the next begins."""
    fields = model._meta.concrete_fields
    end = start + len(fields)
    names = [field.attname for field in fields]
    return model.from_db(connection.alias, names, row[start:end]), end


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _compact(sql: str) -> str:
    """One line, single spaces (the statements hold no string literal with two spaces): a
    statement psycopg has seen is converted to PostgreSQL's placeholders once, from its cache,
    only while its text is under 4 KB (psycopg's MAX_CACHED_STATEMENT_LENGTH)."""
    return " ".join(sql.split())


# --- The slot and what the booking rules need ---------------------------------------------------


@functools.cache
def _slot_checks_sql() -> str:
    active = ", ".join(f"'{status}'" for status in Booking.ACTIVE)
    offices = _table(Outage.offices.through)
    services = _table(Outage.services.through)
    return _compact(f"""
        SELECT {_columns(Slot, "s")}, {_columns(Office, "f")}, {_columns(Service, "v")},
               {_columns(Offering, "g")},
          (SELECT c.id FROM {_table(Closure)} c
            WHERE c.office_id = s.office_id
              AND c.date = (s.starts_at AT TIME ZONE CAST(%(tz)s AS text))::date
              AND (c.service_id IS NULL OR c.service_id = s.service_id) LIMIT 1),
          (SELECT o.id FROM {_table(Outage)} o
             JOIN {offices} oo ON oo.outage_id = o.id AND oo.office_id = s.office_id
            WHERE o.resolved_at IS NULL AND o.capacity_percent = 0
              AND o.starts_at < s.ends_at
              AND coalesce(o.expected_end, %(horizon)s) > s.starts_at
              AND (NOT EXISTS (SELECT 1 FROM {services} os WHERE os.outage_id = o.id)
                   OR EXISTS (SELECT 1 FROM {services} os
                               WHERE os.outage_id = o.id AND os.service_id = s.service_id))
            LIMIT 1),
          EXISTS (SELECT 1 FROM {_table(Booking)} b
                   WHERE b.applicant_id = %(applicant)s AND b.service_id = s.service_id
                     AND b.status IN ({active}))
        FROM {_table(Slot)} s
        JOIN {_table(Office)} f ON f.id = s.office_id
        JOIN {_table(Service)} v ON v.id = s.service_id
        JOIN {_table(Offering)} g ON g.id = s.offering_id
        WHERE s.id = %(slot)s
    """)  # noqa: S608 (names from the models, values as parameters)


def slot_with_checks(*, slot_id: int, applicant_id: int | None = None) -> Slot:
    """The slot (with office, service and offering loaded) and, in the same query, what the
    rules need: `closure_id` (a closure of its office and service on its local day),
    `outage_id` (an unresolved outage over it) and `holds_active` (an active booking of
    `applicant_id` for its service). Raises Slot.DoesNotExist."""
    with connection.cursor() as cursor:
        cursor.execute(
            _slot_checks_sql(),
            {
                "tz": settings.TIME_ZONE,
                "applicant": applicant_id or 0,
                "slot": slot_id,
                "horizon": hold_horizon(timezone.now()),
            },
        )
        row = cursor.fetchone()
    if row is None:
        raise Slot.DoesNotExist
    slot, at = _instance(Slot, row, 0)
    slot.office, at = _instance(Office, row, at)
    slot.service, at = _instance(Service, row, at)
    slot.offering, at = _instance(Offering, row, at)
    slot.closure_id, slot.outage_id, slot.holds_active = row[at:]
    return slot


# --- Outbox rows built in PostgreSQL --------------------------------------------------------------


def _outbox_select(*, booking: str, event: str, source: str) -> str:
    """The SELECT of one outbox row per channel for each (booking, event) of `source`, as
    slots.messages.message_rows_for_events builds them (the booking's current slot is the one
    announced; `calendar_sequence` counts as slots.selectors.TIME_CHANGES does). Parameters:
    %(kind)s, %(site)s, %(now)s."""
    applicant_model = Booking._meta.get_field("applicant").related_model
    return f"""
        SELECT {booking}.id, ap.id, 'event:' || {event}.id, ch.channel, CAST(%(kind)s AS text),
           coalesce(nullif(ap.preferred_language, ''), 'en'), ch.recipient,
           jsonb_build_object(
               'reference', {booking}.reference, 'full_name', ap.full_name,
               'office', jsonb_build_object('code', o.code, 'name', o.name,
                   'name_hi', o.name_hi, 'address', o.address, 'address_hi', o.address_hi),
               'service', jsonb_build_object('slug', sv.slug, 'name', sv.name,
                   'name_hi', sv.name_hi),
               'slot', jsonb_build_object('starts_at', to_json(s.starts_at),
                   'ends_at', to_json(s.ends_at)),
               'links', jsonb_build_object(
                   'booking',
                   CAST(%(site)s AS text) || '/my/bookings/' || {booking}.reference || '/'),
               'event_id', {event}.id,
               'calendar_sequence', (
                   SELECT count(*) FROM {_table(BookingEvent)} tc
                    WHERE tc.booking_id = {booking}.id AND tc.id <= {event}.id
                      AND tc.kind <> '{BookingEvent.Kind.BOOKED.value}'
                      AND tc.to_starts_at IS NOT NULL
                      AND tc.from_starts_at IS DISTINCT FROM tc.to_starts_at),
               'from_starts_at', to_json({event}.from_starts_at),
               'to_starts_at', to_json({event}.to_starts_at),
               'outage', CASE WHEN ot.id IS NULL THEN 'null'::jsonb ELSE jsonb_build_object(
                   'id', ot.id, 'reason', ot.reason, 'reason_hi', ot.reason_hi,
                   'capacity_percent', ot.capacity_percent) END)
           || CASE WHEN {event}.reason <> '' THEN jsonb_build_object('event_reason', {event}.reason)
                   ELSE '{{}}'::jsonb END,
           '', '', '', 'pending', 0, CAST(%(now)s AS timestamptz), '', '',
           CAST(%(now)s AS timestamptz)
        FROM {source}
        JOIN {_table(applicant_model)} ap ON ap.id = {booking}.applicant_id
        JOIN {_table(Office)} o ON o.id = {booking}.office_id
        JOIN {_table(Service)} sv ON sv.id = {booking}.service_id
        JOIN {_table(Slot)} s ON s.id = {booking}.slot_id
        LEFT JOIN {_table(Outage)} ot ON ot.id = {event}.outage_id
        CROSS JOIN LATERAL (VALUES ('sms', ap.mobile), ('email', ap.email))
            AS ch(channel, recipient)
        WHERE ch.recipient <> ''
    """  # noqa: S608 (names from the models, values as parameters)


_OUTBOX_COLUMNS = (
    "booking_id, applicant_id, event_key, channel, kind, language, recipient, context, subject, "
    "body, body_html, status, attempts, next_attempt_at, last_error, provider_id, created_at"
)


def outbox_rows_for_event_ids(*, event_ids: Sequence[int], kind: str) -> None:
    """Write the outbox rows of events already in the database, one INSERT … SELECT.
    Idempotent (the unique event × channel skips what exists)."""
    select = _outbox_select(
        booking="b",
        event="ev",
        source=f"{_table(BookingEvent)} ev JOIN {_table(Booking)} b ON b.id = ev.booking_id",
    )
    sql = (
        f"INSERT INTO {_table(Notification)} ({_OUTBOX_COLUMNS}) {select}"
        " AND ev.id = ANY(%(ids)s) ON CONFLICT DO NOTHING"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            {
                "ids": list(event_ids),
                "kind": kind,
                "site": settings.SITE_URL,
                "now": timezone.now(),
            },
        )


# --- The one-statement booking --------------------------------------------------------------------


@dataclass
class Written:
    """What `booking_insert` wrote: the ids, and the outbox rows as (id, channel, created_at)."""

    booking_id: int
    event_id: int
    outbox: list[tuple[int, str, datetime]]


@functools.cache
def _insert_layout(model, skip: tuple[str, ...]) -> tuple[list, str, str]:
    """The fields an INSERT … SELECT of `model` writes (all but the key and `skip`), their
    quoted columns, and their placeholders, each cast to its column's type (text for varchar,
    so a value too long is still an error, as in an INSERT … VALUES)."""
    fields = [
        field
        for field in model._meta.concrete_fields
        if not field.primary_key and field.attname not in skip
    ]
    places = []
    for field in fields:
        db_type = field.db_type(connection)
        cast = "text" if db_type.startswith("varchar") else db_type
        places.append(f"CAST(%({model._meta.model_name}_{field.attname})s AS {cast})")
    columns = ", ".join(f'"{field.column}"' for field in fields)
    return fields, columns, ", ".join(places)


def _values(instance, skip: tuple[str, ...]) -> dict:
    """What the ORM would write for `instance` (unsaved), named as `_insert_layout` names it."""
    fields = _insert_layout(type(instance), skip)[0]
    prefix = instance._meta.model_name
    return {
        f"{prefix}_{field.attname}": field.get_db_prep_save(
            field.pre_save(instance, add=True), connection
        )
        for field in fields
    }


_EVENT_SKIP = ("booking_id",)


@functools.cache
def _booking_statement() -> str:
    _f, b_columns, b_places = _insert_layout(Booking, ())
    _f, e_columns, e_places = _insert_layout(BookingEvent, _EVENT_SKIP)
    outbox = _outbox_select(booking="b", event="e", source="b JOIN e ON e.booking_id = b.id")
    return _compact(f"""
        WITH seat AS (
            UPDATE {_table(Slot)} SET "booked" = "booked" + 1
             WHERE "id" = %(slot)s
               AND "booked" + "held_offers"
                   < "capacity" - CAST(%(held)s AS integer) * "priority_reserve"
            RETURNING "id"
        ), b AS (
            INSERT INTO {_table(Booking)} ({b_columns}) SELECT {b_places} FROM seat
            RETURNING "id", "reference", "applicant_id", "office_id", "service_id", "slot_id"
        ), e AS (
            INSERT INTO {_table(BookingEvent)} ("booking_id", {e_columns})
            SELECT b.id, {e_places} FROM b
            RETURNING "id", "booking_id", "from_starts_at", "to_starts_at", "reason",
                      "outage_id"
        ), n AS (
            INSERT INTO {_table(Notification)} ({_OUTBOX_COLUMNS}) {outbox}
            ON CONFLICT DO NOTHING
            RETURNING "id", "channel", "created_at"
        )
        SELECT b.id, e.id, n.id, n.channel, n.created_at FROM b JOIN e ON true LEFT JOIN n ON true
    """)  # noqa: S608 (names from the models, values as parameters)


def booking_insert(
    *, booking: Booking, event: BookingEvent, held: bool, kind: str, now: datetime
) -> Written | None:
    """Take a seat of `booking.slot` and write the (unsaved) booking, its (unsaved) event and
    the event's outbox rows of `kind`, in one statement. The seat condition is
    `booked + held_offers < capacity` (a seat held for a waiting-list offer is taken, DESIGN.md
    invariant 11), less the priority reserve while it is `held`. If the seat UPDATE
    matches no row nothing is written and None comes back (the slot is full). Outside a
    transaction the statement is its own. Raises IntegrityError as the ORM would (a second
    active booking, a reference taken)."""
    params = {
        "slot": booking.slot_id,
        "held": int(held),
        "kind": kind,
        "site": settings.SITE_URL,
        "now": now,
        **_values(booking, ()),
        **_values(event, _EVENT_SKIP),
    }
    # Outside a transaction the statement is its own (one round trip, no BEGIN/COMMIT); inside
    # one it runs in a savepoint, so a refusal (IntegrityError) leaves the caller's intact.
    statement = transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext()
    with statement, connection.cursor() as cursor:
        cursor.execute(_booking_statement(), params)
        rows = cursor.fetchall()
    if not rows:
        return None
    booking_id, event_id = rows[0][0], rows[0][1]
    outbox = [(n_id, channel, created) for _b, _e, n_id, channel, created in rows if n_id]
    return Written(booking_id=booking_id, event_id=event_id, outbox=outbox)


# --- A reschedule chunk's bulk writes ------------------------------------------------------------


def int_pairs_sql(rows) -> str:
    """A VALUES list of integer pairs, inlined (ints only, so nothing to quote or escape)."""
    return ", ".join(f"({int(a)}, {int(b)})" for a, b in rows)


def slots_booked_add(deltas: dict[int, int], sign: int = 1) -> None:
    """booked += sign * delta for each slot, one statement."""
    deltas = {pk: sign * n for pk, n in deltas.items() if n}
    if not deltas:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_table(Slot)} AS s SET booked = s.booked + v.delta "  # noqa: S608
            f"FROM (VALUES {int_pairs_sql(list(deltas.items()))}) AS v(id, delta) "
            "WHERE s.id = v.id"
        )


def slots_booked_add_if_free(counts: dict[int, int]) -> int:
    """booked += n for each slot where the seats remain; returns how many slots took them."""
    if not counts:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_table(Slot)} AS s SET booked = s.booked + v.n "  # noqa: S608
            f"FROM (VALUES {int_pairs_sql(counts.items())}) AS v(id, n) "
            "WHERE s.id = v.id AND s.booked + s.held_offers + v.n <= s.capacity RETURNING s.id"
        )
        return len(cursor.fetchall())


def bookings_point_to(moves: list[tuple[int, int]], now: datetime) -> None:
    """Point each moved booking at its new slot, confirmed there (a held one leaves its hold)
    and priority, one statement."""
    if not moves:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_table(Booking)} AS b "  # noqa: S608
            "SET slot_id = v.slot_id, status = %s, held_by_id = NULL, priority = true, "
            "updated_at = %s "
            f"FROM (VALUES {int_pairs_sql(moves)}) AS v(id, slot_id) WHERE b.id = v.id",
            [Booking.Status.CONFIRMED, now],
        )


def _json_default(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()  # full precision, unlike DjangoJSONEncoder
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def events_insert(events: list[SimpleNamespace]) -> None:
    """INSERT history rows given as plain attribute bags (at most one per booking), in one
    statement: the rows travel as one JSON document. Each bag names every concrete field of
    BookingEvent but the key (an outage's rows their `outage_revision` too: the unique
    event_unique_outage_move holds per revision). Sets each one's `pk`."""
    if not events:
        return
    fields = [f for f in BookingEvent._meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    names = ", ".join(quote(f.column) for f in fields)
    values = ", ".join(
        f"(e->>{i})::{f.db_type(connection).split('(')[0]}" for i, f in enumerate(fields)
    )
    row_values = operator.attrgetter(*(f.attname for f in fields))
    document = json.dumps(
        [list(row_values(event)) for event in events], default=_json_default, ensure_ascii=False
    )
    sql = (
        f"INSERT INTO {_table(BookingEvent)} ({names}) SELECT {values} "  # noqa: S608
        "FROM jsonb_array_elements(%s::jsonb) AS e RETURNING booking_id, id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [document])
        ids = dict(cursor.fetchall())
    if len(ids) != len(events):  # RETURNING is matched to events by booking
        raise RuntimeError("events_insert takes at most one event per booking")
    for event in events:
        event.pk = ids[event.booking_id]
