"""Fault loop (issue 23 point 7): PostgreSQL connections cut (pg_terminate_backend) under a running `voltbridge
web` and `voltbridge worker`: the worker's sessions in the middle of a watch tick and in the middle of dispatch,
all of its sessions at once (its job-lock and LISTEN connections too), and the web's sessions between requests
and during them. The processes recover without a restart, and nothing is lost: every payment is recorded once,
every invoice settled, every delivery arrives.

Each process's sessions are found by their application_name (`voltbridge-<role>:<pid>`, gateway_core/adapters/db.py).
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from gateway_core.adapters.db import normalise_url
from gateway_core.adapters.models import ParkedItem
from gateway_core.bootstrap import Services, build_services
from tests.e2e.fault_support import (
    account,
    done,
    fault_store,
    halves,
    invoice_amount,
    log_entries,
    progress,
    send,
    shuffled,
    start,
    stop,
    tails,
    wait_until,
    worker_env,
)
from tests.e2e.test_run_command import _free_port
from tests.fakes.receiver import Receiver
from tests.fakes.smtp import SmtpServer
from tests.integration.notify_support import notify_settings_for

pytestmark = pytest.mark.postgres

INVOICES = 60
PAYMENTS = 2 * INVOICES
CUTS = {"tick": 5, "dispatch": 5, "all": 2}  # worker sessions cut mid-tick, mid-dispatch, and all at once
WEB_IDLE_CUTS, WEB_ACTIVE_CUTS = 4, 3
BOUND_SECONDS = 200.0  # the whole loop (pytest-timeout is 300 s); a healthy run takes a fraction of it
SEED = 7

log = logging.getLogger(__name__)

# The locks the test holds so that a session is cut in the middle of its work (Cutter.cut_when_blocked).
LOCK_INVOICE = "SELECT id FROM invoices WHERE number = :number FOR UPDATE"
LOCK_SENDING = "SELECT id FROM deliveries WHERE status = 'sending' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED"


@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> str:
    if not os.environ.get("TEST_DATABASE_URL"):
        pytest.skip("cutting connections is PostgreSQL's (pg_terminate_backend): set TEST_DATABASE_URL")
    url: str = request.getfixturevalue("pg_migrated")
    from tests.conftest import empty_pg

    empty_pg(url)
    return url


@pytest.fixture
def wall_services(pg_url: str, tmp_path: Path) -> Iterator[Services]:
    svc = build_services(notify_settings_for(pg_url, tmp_path))
    yield svc
    if svc.engine is not None:
        svc.engine.dispose()


class Cutter:
    """Terminates a process's PostgreSQL sessions, from connections of the test's own.

    To cut a session in the middle of its work rather than between statements, the test holds a lock the
    process is about to need (an invoice's row, a claimed delivery's row, the invoices table), waits until one of
    the process's sessions waits for it, and terminates that session (or all of the process's) before letting go.
    """

    def __init__(self, url: str) -> None:
        self.engine = sa.create_engine(normalise_url(url), poolclass=sa.pool.NullPool)
        self.connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        self.cuts: Counter[str] = Counter()

    def sessions(self, names: list[str]) -> list[Any]:
        return list(self.connection.execute(sa.text(
            "SELECT pid, state, wait_event_type AS waiting, query FROM pg_stat_activity "
            "WHERE application_name = ANY(:names) AND pid <> pg_backend_pid()"), {"names": names}).all())

    def cut(self, kind: str, pids: list[int]) -> int:
        terminated = sum(bool(self.connection.execute(sa.text("SELECT pg_terminate_backend(:pid, 5000)"),
                                                      {"pid": pid}).scalar()) for pid in pids)
        if terminated:
            self.cuts[kind] += 1
        return terminated

    def cut_when_blocked(self, kind: str, names: list[str], lock_sql: str, params: dict[str, Any], *,
                         everything: bool = False, then: Callable[[], None] | None = None,
                         timeout: float = 30.0) -> bool:
        """Hold a lock (lock_sql, in a transaction of our own), run `then`, and once a session of `names` waits
        for the lock, cut it (or, with everything, all of their sessions); let go either way.

        False if the lock could not be taken (lock_sql selected nothing) or nobody came for it in time.
        """
        with self.engine.connect() as holder:
            with holder.begin():
                taken = holder.execute(sa.text(lock_sql), params)
                if taken.returns_rows and taken.first() is None:
                    return False
                if then is not None:
                    then()
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline:
                    sessions = self.sessions(names)
                    blocked = [s.pid for s in sessions if s.waiting == "Lock"]
                    if blocked:
                        return bool(self.cut(kind, [s.pid for s in sessions] if everything else blocked))
                    time.sleep(0.005)
        return False

    def close(self) -> None:
        self.connection.close()
        self.engine.dispose()


def children(pid: int) -> list[int]:
    """The processes whose parent is pid (gunicorn's workers under its master)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


def post(base: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, {}


def _healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def test_cut_connections_during_dispatch_and_watch_ticks_are_recovered_without_restart(
        wall_services: Services, pg_url: str, tmp_path: Path) -> None:
    svc = wall_services
    began = time.monotonic()
    bound = began + BOUND_SECONDS
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    cutter = Cutter(pg_url)
    with Receiver() as receiver, SmtpServer() as smtp:
        made = fault_store(svc, receiver.url("/store"))
        env = worker_env(svc, tmp_path, "worker", smtp.url, WEB_CONCURRENCY="1", WEB_THREADS="4")
        worker, worker_log = start(["worker"], env, tmp_path, "worker")
        web, web_log = start(["web", "--host", "127.0.0.1", "--port", str(port)], env, tmp_path, "web")
        logs = [worker_log, web_log]
        try:
            wait_until(lambda: web.poll() is None and bool(children(web.pid)) and _healthy(base),
                       bound - time.monotonic(), "voltbridge web to answer", logs)
            web_names = [f"voltbridge-web:{pid}" for pid in children(web.pid)]
            worker_names = [f"voltbridge-worker:{worker.pid}"]

            # -- the web: sessions cut between requests (the pool's idle connections), then during them -------
            numbers: dict[int, str] = {}
            retried = 0

            def create(i: int, retries: int) -> None:
                nonlocal retried
                body = {"api_key": made.api_key, "platform": "custom", "external_invoice_id": f"cut-{i}",
                        "amount_type": "fiat", "amount": str(invoice_amount(i)), "fiat_currency": "USD"}
                for attempt in range(retries + 1):
                    status, answer = post(base, "/api/plugin/invoice/create", body)
                    if status in (200, 201):
                        numbers[i] = str(answer["invoice_number"])
                        return
                    assert status >= 500 and attempt < retries, f"invoice {i}: {status} {answer}\n{tails(logs)}"
                    retried += 1  # the same external id again: creation is idempotent

            half = INVOICES // 2
            for i in range(half):
                if i and i % (half // WEB_IDLE_CUTS) == 0:  # the pool's connections, idle since the last request
                    cutter.cut("web_idle", [s.pid for s in cutter.sessions(web_names)])
                create(i, 0)  # no retry: a request after a cut must simply work (the pool checks first)
            for i in range(half, INVOICES):
                if i - half < WEB_ACTIVE_CUTS:  # its INSERT waits for our lock on the table: cut it there
                    request = threading.Thread(target=create, args=(i, 3), daemon=True)
                    assert cutter.cut_when_blocked("web_active", web_names, "LOCK TABLE invoices IN SHARE MODE", {},
                                                   then=request.start), tails(logs)
                    request.join(timeout=60)
                else:
                    create(i, 0)
            assert sorted(numbers) == list(range(INVOICES)), "an invoice request was not answered"
            transfers = shuffled(halves(svc, [numbers[i] for i in range(INVOICES)]), SEED)

            # -- the worker: a session cut mid-tick (waiting for an invoice's lock), mid-dispatch (recording a
            # send, waiting for the delivery's lock), and all of its sessions at once mid-tick ---------------------
            schedule = shuffled_kinds(SEED)
            size = PAYMENTS // len(schedule)
            for k, kind in enumerate(schedule):
                chunk = transfers[k * size:(k + 1) * size]
                if kind in ("tick", "all"):
                    assert cutter.cut_when_blocked(kind, worker_names, LOCK_INVOICE, {"number": chunk[0].number},
                                                   everything=kind == "all", then=lambda c=chunk: send(svc, c)), \
                        f"no tick came for the invoice's lock\n{tails(logs)}"
                else:
                    receiver.default.delay = 0.3  # sends long enough for the test to lock a claimed delivery
                    send(svc, chunk)
                    wait_until(lambda: cutter.cut_when_blocked("dispatch", worker_names, LOCK_SENDING, {}, timeout=10),
                               bound - time.monotonic(), "a cut mid-dispatch", logs)
                    receiver.default.delay = 0.0
                sent = (k + 1) * size
                wait_until(lambda sent=sent: progress(svc)["payments"] >= sent, bound - time.monotonic(),
                           f"round {k + 1}'s payments recorded", logs)
            wait_until(lambda: done(svc, PAYMENTS, INVOICES), bound - time.monotonic(),
                       "every payment recorded, every invoice settled, every delivery delivered", logs)
            assert worker.poll() is None and web.poll() is None, f"a process exited\n{tails(logs)}"
            assert [f"voltbridge-web:{pid}" for pid in children(web.pid)] == web_names, "a web worker restarted"
            finished = time.monotonic() - began
        finally:
            stop(worker)
            stop(web)
            cutter.close()
        result = account(svc, transfers, receiver, smtp)
        with svc.uow(read_only=True) as uow:
            parked = uow.session.execute(sa.select(sa.func.count()).select_from(ParkedItem)).scalar_one()

    cuts = dict(cutter.cuts)
    errors_logged = sum(1 for e in log_entries(worker_log) if e.get("level") in ("error", "critical"))
    line = (f"connection cut loop (postgresql): cuts={cuts} {result.line()} web_retries={retried} "
            f"parked={parked} worker_errors_logged={errors_logged} seconds={finished:.1f}")
    log.warning(line)
    print(f"\n{line}")
    assert cuts == {**CUTS, "web_idle": WEB_IDLE_CUTS, "web_active": WEB_ACTIVE_CUTS}, line
    assert result.payments == PAYMENTS and result.duplicated_payments == 0, line
    assert not result.lost, f"{line}: lost {result.lost[:10]}"
    assert not result.problems, f"{line}: {result.problems[:10]}"


def shuffled_kinds(seed: int) -> list[str]:
    kinds = [kind for kind, n in CUTS.items() for _ in range(n)]
    random.Random(seed).shuffle(kinds)
    return kinds
