"""The worker: APScheduler jobs that watch chains and expire invoices. Every job is safe to run twice."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.events import EVENT_SCHEDULER_SHUTDOWN
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy import select

from gateway_core import telemetry
from gateway_core.adapters import wakeup
from gateway_core.adapters.chains.solana import SolanaChain
from gateway_core.adapters.job_locks import JobLocks
from gateway_core.adapters.models import Invoice, Quote
from gateway_core.bootstrap import Services, dispatcher_for
from gateway_core.payments import push_reader
from gateway_core.payments.expiry import expire_due
from gateway_core.payments.push_reader import PushReader
from gateway_core.payments.valuation import value_awaiting
from gateway_core.payments.watch import watch_tick
from gateway_core.worker_status import publish

log = logging.getLogger(__name__)


def networks_to_watch(services: Services) -> list[tuple[str, str]]:
    """(chain, network) pairs that have invoices still worth watching and a client to watch them."""
    with services.uow() as uow:
        pairs = uow.session.execute(
            select(Quote.chain, Invoice.network).join(Invoice)
            .where(Invoice.closed_at.is_(None) | (Invoice.closed_at >= services.clock.now() - services.late_window))
            .distinct()
        ).all()
    return sorted((chain, network) for chain, network in pairs if chain in services.chains)


def watch_chains(services: Services, locks: JobLocks | None = None) -> list[tuple[str, str]]:
    """One tick of every chain watcher this worker holds (all without locks); a failing chain is logged and
    does not stop the others. Returns the (chain, network) pairs it ticked."""
    ticked = []
    for chain, network in networks_to_watch(services):
        if locks is not None and not locks.holds(f"watch:{chain}:{network}"):
            continue  # another worker watches this one
        ticked.append((chain, network))
        try:
            report = watch_tick(services.uow, services.chains[chain], network, services.clock, services.quoting,
                                services.late_window, reads=lambda: services.uow(read_only=True))
        except Exception:
            log.exception("watch tick failed", extra={"chain": chain, "network": network})
            continue
        if report.recorded or report.finalised:
            log.info("watch tick", extra={"chain": chain, "network": network, "recorded": report.recorded,
                                          "finalised": report.finalised})
    return ticked


def read_pushed(services: Services) -> int:
    """Read what Solana push notified since the last call, on every network (tests drive push with it)."""
    client = services.chains.get("solana")
    if not isinstance(client, SolanaChain):
        return 0
    return push_reader.read_pushed(services.uow, client, services.clock, services.quoting, services.late_window)


def follow_push(services: Services, locks: JobLocks | None = None) -> PushReader | None:
    """Solana push (issue 21): subscribe the open invoices' accounts and read what they report, in the worker
    holding the Solana watcher's family of each network; the ticks stay the safety net."""
    client = services.chains.get("solana")
    if not isinstance(client, SolanaChain) or client.push is None:
        return None
    reader = PushReader(services.uow, client, services.clock, services.quoting, services.late_window,
                        holds=locks.holds if locks is not None else lambda _family: True,
                        refresh_every=services.settings.watch_interval_seconds,
                        reads=lambda: services.uow(read_only=True))
    reader.start()
    return reader


def expire_invoices(services: Services, locks: JobLocks | None = None) -> None:
    if locks is not None and not locks.holds("expiry"):
        return
    closed = expire_due(services.uow, services.clock)
    if closed:
        log.info("invoices closed at expiry", extra={"count": closed})


def sweep_deposits(services: Services, locks: JobLocks | None = None) -> None:
    """Solana deposit mode: sweep confirmed deposits to the merchant, and watch the fee payer's balance."""
    treasury = services.solana
    if treasury is None or (locks is not None and not locks.holds("sweeps")):
        return
    for chain, network in networks_to_watch(services):
        if chain == "solana":
            lamports = treasury.check_fee_payer(network)
            if lamports is not None:
                telemetry.gauge("fee_payer_lamports", lamports, network=network)
    settled = treasury.sweep_due(services.uow, services.clock)
    if settled:
        log.info("deposits swept", extra={"count": settled})


def refresh_rates(services: Services, locks: JobLocks | None = None) -> None:
    """Fetch the live rates asked for lately once their cache period is over, so requests rarely wait on sources;
    then value the payments that were waiting for a fresh rate (payments/valuation.py)."""
    if locks is not None and not locks.holds("rates"):
        return
    live = getattr(services.rates, "live", None)
    refresh = getattr(live, "refresh_due", None)
    if refresh is not None and not getattr(services.rates, "fixed_everywhere", False):
        fetched = refresh()
        if fetched:
            log.debug("rates refreshed", extra={"pairs": fetched})
    valued = value_awaiting(services.uow, services.quoting, services.clock)
    if valued:
        log.info("payments to lapsed quotes valued", extra={"count": valued})


def worker_id() -> str:
    """host:pid, the name this process's heartbeat and figures are published under."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}"


def publish_status(services: Services, worker: str) -> None:
    """The heartbeat /readyz looks for, and the figures /metrics serves (one row each per worker)."""
    with services.uow() as uow:
        publish(uow, worker, services.clock.now())


def schedule(scheduler: BaseScheduler, services: Services, locks: JobLocks | None = None) -> BaseScheduler:
    """Add the worker's jobs; coalescing and one instance each keep a slow tick from piling up.

    Job families (each chain watcher, expiry, sweeps; a rate-refresh job takes family "rates") run only in the
    worker holding their lock (adapters/job_locks.py); deliveries and the heartbeat run in every worker.
    """
    settings = services.settings
    stopped = threading.Event()
    owned = locks is None
    locks = locks or JobLocks(settings.database_url, enabled=settings.job_locks)
    readers: list[PushReader] = []

    def _stop(_event: object) -> None:
        # Hand the families over and stop pumping on wake-ups as soon as this scheduler stops, not when the
        # process ends: an embedded worker (or a test's) may stop while its process goes on.
        stopped.set()
        wakeup.changes.signal()
        for reader in readers:
            reader.stop()
        if owned:
            locks.close()

    scheduler.add_listener(_stop, EVENT_SCHEDULER_SHUTDOWN)
    common = {"max_instances": 1, "coalesce": True, "next_run_time": datetime.now(UTC), "misfire_grace_time": 30}
    scheduler.add_job(watch_chains, "interval", args=[services, locks], id="watch_chains",
                      seconds=settings.watch_interval_seconds, **common)
    scheduler.add_job(expire_invoices, "interval", args=[services, locks], id="expire_invoices",
                      seconds=settings.expiry_interval_seconds, **common)
    scheduler.add_job(sweep_deposits, "interval", args=[services, locks], id="sweep_deposits",
                      seconds=settings.sweep_interval_seconds, **common)
    # Live rates (issue 18): refresh whatever has outlived its cache period, a tenth of a period apart at most.
    scheduler.add_job(refresh_rates, "interval", args=[services, locks], id="refresh_rates",
                      seconds=max(1.0, settings.rate_cache_seconds / 10), **common)
    reader = follow_push(services, locks)  # Solana push (issue 21): ticks stay the safety net
    if reader is not None:
        readers.append(reader)
    scheduler.add_job(publish_status, "interval", args=[services, worker_id()], id="publish_status",
                      seconds=settings.watch_interval_seconds, **common)
    # Outbox dispatch (issue 4): the dispatcher lives as long as the process; sends outlive each pump. The
    # interval is the safety net: a committed status change runs a pump at once (issue 23).
    trigger = PumpTrigger(dispatcher_for(services).pump)
    scheduler.add_job(trigger.run, "interval", id="dispatch_deliveries",
                      seconds=settings.delivery_interval_seconds, **common)
    wakeup.listen(settings.database_url)
    threading.Thread(target=_pump_on_change, args=(trigger, stopped), name="dispatch-wake", daemon=True).start()
    return scheduler


class PumpTrigger:
    """Runs the dispatcher's pump from the schedule or a wake-up, one at a time; a request that arrives while
    a pump runs makes it go round once more, so no wake-up is lost between its last claim and its return."""

    def __init__(self, pump: Callable[[], object]) -> None:
        self._pump = pump
        self._lock = threading.Lock()
        self._again = False

    def run(self) -> None:
        self._again = True
        while self._again and self._lock.acquire(blocking=False):
            try:
                while self._again:
                    self._again = False
                    self._pump()
            finally:
                self._lock.release()


def _pump_on_change(trigger: PumpTrigger, stopped: threading.Event) -> None:
    while not stopped.is_set():
        seen = wakeup.changes.generation()
        if wakeup.changes.wait(seen, timeout=60.0) and not stopped.is_set():
            try:
                trigger.run()
            except Exception:
                log.exception("dispatch on wake-up failed")


def background_worker(services: Services) -> BackgroundScheduler:
    """The scheduler for `voltbridge run`: a daemon thread beside the web server."""
    scheduler = BackgroundScheduler(timezone=UTC, daemon=True)
    schedule(scheduler, services)
    return scheduler


def blocking_worker(services: Services) -> BlockingScheduler:
    """The scheduler for `voltbridge worker`: the process's main loop."""
    scheduler = BlockingScheduler(timezone=UTC)
    schedule(scheduler, services)
    return scheduler
