"""Django's PostgreSQL backend, with a connection health check that needs no round trip.

With CONN_HEALTH_CHECKS, Django checks a persistent connection once per request before reusing
it, by sending `SELECT 1`: a round trip that cost a booking request about a tenth of its CPU in
the web worker and in PostgreSQL together (docs/PERFORMANCE.md). The question it answers ("has
the server gone away since the last request?") can be answered without asking the server: an
idle connection receives nothing unless the server is leaving, in which case it sends its
goodbye (an error message such as "terminating connection due to administrator command") and
closes the socket, or the socket is closed when the server process dies. So when the connection
is idle and nothing is waiting on its socket, it is usable; anything else (closed, broken, in a
transaction, or bytes waiting) is decided by Django's `SELECT 1` as before.

A server that vanishes without closing the socket (a host lost mid-network) is not seen by
either check until a query fails; `DatabaseUnavailableMiddleware` answers that request 503 and
Django drops the connection after it (errors_occurred), as it always did.

Settings select this engine wherever DATABASE_URL names PostgreSQL (rto_booking/settings.py).
"""

from __future__ import annotations

import select

from django.db.backends.postgresql.base import DatabaseWrapper as PostgresDatabaseWrapper
from psycopg import pq

_READABLE = select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP


def server_has_spoken(connection) -> bool:
    """Whether anything waits to be read on the socket of `connection` (a psycopg connection),
    without blocking: on an idle connection, only the server's goodbye or the end of the stream."""
    poller = select.poll()
    poller.register(connection.fileno(), _READABLE)
    return bool(poller.poll(0))


class DatabaseWrapper(PostgresDatabaseWrapper):
    def is_usable(self):
        connection = self.connection
        if connection is None or connection.closed or connection.broken:
            return False
        if connection.info.transaction_status == pq.TransactionStatus.IDLE:
            try:
                if not server_has_spoken(connection):
                    return True
            except (OSError, ValueError):  # no socket any more
                return False
        return super().is_usable()
