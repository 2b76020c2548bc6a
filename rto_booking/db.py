"""What the database's errors mean, in one place."""

from __future__ import annotations

# lock_not_available (lock_timeout) and query_canceled (statement_timeout): the database is up
# but a statement waited too long. Anything else that breaks a connection means it is away.
LOCK_TIMEOUT_SQLSTATES = frozenset({"55P03", "57014"})


def is_lock_timeout(error: BaseException) -> bool:
    """Whether a Django database error was PostgreSQL giving up waiting (busy, retry)."""
    return getattr(error.__cause__, "sqlstate", None) in LOCK_TIMEOUT_SQLSTATES
