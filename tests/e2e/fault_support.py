"""Shared by the fault loops (issue 23 point 7): a sandbox burst, worker processes, and the accounting at the end.

The burst: invoices each paid by two halves of one asset (so each ends `settled`), a store webhook to a real
receiver on 127.0.0.1 and the merchant's email to a real SMTP server. The accounting reads the database and
what the receiver and the SMTP server got, and counts what was lost and what arrived more than once.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from gateway_core.adapters.models import Delivery, Event, Invoice, Payment, Quote, SandboxTransfer, Store
from gateway_core.bootstrap import Services
from gateway_core.domain import money
from gateway_core.invoices.create import create_invoice
from gateway_core.invoices.manage import InvoiceRequest
from gateway_core.payments.sandbox import simulate_payment
from gateway_core.stores.manage import NewStore, create_store, find_store
from tests.fakes.receiver import Receiver
from tests.fakes.smtp import SmtpServer

ROOT = Path(__file__).resolve().parents[2]
LIFECYCLE = ["invoice.created", "invoice.partially_paid", "invoice.paid", "invoice.confirmed", "invoice.settled"]
ASSETS = ("SOL", "USDC", "USDT")


@dataclass(frozen=True)
class Transfer:
    number: str
    asset: str
    amount: Decimal


def fault_store(svc: Services, webhook_url: str) -> NewStore:
    """A sandbox store with its webhook and the merchant's email on."""
    with svc.uow() as uow:
        made = create_store(uow, svc.vault, name="Fault Shop", network="sandbox", email="owner@shop.test")
        store = uow.session.get(Store, made.id)
        assert store is not None
        store.webhook_url, store.email_notifications = webhook_url, True
    return made


def invoice_amount(i: int) -> Decimal:
    """Multiples of 15 USD: the SOL (150 USD) and USDC/USDT (1 USD) amounts due are even, so halves are exact."""
    return Decimal(15 * (1 + i % 5))


def create_burst(svc: Services, invoices: int, webhook_url: str) -> list[Transfer]:
    """`invoices` sandbox invoices of a fault_store; the two transfers each that pay them."""
    made = fault_store(svc, webhook_url)
    numbers = []
    with svc.uow() as uow:
        store = find_store(uow, made.id)
        for i in range(invoices):
            request = InvoiceRequest(amount=invoice_amount(i), currency="USD", platform="custom",
                                     external_id=f"fault-{i}")
            numbers.append(create_invoice(uow, store, request, svc.invoicing).view.number)
    return halves(svc, numbers)


def halves(svc: Services, numbers: list[str]) -> list[Transfer]:
    """Two transfers of half the amount due each, in SOL, USDC or USDT in turn, for each invoice."""
    transfers = []
    with svc.uow(read_only=True) as uow:
        for i, number in enumerate(numbers):
            code = ASSETS[i % 3]
            due = uow.session.execute(select(Quote.amount_due).join(Invoice)
                                      .where(Invoice.number == number, Quote.asset == code)).scalar_one()
            assert due % 2 == 0
            transfers += [Transfer(number, code, money.from_base_units(due // 2, money.asset(code)))] * 2
    return transfers


def send(svc: Services, transfers: list[Transfer], batch: int = 5) -> None:
    """Put transfers into the sandbox ledger, in committed batches (the watcher sees them as they commit)."""
    for start in range(0, len(transfers), batch):
        with svc.uow() as uow:
            for t in transfers[start:start + batch]:
                simulate_payment(uow, t.number, svc.clock, t.asset, t.amount)


def worker_env(svc: Services, tmp_path: Path, name: str, smtp_url: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": svc.settings.database_url, "SECRET_KEY": svc.settings.secret_key,
            "INSTANCE_PATH": str(tmp_path / f"instance-{name}"), "OUTBOUND_ALLOWLIST": "127.0.0.1",
            "SMTP_URL": smtp_url, "PUBLIC_URL": "https://gateway.test",
            "WATCH_INTERVAL_SECONDS": "0.2", "EXPIRY_INTERVAL_SECONDS": "1", "SANDBOX_FINALITY_SECONDS": "0.5",
            "DELIVERY_INTERVAL_SECONDS": "0.2", "DELIVERY_CONCURRENCY": "8", "WEBHOOK_TIMEOUT_SECONDS": "1",
            "DELIVERY_LEASE_SECONDS": "1", "RATE_SOURCES": "fixed", "LOG_LEVEL": "INFO", "LOG_JSON": "1", **extra}


def start(args: list[str], env: dict[str, str], tmp_path: Path, name: str) -> tuple[subprocess.Popen[bytes], Path]:
    """`voltbridge <args>` as a subprocess logging to tmp_path/<name>.log."""
    log = tmp_path / f"{name}.log"
    with log.open("ab") as out:
        process = subprocess.Popen([sys.executable, "-m", "bridge", *args], env=env, cwd=tmp_path,
                                   stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    return process, log


class Workers:
    """`voltbridge worker` processes forked from a process that has imported the gateway (worker_zygote.py)."""

    def __init__(self, env: dict[str, str], tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self._zygote = subprocess.Popen(
            [sys.executable, "-m", "tests.e2e.worker_zygote"], env={**env, "PYTHONPATH": str(ROOT)}, cwd=tmp_path,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=(tmp_path / "zygote.log").open("ab"), text=True)

    def spawn(self, name: str) -> tuple[int, Path]:
        log = self.tmp_path / f"{name}.log"
        assert self._zygote.stdin is not None and self._zygote.stdout is not None
        self._zygote.stdin.write(f"spawn {log}\n")
        self._zygote.stdin.flush()
        answer = self._zygote.stdout.readline()
        if not answer.strip():
            pytest.fail(f"the worker zygote died\n{tails([self.tmp_path / 'zygote.log'])}")
        return int(answer), log

    @staticmethod
    def cpu_seconds(pid: int) -> float:
        """CPU time a live worker has used so far (its user and system time), for the run's cost line."""
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    @staticmethod
    def alive(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True

    def end(self, pid: int, sig: signal.Signals, timeout: float = 15.0) -> bool:
        """Send sig and wait until the process is gone (the zygote's kernel reaps it); False if it lingers."""
        if not self.alive(pid):
            return True
        os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive(pid):
                return True
            time.sleep(0.01)
        return False

    def close(self, pids: list[int]) -> None:
        for pid in pids:
            if not self.end(pid, signal.SIGTERM):
                self.end(pid, signal.SIGKILL)
        assert self._zygote.stdin is not None
        self._zygote.stdin.close()
        try:
            self._zygote.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._zygote.kill()
            self._zygote.wait(timeout=5)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, logs: list[Path]) -> None:
    """Poll a condition; the timeout only bounds a failing run. A tenth of a second apart: the conditions are
    database queries, and polling faster took CPU from the workers it waits for."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}\n{tails(logs)}")


def tails(logs: list[Path], lines: int = 12, width: int = 500) -> str:
    return "\n".join(f"--- {p.name}\n" + "\n".join(line[-width:] for line in p.read_text(errors="replace")
                                                   .splitlines()[-lines:]) for p in logs if p.exists())


def log_entries(path: Path) -> list[dict[str, Any]]:
    entries = []
    for raw in path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(raw)
        except ValueError:
            entry = {"level": "raw", "msg": raw}
        entries.append(entry if isinstance(entry, dict) else {"level": "raw", "msg": raw})
    return entries


def progress(svc: Services) -> dict[str, int]:
    """Payments recorded and final, invoices settled, deliveries by status: one statement (it is polled)."""
    def count(model: Any, *where: Any) -> Any:
        return select(func.count()).select_from(model).where(*where).scalar_subquery()

    statuses = ("pending", "sending", "delivered", "dead")
    query = select(count(Payment), count(Payment, Payment.final.is_(True)), count(Invoice, Invoice.status == "settled"),
                   count(Delivery), *(count(Delivery, Delivery.status == status) for status in statuses))
    with svc.uow(read_only=True) as uow:
        row = uow.session.execute(query).one()
    figures = dict(zip(("payments", "final", "settled", "deliveries"), row[:4], strict=True))
    figures.update({f"deliveries_{status}": n for status, n in zip(statuses, row[4:], strict=True) if n})
    return figures


def done(svc: Services, payments: int, invoices: int) -> bool:
    figures = progress(svc)
    deliveries = figures["deliveries"]
    return (figures["payments"] == figures["final"] == payments and figures["settled"] == invoices
            and deliveries > 0 and figures.get("deliveries_delivered", 0) == deliveries)


@dataclass
class Account:
    """What the database holds against what arrived: the counts each fault loop prints and asserts on."""

    payments: int = 0
    deliveries: int = 0
    arrivals: int = 0
    lost: list[str] = field(default_factory=list)
    duplicated_payments: int = 0
    duplicated_deliveries: int = 0  # arrived more than once with the same event id (at least once, by design)
    truncated: int = 0  # requests cut short by a kill mid-send (sent again in full later)
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (f"payments={self.payments} deliveries={self.deliveries} arrivals={self.arrivals} "
                f"lost={len(self.lost)} duplicated_payments={self.duplicated_payments} "
                f"duplicated_deliveries={self.duplicated_deliveries} truncated={self.truncated} "
                f"problems={len(self.problems)}")


def account(svc: Services, transfers: list[Transfer], receiver: Receiver, smtp: SmtpServer) -> Account:
    """Every payment recorded once, every invoice settled with each status reached once, every delivery arrived."""
    result = Account()
    with svc.uow(read_only=True) as uow:
        s = uow.session
        payments = s.execute(select(Payment)).scalars().all()
        ledger = set(s.execute(select(SandboxTransfer.tx_id)).scalars())
        invoices = {inv.id: inv for inv in s.execute(select(Invoice)).scalars()}
        events = s.execute(select(Event.invoice_id, Event.type, Event.event_id).order_by(Event.id)).all()
        deliveries = s.execute(select(Delivery.channel, Delivery.event_id, Delivery.status,
                                      Delivery.event_type, Delivery.invoice_number)).all()
    result.payments = len(payments)
    keys = Counter((p.chain, p.tx_id, p.transfer_index) for p in payments)
    result.duplicated_payments = sum(n - 1 for n in keys.values())
    result.lost += [f"payment {tx}" for tx in sorted(ledger - {p.tx_id for p in payments})]
    if len(ledger) != len(transfers):
        result.problems.append(f"{len(ledger)} ledger transfers for {len(transfers)} sent")
    result.problems += [f"payment {p.tx_id} {p.disposition} final={p.final}" for p in payments
                        if not p.final or p.disposition != "matched"]
    by_invoice: dict[int, list[str]] = defaultdict(list)
    for invoice_id, event_type, _ in events:
        by_invoice[invoice_id].append(event_type)
    for invoice in invoices.values():
        got = by_invoice[invoice.id]
        if invoice.status != "settled":
            result.problems.append(f"{invoice.number} is {invoice.status}")
        if any(n > 1 for n in Counter(got).values()):
            result.problems.append(f"{invoice.number}: a status moved twice {got}")
        if [e for e in got if e in LIFECYCLE] != [e for e in LIFECYCLE if e in got] or \
                set(LIFECYCLE) - {"invoice.partially_paid"} - set(got):
            result.problems.append(f"{invoice.number}: lifecycle {got}")
    event_ids = {event_id for _, _, event_id in events}
    result.deliveries = len(deliveries)
    result.problems += [f"delivery {c} {e} is {st}" for c, e, st, _, _ in deliveries if st != "delivered"]
    result.problems += [f"delivery {c} {e} has no event" for c, e, _, _, _ in deliveries if e not in event_ids]
    per_invoice = Counter((n, c, t) for c, _, _, t, n in deliveries)
    for invoice in invoices.values():
        for channel in ("store", "email"):
            for event_type in ("payment_received", "payment_completed"):
                if per_invoice[(invoice.number, channel, event_type)] != 1:
                    result.problems.append(f"{invoice.number}: {per_invoice[(invoice.number, channel, event_type)]}"
                                           f" {channel} {event_type} deliveries")

    arrived: dict[tuple[str, str], list[bytes]] = defaultdict(list)
    for request in receiver.posts("/store"):
        if not request.complete:
            result.truncated += 1  # the sender was killed mid-request: no receiver would take it
            continue
        arrived[("store", request.header("webhook-id") or "")].append(request.body)
    for message in smtp.parsed():
        event_id = str(message["Message-ID"]).strip("<>").rsplit("@", 1)[0].rsplit(".", 1)[0]
        arrived[("email", event_id)].append(str(message["Subject"]).encode())
    result.arrivals = sum(len(bodies) for bodies in arrived.values())
    expected = {(c, e) for c, e, _, _, _ in deliveries}
    result.lost += [f"{c} {e}" for c, e in sorted(expected - set(arrived))]
    result.problems += [f"arrived but never queued: {c} {e}" for c, e in sorted(set(arrived) - expected)]
    result.problems += [f"{c} {e}: a resend differs: {sorted(set(bodies))}" for (c, e), bodies in arrived.items()
                        if len(set(bodies)) > 1]
    result.duplicated_deliveries = sum(len(bodies) - 1 for bodies in arrived.values())
    return result


def shuffled(items: list[Transfer], seed: int) -> list[Transfer]:
    out = list(items)
    random.Random(seed).shuffle(out)
    return out
