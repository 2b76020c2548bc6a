"""The PostgreSQL engine's health check (rto_booking/postgresql/base.py): an idle connection is
checked without a round trip, a connection the server has ended is dropped before it is used,
and anything else is still decided by Django's `SELECT 1`. Observed from the server's side."""

import time

import psycopg
import pytest
from django.db import connection, connections

from tests.live import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("the engine is PostgreSQL's")


@pytest.fixture
def observer():
    """A second connection, to watch ours from the server's side."""
    params = connection.settings_dict
    with psycopg.connect(
        host=params["HOST"] or params["OPTIONS"].get("host"),
        port=params["PORT"] or 5432,
        dbname=params["NAME"],
        user=params["USER"],
        password=params["PASSWORD"] or None,
        autocommit=True,
    ) as conn:
        yield conn


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def last_query(observer, pid: int) -> str:
    row = observer.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()
    return row[0]


def start_request() -> None:
    """What Django does when a request starts: the next use of the connection checks it."""
    connection.close_if_unusable_or_obsolete()


def test_the_settings_select_this_engine():
    assert type(connections["default"]).__module__ == "rto_booking.postgresql.base"
    assert connection.settings_dict["CONN_HEALTH_CHECKS"] is True


def test_an_idle_healthy_connection_is_checked_without_a_query(observer):
    pid = backend_pid()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 'the last thing this request asked'")
    start_request()
    connection.close_if_health_check_failed()
    assert connection.connection is not None and connection.health_check_done
    assert last_query(observer, pid) == "SELECT 'the last thing this request asked'"
    assert backend_pid() == pid  # the same connection serves the next request


def test_a_connection_the_server_ended_is_dropped_before_it_is_used(observer):
    pid = backend_pid()
    observer.execute("SELECT pg_terminate_backend(%s)", [pid])
    assert wait_for(
        lambda: (
            not observer.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid]
            ).fetchone()[0]
        ),
        timeout=10,
    )
    time.sleep(0.05)  # the goodbye and the end of the stream reach our socket
    start_request()
    with connection.cursor() as cursor:  # no error: the dead connection was replaced first
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid


def test_bytes_waiting_on_an_idle_connection_are_left_to_select_1(observer):
    """A notification is not a goodbye: the fallback asks the server, which answers, and the
    connection is kept."""
    pid = backend_pid()
    with connection.cursor() as cursor:
        cursor.execute("LISTEN rto_health_check_test")
    observer.execute("NOTIFY rto_health_check_test")
    time.sleep(0.05)
    start_request()
    connection.close_if_health_check_failed()
    assert last_query(observer, pid) == "SELECT 1"
    assert backend_pid() == pid
    with connection.cursor() as cursor:
        cursor.execute("UNLISTEN *")
