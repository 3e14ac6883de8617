"""The Solana push reader (issue 21): keeps the subscriptions on the open invoices' accounts and reads what the
notifications name, through the watch tick's own code path.

Two daemon threads per worker. The follower recomputes the accounts to subscribe whenever a committed
transaction opened an invoice or recorded a buyer's asset pick (`wakeup.watching`: in process, or relayed
from PostgreSQL's NOTIFY for invoices created by a web process), at most every `min_gap` seconds, and every
`refresh_every` seconds as the net; the request that created the invoice never waits on a socket. Closed
invoices' accounts are unsubscribed by the next tick (its full scan follows the open invoices too) or
refresh. The reader reads each batch of notifications as it arrives.

Only the worker holding the Solana watcher's job family of a network (`watch:solana:<network>`,
adapters/job_locks.py) subscribes for it and reads: with several workers on PostgreSQL the others stand by,
with no socket, and the first to find the family free at its next refresh (the holder died or lost its
connection) takes it over, subscribes and reads every account once from its cursor. On SQLite there is one
worker and it always holds every family.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Mapping
from datetime import timedelta

from gateway_core.adapters import wakeup
from gateway_core.adapters.chains.solana import SolanaChain
from gateway_core.payments.valuation import Quoting
from gateway_core.payments.watch import UowFactory, watch_tick, watched_addresses
from gateway_core.ports import Clock, WatchedAddress

log = logging.getLogger(__name__)
CHAIN = "solana"
MIN_GAP = 0.5  # seconds between two refreshes of the followed accounts, however many commits woke them


def family(network: str) -> str:
    """The job family of the Solana watcher on `network`: the tick and the push share it."""
    return f"watch:{CHAIN}:{network}"


def read_pushed(uow_factory: UowFactory, client: SolanaChain, clock: Clock, quoting: Quoting, late_window: timedelta,
                networks: Collection[str] | None = None, reads: UowFactory | None = None,
                known: Mapping[str, tuple[Collection[WatchedAddress], frozenset[str]]] | None = None) -> int:
    """Read, through the tick's own code path, the accounts that notifications (or new subscriptions) named
    since the last call, on `networks` (None: all); a network whose socket reconnected is read whole.

    `known`: per network, the watched addresses the subscriptions were made from and every account they
    name; a read whose accounts they all cover uses them instead of querying the open invoices again.
    Returns the payments recorded.
    """
    push = client.push
    if push is None:
        return 0
    notified, resync = push.take()
    recorded = 0
    for network in sorted(set(notified) | resync):
        if networks is not None and network not in networks:
            continue  # no longer ours: the holder of the family reads it
        watched, accounts = (known or {}).get(network, (None, frozenset()))
        try:
            if network in resync:
                client.read_all_next(network)
                report = watch_tick(uow_factory, client, network, clock, quoting, late_window, reads=reads)
            else:
                only = notified[network]
                report = watch_tick(uow_factory, client, network, clock, quoting, late_window, only=only, reads=reads,
                                    watched=watched if accounts.issuperset(only) else None)
        except Exception:
            log.exception("pushed read failed", extra={"chain": CHAIN, "network": network})
            continue
        recorded += report.recorded
    return recorded


class PushReader:
    """The follower and reader threads of one worker (start once, stop once)."""

    def __init__(self, uow_factory: UowFactory, client: SolanaChain, clock: Clock, quoting: Quoting,
                 late_window: timedelta,
                 holds: Callable[[str], bool] = lambda _family: True, refresh_every: float = 5.0,
                 reads: UowFactory | None = None, min_gap: float = MIN_GAP) -> None:
        assert client.push is not None, "push is off"
        self.push = client.push
        self.uow_factory, self.client, self.clock, self.late_window = uow_factory, client, clock, late_window
        self.quoting = quoting
        # Read-only units of work for the reads (Services.uow(read_only=True)): on SQLite a read then takes
        # no write turn, so following invoices and preparing a pushed read never queue behind writers.
        self.reads = reads or uow_factory
        self.holds, self.refresh_every, self.min_gap = holds, refresh_every, min_gap
        self.following: frozenset[str] = frozenset()  # networks whose family this worker holds
        # network -> (watched addresses, every account they name) as of the last refresh
        self._known: dict[str, tuple[Collection[WatchedAddress], frozenset[str]]] = {}
        self.refreshes = 0
        self._stopped = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self.push.start()
        for target, name in ((self._follow_loop, "solana-push-follow"), (self._read_loop, "solana-push-reader")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Close the sockets and end the threads (the scheduler stopped: another worker takes over)."""
        self._stopped.set()
        self.push.stop()
        self.push.ready.set()
        wakeup.watching.signal()  # ends the follower's wait (other waiters merely look once more)
        for thread in self._threads:
            thread.join(timeout=10)

    def refresh(self) -> None:
        """Subscribe the accounts of the open invoices on every network whose family this worker holds;
        follow nothing on the others."""
        before = self.following
        for network in self.push.networks():
            with self.reads() as uow:
                watched = watched_addresses(uow, CHAIN, network, self.clock, self.late_window)
            if watched and self.holds(family(network)):
                # Ours before the first subscription: the reads it queues must not be skipped as another's.
                self.following |= {network}
                self._known[network] = (watched, self.client.follow(network, watched))
            else:
                self.client.follow(network, ())
                self._known.pop(network, None)
                self.following -= {network}
        if self.following != before:
            log.info("solana push follows", extra={"networks": sorted(self.following)})
        self.refreshes += 1

    def read(self) -> int:
        return read_pushed(self.uow_factory, self.client, self.clock, self.quoting, self.late_window,
                           self.following, reads=self.reads, known=dict(self._known))

    def _follow_loop(self) -> None:
        while not self._stopped.is_set():
            seen = wakeup.watching.generation()
            started = time.monotonic()
            try:
                self.refresh()
            except Exception:  # the thread outlives any one refresh; the tick follows meanwhile
                log.exception("push follow failed")
            if wakeup.watching.wait(seen, self.refresh_every) and not self._stopped.is_set():
                # Many commits in a row (a burst of new invoices) make one refresh a gap apart: each is a
                # query of every open invoice, and a new account's catch-up read covers the wait.
                self._stopped.wait(max(0.0, started + self.min_gap - time.monotonic()))

    def _read_loop(self) -> None:
        while not self._stopped.is_set():
            if not self.push.ready.wait(self.refresh_every):
                continue
            if self._stopped.is_set():
                return
            try:
                self.read()
            except Exception:  # the thread outlives any one read; the tick is the net meanwhile
                log.exception("push reader failed")
