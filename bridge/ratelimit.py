"""Limits for the public checkout endpoints: a token bucket per client, and a cap on open streams.

The status bucket is kept in Redis when REDIS_URL is set, so every web process (and host) draws on one
budget per client (DESIGN.md §3); without it each process keeps its own, right for the embedded
`voltbridge run`. The stream cap stays per process on purpose: it protects that process's own threads.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from typing import Any, Protocol

log = logging.getLogger("bridge.ratelimit")


class StatusBucket(Protocol):
    def take(self, key: str) -> float:
        """0 when the request may go ahead, else the seconds to wait before the next one."""
        ...


def retry_after(wait: float) -> str:
    return str(max(1, math.ceil(wait)))


class TokenBucket:
    """`per_minute` requests per key on average, bursts up to `burst`; bounded memory (oldest keys dropped)."""

    def __init__(self, per_minute: int, burst: int | None = None, max_keys: int = 10_000) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst if burst is not None else max(1, per_minute // 2))
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str, now: float | None = None) -> float:
        """0 when the request may go ahead, else the seconds to wait before the next one."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, stamp = self._buckets.pop(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - stamp) * self.rate)
            wait = 0.0
            if tokens >= 1:
                tokens -= 1
            else:
                wait = (1 - tokens) / self.rate if self.rate > 0 else 60.0
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
            return wait


# The same bucket as TokenBucket, as GCRA: one stored number per client, the time its bucket is next full
# ("theoretical arrival time"), on Redis's own clock so that every web process agrees on it (a caller's `now`
# replaces it: tests). Allowed while that time is at most (burst - 1) intervals ahead of now. Waits are
# returned as strings: Redis would cut a Lua number to an integer.
_TAKE = """
local now = tonumber(ARGV[3])
if not now then
  local clock = redis.call('TIME')
  now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
end
local interval, tolerance = tonumber(ARGV[1]), tonumber(ARGV[2])
local tat = math.max(tonumber(redis.call('GET', KEYS[1]) or now), now)
if tat - tolerance > now then return tostring(tat - tolerance - now) end
tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.6f', tat), 'PX', math.ceil((tat - now) * 1000) + 1000)
return '0'
"""


class RedisTokenBucket:
    """`per_minute` per key on average, bursts up to `burst`, one budget across every process on this Redis."""

    def __init__(self, client: Any, per_minute: int, burst: int | None, prefix: str) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst if burst is not None else max(1, per_minute // 2))
        self._prefix = prefix
        self._script = client.register_script(_TAKE)

    @classmethod
    def from_url(cls, url: str, per_minute: int, burst: int | None, prefix: str) -> RedisTokenBucket:
        import redis

        # Short timeouts: a slow Redis must not hold the buyer's page (see take()).
        client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        return cls(client, per_minute, burst, prefix)

    def take(self, key: str, now: float | None = None) -> float:
        """0 when the request may go ahead, else the seconds to wait; `now` (seconds) instead of Redis's clock."""
        import redis

        if self.rate <= 0:
            return 60.0
        interval = 1 / self.rate
        args = [repr(interval), repr((self.burst - 1) * interval), *([] if now is None else [repr(now)])]
        try:
            wait = self._script(keys=[self._prefix + key], args=args)
        except redis.RedisError as exc:
            # Fail open, as the API key limits do: a counter outage must not stop buyers from paying.
            log.warning("checkout rate limit unavailable, request allowed", extra={"error": type(exc).__name__})
            return 0.0
        return float(wait)


def status_bucket(redis_url: str, per_minute: int, name: str = "checkout-status") -> StatusBucket:
    """Redis when configured (buckets called `name`, apart from other endpoints'), else one in this process."""
    if not redis_url:
        return TokenBucket(per_minute)
    return RedisTokenBucket.from_url(redis_url, per_minute, None, prefix=f"voltbridge:{name}:")


class StreamSlots:
    """At most `limit` status streams open at once, so streams never take every server thread."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0
        self._lock = threading.Lock()

    def acquire(self) -> bool:
        with self._lock:
            if self.open >= self.limit:
                return False
            self.open += 1
            return True

    def release(self) -> None:
        with self._lock:
            self.open = max(0, self.open - 1)
