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
import re
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
BOUND_SECONDS = 150.0
SEED = 7

log = logging.getLogger(__name__)

# What a worker session's last statement says it was doing: the watcher writes the outbox rows too.
TICK = re.compile(r"sandbox_transfers|INSERT INTO (payments|events|deliveries)|parked_items|chain_cursors|"
                  r"FROM invoices .*FOR UPDATE|UPDATE invoices", re.IGNORECASE | re.DOTALL)
DISPATCH = re.compile(r"UPDATE deliveries|delivery_attempts|INSERT INTO emails", re.IGNORECASE)


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
    """Terminates a process's PostgreSQL sessions, from a connection of the test's own."""

    def __init__(self, url: str) -> None:
        self.engine = sa.create_engine(normalise_url(url), poolclass=sa.pool.NullPool)
        self.connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        self.cuts: Counter[str] = Counter()
        self.lock = threading.Lock()

    def sessions(self, names: list[str]) -> list[Any]:
        return list(self.connection.execute(sa.text(
            "SELECT pid, application_name AS name, state, query FROM pg_stat_activity "
            "WHERE application_name = ANY(:names) AND pid <> pg_backend_pid()"), {"names": names}).all())

    def cut(self, kind: str, pids: list[int]) -> int:
        terminated = sum(bool(self.connection.execute(sa.text("SELECT pg_terminate_backend(:pid)"),
                                                      {"pid": pid}).scalar()) for pid in pids)
        if terminated:
            self.cuts[kind] += 1
        return terminated

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


Background = tuple[threading.Event, threading.Thread, list[BaseException]]


def in_background(target: Callable[[threading.Event], None]) -> Background:
    """Run target(stopping) on a thread; what it raises is kept for the test's thread to assert on."""
    stopping, errors = threading.Event(), []

    def run() -> None:
        try:
            target(stopping)
        except BaseException as exc:  # surfaced by the test's thread
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return stopping, thread, errors


def test_cut_connections_during_dispatch_and_watch_ticks_are_recovered_without_restart(
        wall_services: Services, pg_url: str, tmp_path: Path) -> None:
    svc = wall_services
    began = time.monotonic()
    bound = began + BOUND_SECONDS
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    cutter = Cutter(pg_url)
    with Receiver() as receiver, SmtpServer() as smtp:
        receiver.default.delay = 0.05  # requests in flight, and claims waiting for their record, when a cut lands
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
            numbers, retried = [], 0

            def create(i: int, retries: int) -> str:
                nonlocal retried
                body = {"api_key": made.api_key, "platform": "custom", "external_invoice_id": f"cut-{i}",
                        "amount_type": "fiat", "amount": str(invoice_amount(i)), "fiat_currency": "USD"}
                for attempt in range(retries + 1):
                    status, answer = post(base, "/api/plugin/invoice/create", body)
                    if status in (200, 201):
                        return str(answer["invoice_number"])
                    assert status >= 500 and attempt < retries, f"invoice {i}: {status} {answer}\n{tails(logs)}"
                    retried += 1  # the same external id again: creation is idempotent
                raise AssertionError("unreachable")

            half = INVOICES // 2
            for i in range(half):
                if i and i % (half // WEB_IDLE_CUTS) == 0:  # the pool's connections, idle since the last request
                    cutter.cut("web_idle", [s.pid for s in cutter.sessions(web_names)])
                numbers.append(create(i, 0))  # no retry: a request after a cut must simply work (pre-ping)

            def cut_web_requests(stopping: threading.Event) -> None:
                while not stopping.is_set() and cutter.cuts["web_active"] < WEB_ACTIVE_CUTS:
                    busy = [s.pid for s in cutter.sessions(web_names) if s.state != "idle"]
                    if busy:
                        cutter.cut("web_active", busy)
                    stopping.wait(0.002)

            stopping, thread, errors = in_background(cut_web_requests)
            for i in range(half, INVOICES):
                numbers.append(create(i, 5))
            stopping.set()
            thread.join(timeout=10)
            assert not errors, errors
            transfers = shuffled(halves(svc, numbers), SEED)

            # -- the worker: sessions cut mid-tick, mid-dispatch, and all at once -------------------------------
            def cut_worker(stopping: threading.Event) -> None:
                while not stopping.is_set() and any(cutter.cuts[k] < n for k, n in CUTS.items()):
                    sessions = cutter.sessions(worker_names)
                    busy = [s for s in sessions if s.state in ("active", "idle in transaction")]
                    for kind, pattern in (("tick", TICK), ("dispatch", DISPATCH)):
                        hit = [s.pid for s in busy if pattern.search(s.query or "")]
                        if hit and cutter.cuts[kind] < CUTS[kind]:
                            cutter.cut(kind, hit[:1])
                            break
                    else:
                        total = cutter.cuts["tick"] + cutter.cuts["dispatch"]
                        if busy and cutter.cuts["all"] < CUTS["all"] and total >= 4 * (cutter.cuts["all"] + 1):
                            cutter.cut("all", [s.pid for s in sessions])
                    stopping.wait(0.002)

            stopping, thread, errors = in_background(cut_worker)
            chunks = 8
            for k in range(chunks):
                send(svc, transfers[k * PAYMENTS // chunks:(k + 1) * PAYMENTS // chunks])
                recorded = (k + 1) * PAYMENTS // chunks
                wait_until(lambda recorded=recorded: progress(svc)["payments"] >= recorded or bool(errors),
                           bound - time.monotonic(), f"chunk {k + 1}'s payments recorded", logs)
            wait_until(lambda: all(cutter.cuts[k] >= n for k, n in CUTS.items()) or bool(errors)
                       or done(svc, PAYMENTS, INVOICES), bound - time.monotonic(), "the cuts", logs)
            stopping.set()
            thread.join(timeout=10)
            assert not errors, errors
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
    assert all(cuts.get(k, 0) >= n for k, n in CUTS.items()), line
    assert cuts.get("web_idle", 0) >= WEB_IDLE_CUTS and cuts.get("web_active", 0) >= 1, line
    assert result.payments == PAYMENTS and result.duplicated_payments == 0, line
    assert not result.lost, f"{line}: lost {result.lost[:10]}"
    assert not result.problems, f"{line}: {result.problems[:10]}"


def _healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False
