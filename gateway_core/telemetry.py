"""Process-local figures the worker publishes each tick (issue 23): RPC calls and errors per endpoint,
watcher lag per chain, rate age per pair, fee-payer balance.

Adapters record here; the worker's publish job writes the figures to the `worker_metrics` table so that any
web process can serve them at /metrics and /readyz can judge the watchers, across hosts. Names are contract:
  rpc_calls_total{chain,endpoint}, rpc_errors_total{chain,endpoint}   (counters, per process)
  watcher_lag{chain,network}          slots or blocks behind the head after the last tick (HeadLag)
  rate_age_seconds{pair}              how old the rate a quote would use is (set by the rate refresh)
  fee_payer_lamports{network}         the Solana fee payer's balance at the last check
  solana_ws_subscriptions{network}    live Solana push subscriptions
  solana_ws_fallback_accounts{network}  accounts beyond the subscription budget, polled instead
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from decimal import Decimal
from urllib.parse import urlsplit

Labels = tuple[tuple[str, str], ...]
_lock = threading.Lock()
_samples: dict[tuple[str, Labels], Decimal] = {}
# A per-tick gauge remembers the publish round it was last set in: a worker that stops setting it (it lost its
# job family's lock to a standby) must stop publishing it, or its last value would look current for ever.
_expiring: dict[tuple[str, Labels], tuple[int, int]] = {}  # key -> (round set in, rounds it stays fresh)
_round = 0


def _key(name: str, labels: dict[str, str]) -> tuple[str, Labels]:
    return name, tuple(sorted((k, str(v)) for k, v in labels.items()))


def count(name: str, amount: int = 1, **labels: str) -> None:
    """Add to a counter."""
    key = _key(name, labels)
    with _lock:
        _samples[key] = _samples.get(key, Decimal(0)) + amount


def gauge(name: str, value: int | Decimal, *, fresh_rounds: int | None = None, **labels: str) -> None:
    """Set a gauge (integers and Decimals only: balances are base units). One set every tick passes
    fresh_rounds: unless set again within that many publish rounds, it is no longer published."""
    key = _key(name, labels)
    with _lock:
        _samples[key] = Decimal(value)
        if fresh_rounds is not None:
            _expiring[key] = (_round, fresh_rounds)


def snapshot() -> dict[tuple[str, Labels], Decimal]:
    """Every figure recorded in this process so far."""
    with _lock:
        return dict(_samples)


def publish_round() -> tuple[dict[tuple[str, Labels], Decimal], set[tuple[str, Labels]]]:
    """What to publish this round: every figure but the per-tick gauges not set lately; and those, whose
    published rows should go. Starts the next round."""
    global _round
    with _lock:
        stale = {key for key, (at, fresh) in _expiring.items() if _round - at >= fresh}
        for key in stale:
            del _expiring[key], _samples[key]
        _round += 1
        return dict(_samples), stale


def endpoint_label(url: str) -> str:
    """scheme://host[:port] of an endpoint: never its path or query, which may carry an API key."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}"


class HeadLag:
    """watcher_lag{chain,network}: how many slots or blocks the chain's head is past the newest one a watcher
    has read completely. While the head cannot be read (the endpoint is down), it is taken to move on at the
    chain's block time from when it last was, so the lag grows through an outage instead of standing still at
    its last value, and /readyz can tell (WATCH_MAX_LAG)."""

    def __init__(self, chain: str, block_seconds: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.chain, self.block_seconds, self._now = chain, block_seconds, monotonic
        self._last: dict[str, tuple[int, int, float]] = {}  # network -> (head, done, when the head was read)

    def read(self, network: str, head: int, done: int) -> int:
        """The head was read now and everything up to `done` is read: publish and return the lag."""
        self._last[network] = (head, done, self._now())
        return self._publish(network, head - done)

    def unreadable(self, network: str) -> int:
        """This tick could not read the head: publish and return the estimated lag."""
        head, done, at = self._last.setdefault(network, (0, 0, self._now()))
        return self._publish(network, head + int((self._now() - at) / self.block_seconds) - done)

    def _publish(self, network: str, lag: int) -> int:
        lag = max(0, lag)
        # Three rounds, as /readyz counts a worker gone after three ticks without a heartbeat.
        gauge("watcher_lag", lag, fresh_rounds=3, chain=self.chain, network=network)
        return lag
