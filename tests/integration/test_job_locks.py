"""One worker per job family on PostgreSQL (issue 23 point 1): two worker-service instances in one test; the
holder's lock connection cut, or the holder killed with SIGKILL, and the other takes over within two ticks."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from typing import Any

import pytest
import sqlalchemy as sa

from gateway_core.adapters.db import normalise_url
from gateway_core.adapters.job_locks import JobLocks
from gateway_core.clock import FrozenClock
from gateway_core.config import Settings
from gateway_core.stores.manage import NewStore
from gateway_core.worker import watch_chains
from tests.conftest import invoice_body, post_json, running_services

SANDBOX = [("sandbox", "sandbox")]


@pytest.fixture
def open_invoice(client: Any, store: NewStore) -> None:
    assert post_json(client, "/api/plugin/invoice/create", invoice_body(store.api_key)).status_code == 201


def test_on_sqlite_the_single_worker_runs_every_family(settings: Settings) -> None:
    if settings.database_url.startswith("postgresql"):
        pytest.skip("the SQLite case")
    first, second = JobLocks(settings.database_url), JobLocks(settings.database_url)
    assert first.holds("expiry") and second.holds("expiry") and not first.enabled


def _postgres(settings: Settings) -> None:
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("advisory locks are PostgreSQL's")


def test_one_worker_watches_and_the_other_takes_over_when_its_lock_connection_is_cut(
        settings: Settings, clock: FrozenClock, open_invoice: None) -> None:
    _postgres(settings)
    admin = sa.create_engine(normalise_url(settings.database_url))
    with running_services(settings, clock) as one, running_services(settings, clock) as two:
        first, second = JobLocks(settings.database_url), JobLocks(settings.database_url)
        try:
            assert watch_chains(one, first) == SANDBOX
            assert watch_chains(two, second) == []  # standing by
            assert first.holds("expiry") and not second.holds("expiry")
            assert watch_chains(one, first) == SANDBOX and watch_chains(two, second) == []

            with admin.connect() as connection:  # the holder loses its connection (e.g. a network cut)
                connection.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": first.backend_pid()})
            ticks = [watch_chains(two, second), watch_chains(two, second)]
            assert SANDBOX in ticks and ticks[-1] == SANDBOX  # within two ticks
            assert watch_chains(one, first) == []  # the old holder noticed and stands by
            assert second.holds("expiry") and not first.holds("expiry")
            assert first.held() == frozenset()
        finally:
            first.close()
            second.close()
    admin.dispose()


HOLDER = """
import sys
from gateway_core.adapters.job_locks import JobLocks
locks = JobLocks(sys.argv[1])
assert locks.holds("watch:sandbox:sandbox") and locks.holds("expiry")
print("held", flush=True)
sys.stdin.read()
"""


def test_a_standby_takes_over_from_a_holder_killed_with_sigkill(
        settings: Settings, clock: FrozenClock, open_invoice: None) -> None:
    _postgres(settings)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, settings.database_url], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    standby = JobLocks(settings.database_url)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with running_services(settings, clock) as two:
            assert watch_chains(two, standby) == [] and not standby.holds("expiry")
            holder.send_signal(signal.SIGKILL)
            holder.wait(timeout=10)
            # The server ends the dead client's session as soon as its socket closes: wait on that condition.
            deadline = time.monotonic() + 10
            while not standby.holds("expiry") and time.monotonic() < deadline:
                time.sleep(0.05)
            assert standby.holds("expiry")
            assert watch_chains(two, standby) == SANDBOX
    finally:
        if holder.poll() is None:
            holder.kill()
        standby.close()
