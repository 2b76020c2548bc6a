"""Fault drills (`make drills`): real processes, real faults, bounded waits.

Drill (a), a worker killed with SIGKILL in the middle of a reschedule, is
tests/integration/test_outage_live.py; `make drills` runs it with the ones here.
"""

from __future__ import annotations

import pytest

from tests.drills.postgres import PrivatePostgres, postgres_bin_dir, start_private_postgres


@pytest.fixture
def private_postgres():
    if postgres_bin_dir() is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    server: PrivatePostgres = start_private_postgres()
    try:
        yield server
    finally:
        server.destroy()
