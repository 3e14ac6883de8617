"""Solana push: one pub/sub websocket per endpoint, `accountSubscribe` at confirmed for the accounts a tick reads.

The subscriptions run on the adapter's event loop (SolanaLoop) through solana-py's SolanaWsClient. A
notification is only a wake-up: the account is then read through the watcher's own code path (listings
from the persisted cursor), so a missed, late or duplicated notification costs latency, never a payment.
The tick keeps polling as the safety net; after a dropped socket every subscribed account is read once
on reconnection, from its cursor, which covers whatever landed while the socket was down.

Which accounts: the push reader (payments/push_reader.py) calls `follow` whenever the open invoices change
(woken by the commit, adapters/wakeup.py), and the tick's full scan calls it too. An account newly subscribed
is read once as if notified (from its cursor): whatever landed before its subscription was confirmed is seen
at once, not at the tick's next net pass. A network with nothing to follow has no socket.

Why `accountSubscribe` and not `logsSubscribe` with `mentions`: an account notification carries the account's
new state (lamports, token amount), which stands in for the deposit job's balance poll, and it fires exactly
when money moves into the account. `mentions` takes one key per subscription as well, but fires for every
transaction naming the key (a busy merchant wallet's outgoing traffic included) and carries only the
signature. What it would add, a failed attempt addressed to an invoice (it moves no money, so no account
notification), is found by the tick's net pass (`PUSH_NET_EVERY`), which is soon enough for a refusal.

Public endpoints cap subscriptions per connection: beyond `max_subscriptions` the accounts of the least
recently opened invoices are left to polling (`stats` counts them; a change is logged at WARNING, each
reconciliation at INFO, and the gauges `solana_ws_subscriptions{network}` and
`solana_ws_fallback_accounts{network}` go to /metrics).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from solana.rpc.commitment import Confirmed
from solana.rpc.websocket_api import SolanaWsClient, Subscription
from solders.account import Account
from solders.pubkey import Pubkey
from solders.rpc.responses import AccountNotification

from gateway_core import telemetry
from gateway_core.adapters.chains.solana_rpc import SolanaLoop

log = logging.getLogger(__name__)
SUBSCRIBE_BATCH = 50  # subscriptions requested at once on a (re)connection


def ws_url(rpc_url: str) -> str:
    """The pub/sub endpoint of an RPC URL, as Solana's nodes serve it: http -> ws, https -> wss."""
    if rpc_url.startswith("https://"):
        return "wss://" + rpc_url[len("https://"):]
    if rpc_url.startswith("http://"):
        return "ws://" + rpc_url[len("http://"):]
    return rpc_url


@dataclass
class _Endpoint:
    url: str
    wanted: list[str] = field(default_factory=list)  # accounts to subscribe, newest invoice first, within budget
    fallback: int = 0  # accounts beyond the budget, left to polling
    live: dict[str, Subscription] = field(default_factory=dict)  # account -> its subscription on this socket
    connected: bool = False
    reconnects: int = 0
    changed: asyncio.Event | None = None


class SolanaPush:
    """Subscriptions for every network's endpoint, and what they reported since the worker last looked."""

    def __init__(self, urls: Mapping[str, str], loop: SolanaLoop, max_subscriptions: int = 1000,
                 backoff: float = 0.5, max_backoff: float = 30.0) -> None:
        self.loop = loop
        self.max_subscriptions = max_subscriptions
        self.backoff, self.max_backoff = backoff, max_backoff
        self._endpoints = {network: _Endpoint(url) for network, url in urls.items()}
        self._lock = threading.Lock()
        # network -> account -> (slot, account state) from its latest notification (None: read it anyway)
        self._notified: dict[str, dict[str, tuple[int, Account] | None]] = {}
        self._resync: set[str] = set()  # networks whose every subscribed account must be read (reconnected)
        self.ready = threading.Event()  # set when something is waiting in `take`
        self._state = threading.Condition()  # notified on every change of sockets, subscriptions, notifications
        self._started = False
        self._stopped = False

    # -- for the watcher (any thread) ---------------------------------------------------------------------------

    def start(self) -> None:
        """Open the sockets (on the adapter's loop); idempotent."""
        with self._lock:
            if self._started:
                return
            self._started, self._stopped = True, False
        for network in self._endpoints:
            self.loop.submit(self._run(network))

    def stop(self) -> None:
        """Close the sockets; the watcher goes back to polling only."""
        self._stopped = True
        self._started = False
        for endpoint in self._endpoints.values():
            self._poke(endpoint)

    def follow(self, network: str, accounts: Sequence[str]) -> None:
        """The accounts to subscribe on `network`, newest invoice first; those beyond the budget fall back."""
        endpoint = self._endpoints.get(network)
        if endpoint is None:
            return
        unique = list(dict.fromkeys(accounts))
        wanted, fallback = unique[:self.max_subscriptions], max(0, len(unique) - self.max_subscriptions)
        with self._lock:
            if wanted == endpoint.wanted and fallback == endpoint.fallback:
                return
            if fallback != endpoint.fallback:
                log.log(logging.WARNING if fallback else logging.INFO,
                        "solana subscriptions over budget, oldest invoices polled" if fallback
                        else "solana subscriptions within budget again", extra={
                            "network": network, "subscribed": len(wanted), "polled": fallback,
                            "max_subscriptions": self.max_subscriptions})
            endpoint.wanted, endpoint.fallback = wanted, fallback
        telemetry.gauge("solana_ws_fallback_accounts", fallback, network=network)
        self._poke(endpoint)

    def networks(self) -> list[str]:
        return list(self._endpoints)

    def live(self, network: str, account: str) -> bool:
        """Whether a confirmed subscription on an open socket covers `account`."""
        endpoint = self._endpoints.get(network)
        return endpoint is not None and endpoint.connected and account in endpoint.live

    def wait_for(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Block until `condition()` holds (re-checked at each change), at most `timeout` seconds."""
        with self._state:
            return self._state.wait_for(condition, timeout)

    def _changed(self) -> None:
        with self._state:
            self._state.notify_all()

    def take(self) -> tuple[dict[str, dict[str, tuple[int, Account] | None]], set[str]]:
        """(network -> notified accounts and what they said, networks to read whole), emptied."""
        with self._lock:
            notified, resync = self._notified, self._resync
            self._notified, self._resync = {}, set()
            self.ready.clear()
        return notified, resync

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per network: subscriptions wanted and live, accounts left to polling, socket state (for metrics)."""
        with self._lock:
            return {network: {"subscribed": len(e.live), "wanted": len(e.wanted), "polled": e.fallback,
                              "connected": e.connected, "reconnects": e.reconnects}
                    for network, e in self._endpoints.items()}

    # -- on the loop --------------------------------------------------------------------------------------------

    def _poke(self, endpoint: _Endpoint) -> None:
        event = endpoint.changed
        if event is not None:
            self.loop.loop.call_soon_threadsafe(event.set)

    async def _run(self, network: str) -> None:
        """Keep one socket open for `network`, re-established with backoff after a drop."""
        endpoint = self._endpoints[network]
        endpoint.changed = asyncio.Event()
        pause = self.backoff
        while not self._stopped:
            if not endpoint.wanted:  # no socket for a network with nothing to follow
                await endpoint.changed.wait()
                endpoint.changed.clear()
                continue
            try:
                async with SolanaWsClient(endpoint.url, request_timeout=10.0, ping_interval=20) as ws:
                    endpoint.connected, endpoint.live = True, {}
                    pause = self.backoff
                    self._changed()
                    await self._serve(network, endpoint, ws)
                continue  # closed on purpose: nothing left to follow (or stopped)
            except Exception as exc:  # any failure of the socket: drop everything it owned and reconnect
                if self._stopped:
                    break
                log.warning("solana pub/sub socket lost, reconnecting", extra={
                    "network": network, "error": f"{type(exc).__name__}: {exc}", "seconds": pause})
            finally:
                endpoint.connected, endpoint.live = False, {}
                telemetry.gauge("solana_ws_subscriptions", 0, network=network)
                self._changed()
            if self._stopped:
                break
            endpoint.reconnects += 1
            try:
                await asyncio.wait_for(endpoint.changed.wait(), pause)  # stop() or new accounts end the wait early
            except TimeoutError:
                pass
            endpoint.changed.clear()
            pause = min(self.max_backoff, pause * 2)

    async def _serve(self, network: str, endpoint: _Endpoint, ws: SolanaWsClient) -> None:
        assert endpoint.changed is not None
        by_id: dict[int, str] = {}
        reader = asyncio.ensure_future(self._read(network, ws, by_id))
        first = True
        try:
            while not self._stopped:
                endpoint.changed.clear()
                if not endpoint.wanted:
                    return  # nothing to follow (no open invoice, or another worker holds the family)
                # Reconnected: whatever landed while the socket was down is read from the cursors once, by a
                # full pass; otherwise each new subscription is read once by itself (`_reconcile`).
                resync = first and endpoint.reconnects > 0
                await self._reconcile(network, endpoint, ws, by_id, catch_up=not resync)
                if resync:
                    with self._lock:
                        self._resync.add(network)
                        self.ready.set()
                first = False
                self._changed()
                waiter = asyncio.ensure_future(endpoint.changed.wait())
                done, _ = await asyncio.wait({reader, waiter}, return_when=asyncio.FIRST_COMPLETED)
                if reader in done:
                    waiter.cancel()
                    reader.result()  # raises why the socket ended
                    return
        finally:
            reader.cancel()

    async def _reconcile(self, network: str, endpoint: _Endpoint, ws: SolanaWsClient, by_id: dict[int, str],
                         catch_up: bool = True) -> None:
        """Subscribe the wanted accounts not yet live, unsubscribe the ones no longer wanted; with `catch_up`,
        queue each new subscription's account for one read (queued before it counts as live, so a caller who
        saw it live finds the read waiting in `take`)."""
        with self._lock:
            wanted = list(endpoint.wanted)
        keep = set(wanted)
        dropped = [a for a in endpoint.live if a not in keep]
        for account in dropped:
            subscription = endpoint.live.pop(account)
            by_id.pop(subscription.subscription_id, None)
            await ws.unsubscribe(subscription)
        missing = [a for a in wanted if a not in endpoint.live]
        for start in range(0, len(missing), SUBSCRIBE_BATCH):
            batch = missing[start:start + SUBSCRIBE_BATCH]
            subscriptions = await asyncio.gather(*(
                ws.account_subscribe(pubkey=Pubkey.from_string(a), commitment=Confirmed, encoding="base64")
                for a in batch))
            for account, subscription in zip(batch, subscriptions, strict=True):
                by_id[subscription.subscription_id] = account
            if catch_up:
                with self._lock:
                    queued = self._notified.setdefault(network, {})
                    for account in batch:
                        queued.setdefault(account, None)
                    self.ready.set()
            for account, subscription in zip(batch, subscriptions, strict=True):
                endpoint.live[account] = subscription
        telemetry.gauge("solana_ws_subscriptions", len(endpoint.live), network=network)
        if missing or dropped:
            log.info("solana subscriptions", extra={"network": network, "subscribed": len(endpoint.live),
                                                    "unsubscribed": len(dropped), "polled": endpoint.fallback})

    async def _read(self, network: str, ws: SolanaWsClient, by_id: dict[int, str]) -> None:
        while True:
            notification = await ws.recv()
            account = by_id.get(notification.subscription)
            if account is None:
                continue  # a late one for a subscription just closed
            said: tuple[int, Account] | None = None
            if isinstance(notification, AccountNotification) and isinstance(notification.result.value, Account):
                said = (notification.result.context.slot, notification.result.value)
            with self._lock:
                self._notified.setdefault(network, {})[account] = said
                self.ready.set()
            self._changed()
