"""Prepared statements for the few fixed queries of the booking hot path.

Django's psycopg cursors bind parameters client-side: every query reaches PostgreSQL as new
text, which is parsed and planned again. For the hand-written statements a booking runs on every
request (the applicant by id, the slot with its checks, the one-statement booking) planning cost
PostgreSQL several times what running them does (EXPLAIN ANALYZE: 0.48 ms planning, 0.08 ms
execution for the slot query). `prepared_cursor()` is a Django cursor (errors wrapped as Django's,
queries logged and counted as usual) whose statements bind server-side, so psycopg prepares each
one once per connection (`prepare_threshold`, settings.py) and PostgreSQL reuses the plan.

Statements run through it need typed parameters where PostgreSQL cannot infer them: cast them.
With DATABASE_PREPARED_STATEMENTS=false (or on another database) it is the ordinary cursor,
except for numbered statements (`numbered=True`), which are then bound server-side unprepared.
"""

from __future__ import annotations

import functools

from django.db import connection as default_connection


def prepared_cursor(db=None, *, numbered: bool = False):
    """A cursor whose statements are prepared on PostgreSQL (see the module docstring).

    `numbered`: the statement is written with PostgreSQL's own placeholders ($1, $2, …) and is
    sent exactly as written, with no conversion in psycopg. Ordinary placeholders (%s) are
    converted on every execution once a statement has more than 50 parameters (psycopg caches
    the conversion only below that, `_queries.MAX_CACHED_STATEMENT_PARAMS`); the one-statement
    booking with two outbox rows has 51. Numbered statements are bound server-side even with
    prepared statements off (then unprepared, which a pooler in transaction mode accepts).
    """
    db = db or default_connection
    prepare = db.settings_dict["OPTIONS"].get("prepare_threshold") is not None
    if db.vendor != "postgresql" or not (prepare or numbered):
        return db.cursor()
    from django.db.backends.postgresql.base import ServerBindingCursor

    # What BaseDatabaseWrapper.cursor() does, with a server-binding psycopg cursor.
    db.close_if_health_check_failed()
    db.ensure_connection()
    db.validate_thread_sharing()
    with db.wrap_database_errors:
        raw = (_numbered_cursor_class() if numbered else ServerBindingCursor)(db.connection)
    return db.make_debug_cursor(raw) if db.queries_logged else db.make_cursor(raw)


@functools.cache
def _numbered_cursor_class():
    from django.db.backends.postgresql.base import ServerBindingCursor
    from psycopg.raw_cursor import RawCursorMixin

    class NumberedServerBindingCursor(RawCursorMixin, ServerBindingCursor):
        """Django's server-binding cursor taking $1, $2, … placeholders, sent as written."""

    return NumberedServerBindingCursor


def numbered_placeholders(casts, start: int) -> tuple[str, int]:
    """`CAST($n AS type)` for each type in `casts`, numbered from `start`; and the next number."""
    places = ", ".join(f"CAST(${start + i} AS {cast})" for i, cast in enumerate(casts))
    return places, start + len(casts)


def model_columns(model, alias: str = "") -> str:
    """Every concrete column of `model`, quoted (and qualified by `alias`), in field order:
    the SELECT list `model_from_row` reads back."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(f'{prefix}"{field.column}"' for field in model._meta.concrete_fields)


def model_from_row(model, row, start: int = 0, db=None):
    """The instance `row[start:]` holds (columns as `model_columns`), and where the next begins."""
    db = db or default_connection
    fields = model._meta.concrete_fields
    end = start + len(fields)
    names = [field.attname for field in fields]
    return model.from_db(db.alias, names, row[start:end]), end
