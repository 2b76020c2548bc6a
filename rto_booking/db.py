"""Prepared statements for the few fixed queries of the booking hot path.

Django's psycopg cursors bind parameters client-side: every query reaches PostgreSQL as new
text, which is parsed and planned again. For the hand-written statements a booking runs on every
request (the applicant by id, the slot with its checks, the one-statement booking) planning cost
PostgreSQL several times what running them does (EXPLAIN ANALYZE: 0.48 ms planning, 0.08 ms
execution for the slot query). `prepared_cursor()` is a Django cursor (errors wrapped as Django's,
queries logged and counted as usual) whose statements bind server-side, so psycopg prepares each
one once per connection (`prepare_threshold`, settings.py) and PostgreSQL reuses the plan.

Statements run through it need typed parameters where PostgreSQL cannot infer them: cast them.
With DATABASE_PREPARED_STATEMENTS=false (or on another database) it is the ordinary cursor.
"""

from __future__ import annotations

from django.db import connection as default_connection


def prepared_cursor(db=None):
    """A cursor whose statements are prepared on PostgreSQL (see the module docstring)."""
    db = db or default_connection
    if db.vendor != "postgresql" or db.settings_dict["OPTIONS"].get("prepare_threshold") is None:
        return db.cursor()
    from django.db.backends.postgresql.base import ServerBindingCursor

    # What BaseDatabaseWrapper.cursor() does, with a server-binding psycopg cursor.
    db.close_if_health_check_failed()
    db.ensure_connection()
    db.validate_thread_sharing()
    with db.wrap_database_errors:
        raw = ServerBindingCursor(db.connection)
    return db.make_debug_cursor(raw) if db.queries_logged else db.make_cursor(raw)


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
