"""Acceptance (DESIGN.md §3): two `voltbridge worker` processes against one PostgreSQL database process a
burst of 200 sandbox payments; no payment is recorded twice and no lifecycle transition is applied twice.

Real subprocesses, real scheduler, real row locks: the only thing this test does itself is create the
invoices and put the transfers into the sandbox ledger, in committed batches while both workers run.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gateway_core.adapters.models import Event, Invoice, Payment, SandboxTransfer, WorkerMetric
from gateway_core.bootstrap import Services, build_services
from gateway_core.config import Settings
from gateway_core.domain import money
from gateway_core.invoices.create import create_invoice
from gateway_core.invoices.manage import InvoiceRequest
from gateway_core.payments.sandbox import simulate_payment
from gateway_core.stores.manage import create_store, find_store
from gateway_core.worker_status import HEARTBEAT
from tests.e2e.fault_support import log_entries, stop, wait_until

pytestmark = pytest.mark.postgres

INVOICES = 100
PAYMENTS = 2 * INVOICES
BATCH = 5  # transfers per committed ledger batch
DEADLINE_SECONDS = 60.0
SETTLE_TICKS = 2  # both workers tick this many times more after the last payment, so a double application would show

LIFECYCLE = ["invoice.created", "invoice.partially_paid", "invoice.paid", "invoice.confirmed", "invoice.settled"]


def _voltbridge() -> str:
    beside = Path(sys.executable).with_name("voltbridge")
    found = str(beside) if beside.exists() else shutil.which("voltbridge")
    if not found:
        pytest.fail("the voltbridge console script is not installed in this environment")
    return found


@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> str:
    if not os.environ.get("TEST_DATABASE_URL"):
        pytest.skip("two-worker acceptance test needs PostgreSQL: set TEST_DATABASE_URL "
                    "(SQLite's embedded mode runs one worker thread by design, DESIGN.md §3)")
    url: str = request.getfixturevalue("pg_migrated")
    from tests.conftest import empty_pg

    empty_pg(url)
    return url


@pytest.fixture
def system_services(pg_url: str, tmp_path: Path) -> Iterator[Services]:
    """Services on the wall clock: the workers run on the wall clock too, so expiry and finality agree."""
    settings = Settings.from_env({}, instance_path=str(tmp_path / "instance"), database_url=pg_url,
                                 secret_key="test-secret-key", sandbox_finality_seconds=0.0,
                                 rate_sources=("fixed",))
    svc = build_services(settings)
    yield svc
    if svc.engine is not None:
        svc.engine.dispose()


@dataclass(frozen=True)
class Plan:
    """One invoice and the two transfers that will pay it."""

    number: str
    kind: str  # 'halves' (one asset), 'mixed' (half SOL + half USDC) or 'over' (60% + 60% USDC)
    transfers: tuple[tuple[str, Decimal], tuple[str, Decimal]]


def _half(units: int, code: str) -> Decimal:
    assert units % 2 == 0, "amounts are chosen so halves are exact"
    return money.from_base_units(units // 2, money.asset(code))


def _create_invoices(svc: Services) -> list[Plan]:
    """100 invoices through the core service, in one transaction (the machine may be busy)."""
    plans = []
    with svc.uow() as uow:
        store = find_store(uow, create_store(uow, svc.vault, name="Burst Shop", network="sandbox").id)
        for i in range(INVOICES):
            # Multiples of 15 USD: SOL (150 USD) and USDC/USDT (1 USD) amounts due are even, so halves are exact.
            request = InvoiceRequest(amount=Decimal(15 * (1 + i % 5)), currency="USD", platform="custom",
                                     external_id=f"burst-{i}")
            made = create_invoice(uow, store, request, svc.invoicing)
            view, created = made.view, made.created
            assert created
            due = {q.asset: q.amount_due for q in view.quotes}
            if i % 5 < 3:
                code = ("SOL", "USDC", "USDT")[i % 3]
                plans.append(Plan(view.number, "halves", ((code, _half(due[code], code)),) * 2))
            elif i % 5 == 3:
                plans.append(Plan(view.number, "mixed", (("SOL", _half(due["SOL"], "SOL")),
                                                         ("USDC", _half(due["USDC"], "USDC")))))
            else:
                sixty = money.from_base_units(due["USDC"] * 6 // 10, money.asset("USDC"))
                plans.append(Plan(view.number, "over", (("USDC", sixty), ("USDC", sixty))))
    return plans


def _start_worker(name: str, svc: Services, tmp_path: Path, finality: str,
                  interval: str) -> tuple[subprocess.Popen[bytes], Path]:
    instance = tmp_path / f"instance-{name}"
    instance.mkdir()
    env = {
        **os.environ,
        "DATABASE_URL": svc.settings.database_url,
        "SECRET_KEY": svc.settings.secret_key,
        "INSTANCE_PATH": str(instance),
        "WATCH_INTERVAL_SECONDS": interval,
        "EXPIRY_INTERVAL_SECONDS": "0.5",
        "SANDBOX_FINALITY_SECONDS": finality,
        "LOG_LEVEL": "INFO",
        "LOG_JSON": "1",
        # Both workers watch: this is the test of the row-level guards that keep a job safe to run twice (as
        # in the moment a job family changes hands); by default one worker per family holds its lock.
        "JOB_LOCKS": "0",
    }
    log_path = tmp_path / f"{name}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen([_voltbridge(), "worker"], env=env, cwd=tmp_path, stdin=subprocess.DEVNULL,
                                   stdout=log_file, stderr=subprocess.STDOUT)
    return process, log_path


def _progress(svc: Services) -> tuple[int, int, int]:
    """Payments recorded, payments still waiting for finality, invoices settled."""
    with svc.uow() as uow:
        payments = uow.session.execute(select(func.count()).select_from(Payment)).scalar_one()
        in_flight = uow.session.execute(
            select(func.count()).select_from(Payment).where(Payment.final.is_(False))
        ).scalar_one()
        settled = uow.session.execute(
            select(func.count()).select_from(Invoice).where(Invoice.status == "settled")
        ).scalar_one()
    return payments, in_flight, settled


def _recorded(path: Path) -> list[str]:
    return [e["tx_id"] for e in log_entries(path) if e.get("msg") == "payment recorded"]


def _heartbeats(svc: Services, pids: list[int]) -> list[datetime | None]:
    """When each worker last ran its scheduler's jobs (its heartbeat, published every watch interval)."""
    names = [f"{socket.gethostname()[:40]}:{pid}" for pid in pids]
    with svc.uow(read_only=True) as uow:
        beats = dict(uow.session.execute(select(WorkerMetric.worker, WorkerMetric.updated_at)
                                         .where(WorkerMetric.name == HEARTBEAT, WorkerMetric.worker.in_(names))).all())
    return [beats.get(name) for name in names]


def _ticked_since(svc: Services, pids: list[int], mark: datetime) -> bool:
    return all(beat is not None and beat > mark for beat in _heartbeats(svc, pids))


# finality 0: a payment is final when seen, so recording drives every step. finality 1: payments are seen
# unconfirmed and both workers' finality passes race to move paid -> confirmed -> settled.
@pytest.mark.parametrize("finality", ["0", "1"], ids=["instant-finality", "finality-1s"])
def test_two_workers_process_a_burst_of_200_payments_once_each(
    system_services: Services, tmp_path: Path, finality: str
) -> None:
    svc = system_services
    # Different intervals, so the two schedulers' ticks slide past each other instead of staying in phase.
    workers = [_start_worker(name, svc, tmp_path, finality, interval)
               for name, interval in (("worker-a", "0.2"), ("worker-b", "0.3"))]
    logs = [path for _, path in workers]
    started = time.monotonic()
    paused: subprocess.Popen[bytes] | None = None
    try:
        plans = _create_invoices(svc)  # while the workers boot (imports take seconds on a busy machine)
        created = time.monotonic()
        # Both schedulers up before the burst, so both see it.
        pids = [proc.pid for proc, _ in workers]
        wait_until(lambda: all(proc.poll() is None for proc, _ in workers) and all(_heartbeats(svc, pids)), 60,
                  "both workers' schedulers to run", logs)
        burst_start = time.monotonic()

        # The burst: 200 ledger transfers in committed batches of 5, shuffled so an invoice's two payments
        # often arrive together (the expected events do not depend on which of the two comes first).
        sent: dict[str, list[tuple[str, int]]] = {p.number: [] for p in plans}
        queue = [(p, which) for p in plans for which in (0, 1)]
        rng = random.Random(PAYMENTS)
        rng.shuffle(queue)
        batches = [queue[i:i + BATCH] for i in range(0, len(queue), BATCH)]
        count = 0

        def send(chunk: list[list[tuple[Plan, int]]]) -> list[str]:
            nonlocal count
            tx_ids = []
            for batch in chunk:
                with svc.uow() as uow:
                    for plan, which in batch:
                        code, amount = plan.transfers[which]
                        transfer = simulate_payment(uow, plan.number, svc.clock, code, amount)
                        sent[plan.number].append((transfer.tx_id, transfer.amount))
                        tx_ids.append(transfer.tx_id)
                count += len(batch)
                if rng.random() < 0.5:  # now and then, let the workers catch up to within two batches
                    wait_until(lambda sent=count: _progress(svc)[0] >= sent - 2 * BATCH, DEADLINE_SECONDS,
                              "the workers to catch up with the burst", logs)
            return tx_ids

        def drained() -> bool:
            payments, in_flight, _ = _progress(svc)
            return payments == count and in_flight == 0

        # Phase 1: both workers race for 80 transfers. Both walk the unrecorded transfers in the same order,
        # so the one that scans first tends to lead and the other trails it on the invoice locks, finding
        # each payment already recorded: free running alone cannot promise that both record something.
        send(batches[:16])
        wait_until(drained, DEADLINE_SECONDS, "the first 80 payments recorded and final", logs)
        # Phase 2: stop the busier worker while nothing is in flight (so it holds no invoice lock) and send 40
        # more; only the other can record them. The stopped one resumes later on a stale tick: a stalled worker.
        leader = max(range(2), key=lambda i: len(_recorded(logs[i])))
        paused = workers[leader][0]
        paused.send_signal(signal.SIGSTOP)
        alone = send(batches[16:24])
        wait_until(drained, DEADLINE_SECONDS, "40 payments recorded by one worker while the other is stopped", logs)
        paused.send_signal(signal.SIGCONT)
        paused = None
        # Phase 3: both race again for the last 80.
        send(batches[24:])
        burst_done = time.monotonic()

        wait_until(lambda: _progress(svc) == (PAYMENTS, 0, INVOICES), DEADLINE_SECONDS,
                  "200 payments recorded and 100 invoices settled", logs)
        processed = time.monotonic()
        for _ in range(SETTLE_TICKS):
            mark = datetime.now(UTC)
            wait_until(lambda mark=mark: _ticked_since(svc, pids, mark), DEADLINE_SECONDS,
                      "both workers to tick again after the burst", logs)
        for proc, _ in workers:
            assert proc.poll() is None, "a worker exited during the run"
    finally:
        if paused is not None:
            paused.send_signal(signal.SIGCONT)
        for proc, _ in workers:
            stop(proc)
    print(f"\ninvoices created in {created - started:.2f}s; workers up after {burst_start - started:.2f}s; "
          f"burst sent in {burst_done - burst_start:.2f}s; all settled {processed - burst_done:.2f}s after it")
    follower = logs[1 - leader]
    assert set(alone) <= set(_recorded(follower)), "the running worker records what arrives while the other is stopped"

    # -- the database: every payment once, every transition once --------------------------------------------
    with svc.uow() as uow:
        session = uow.session
        payments = session.execute(select(Payment)).scalars().all()
        ledger = set(session.execute(select(SandboxTransfer.tx_id)).scalars())
        invoices = {inv.number: inv for inv in session.execute(select(Invoice)).scalars()}
        events = session.execute(select(Invoice.number, Event.type).join(Event, Event.invoice_id == Invoice.id)
                                 .order_by(Event.id)).all()

        assert len(payments) == PAYMENTS
        keys = Counter((p.chain, p.tx_id, p.transfer_index) for p in payments)
        assert len(keys) == PAYMENTS and set(keys.values()) == {1}
        assert len({(p.chain, p.tx_id) for p in payments}) == PAYMENTS
        assert {p.tx_id for p in payments} == ledger
        assert all(p.final and p.disposition == "matched" for p in payments)

        by_invoice: dict[str, list[str]] = {number: [] for number in invoices}
        for number, event_type in events:
            by_invoice[number].append(event_type)
        together = 0
        for plan in plans:
            invoice = invoices[plan.number]
            recorded = sorted((p.tx_id, p.amount) for p in payments if p.invoice_id == invoice.id)
            assert recorded == sorted(sent[plan.number]), plan
            assert invoice.status == "settled", plan
            assert invoice.closed_at is not None and invoice.paid_at and invoice.confirmed_at and invoice.settled_at
            assert invoice.overpaid is (plan.kind == "over"), plan
            assert not invoice.paid_late
            # Transfers of one invoice seen in one scan are recorded in one transaction and assessed once
            # (payments.record_transfers), so pending -> paid directly; recorded apart, partially_paid comes first.
            seen_at = {p.seen_at for p in payments if p.invoice_id == invoice.id}
            got = by_invoice[plan.number]
            assert all(n == 1 for n in Counter(got).values()), f"an event was emitted twice: {plan} {got}"
            expected = set(LIFECYCLE) | ({"invoice.overpaid"} if plan.kind == "over" else set())
            if len(seen_at) == 1:
                together += 1
                expected -= {"invoice.partially_paid"} - set(got)  # same microsecond in two transactions: either
            assert set(got) == expected, (plan, got)
            assert [e for e in got if e in LIFECYCLE] == [e for e in LIFECYCLE if e in got], (plan, got)

    # -- the workers: both did real work, each payment was recorded by exactly one of them --------------------
    recorded_by: dict[str, list[str]] = {}
    for path in logs:
        entries = log_entries(path)
        problems = [e for e in entries if e.get("level") in ("error", "critical") or "exc" in e
                    or (e.get("level") == "raw" and "Traceback" in str(e.get("msg")))]
        assert not problems, f"{path.name} logged errors: {problems[:3]}"
        recorded_by[path.name] = [e["tx_id"] for e in entries if e.get("msg") == "payment recorded"]
    counts = {name: len(tx_ids) for name, tx_ids in recorded_by.items()}
    print(f"payments recorded per worker: {counts}; invoices whose two payments were recorded together: {together}")
    all_logged = [tx for tx_ids in recorded_by.values() for tx in tx_ids]
    assert sorted(all_logged) == sorted(p.tx_id for p in payments), "each payment is recorded by exactly one worker"
    assert all(counts.values()), f"both workers must record payments for this to test concurrency: {counts}"
    raced = {name: len(set(tx_ids) - set(alone)) for name, tx_ids in recorded_by.items()}
    print(f"recorded outside the pause: {raced}")
