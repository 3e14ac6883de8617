"""Requests per minute per API key: fixed one-minute windows, counted in this process or in Redis.

With several web processes (`voltbridge web` workers, several hosts) only Redis gives one limit: set
REDIS_URL. Without it each process counts on its own, which is right for the embedded `voltbridge run`.
Windows follow the gateway's clock, so every process agrees on where a minute starts.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger("bridge.ratelimit")
WINDOW_SECONDS = 60


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset_after: int  # whole seconds until the window rolls over (Retry-After when refused)


class RateLimited(Exception):
    """A key over its budget; contracts render it in their own format with Retry-After."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(f"rate limit of {verdict.limit} requests per minute reached")
        self.verdict = verdict


class KeyLimiter(Protocol):
    def hit(self, bucket: str, limit: int, now: float) -> Verdict:
        """Count one request for `bucket` at `now` (epoch seconds) against `limit` per minute."""
        ...


def _verdict(count: int, limit: int, now: float) -> Verdict:
    reset_after = max(1, WINDOW_SECONDS - int(now) % WINDOW_SECONDS)
    return Verdict(count <= limit, limit, max(0, limit - count), reset_after)


class LocalLimiter:
    """Counters in this process; windows older than the current one are dropped as time moves on."""

    def __init__(self) -> None:
        self._window = -1
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def hit(self, bucket: str, limit: int, now: float) -> Verdict:
        window = int(now) // WINDOW_SECONDS
        with self._lock:
            if window != self._window:
                self._window, self._counts = window, {}
            count = self._counts.get(bucket, 0) + 1
            self._counts[bucket] = count
        return _verdict(count, limit, now)


# Atomic increment that starts the window's expiry with its first request (the key outlives its window a
# little, so a process whose clock lags still finds it).
_INCREMENT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""


class RedisLimiter:
    """One counter per key and window in Redis, shared by every web process that uses the same Redis."""

    def __init__(self, client: Any, prefix: str = "voltbridge:ratelimit:") -> None:
        self._client = client
        self._prefix = prefix
        self._script = client.register_script(_INCREMENT)

    @classmethod
    def from_url(cls, url: str) -> RedisLimiter:
        import redis

        # Short timeouts: a slow Redis must not hold API requests (see hit()).
        return cls(redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5))

    def hit(self, bucket: str, limit: int, now: float) -> Verdict:
        import redis

        window = int(now) // WINDOW_SECONDS
        try:
            count = int(self._script(keys=[f"{self._prefix}{bucket}:{window}"], args=[2 * WINDOW_SECONDS]))
        except redis.RedisError as exc:
            # Fail open: an outage of the counters must not take payments down with it. Logged for the operator.
            log.warning("rate limit counters unavailable, request allowed", extra={"error": type(exc).__name__})
            return Verdict(True, limit, limit, WINDOW_SECONDS)
        return _verdict(count, limit, now)


def key_limiter(redis_url: str) -> KeyLimiter:
    """Redis when configured, else counters in this process."""
    return RedisLimiter.from_url(redis_url) if redis_url else LocalLimiter()
