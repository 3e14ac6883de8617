"""A small synchronous Solana JSON-RPC client: a request-rate limit per endpoint, retries with backoff.

solana-py is async-only over httpx2; the watcher and the sweeper are plain threads, so this client speaks
JSON-RPC over `requests` and leaves types to solders.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import requests

log = logging.getLogger(__name__)
# The node has not reached the request's `minContextSlot` (a backend behind the others of one endpoint).
MIN_CONTEXT_SLOT_NOT_REACHED = -32016


class RpcUnavailable(Exception):
    """The endpoint failed (timeout, 429, 5xx, malformed JSON) even after the retries."""


class RpcError(Exception):
    """The endpoint answered with a JSON-RPC error object (a request it refuses, not an outage)."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.data = code, message, data


class RateLimiter:
    """At most `limit` requests in any `period` seconds (the public endpoints allow 100 per 10 s)."""

    def __init__(self, limit: int, period: float, sleep: Callable[[float], None] = time.sleep,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.period = limit, period
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()
        self._sleep, self._now = sleep, monotonic

    def acquire(self) -> float:
        """Wait for a free slot; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._now()
                while self._sent and now - self._sent[0] >= self.period:
                    self._sent.popleft()
                if len(self._sent) < self.limit:
                    self._sent.append(now)
                    return waited
                pause = self.period - (now - self._sent[0])
            self._sleep(pause)
            waited += pause


class SolanaRpc:
    """JSON-RPC calls to one endpoint; counts calls so ticks and benchmarks can report them."""

    def __init__(self, url: str, *, limiter: RateLimiter | None = None, timeout: float = 10.0,
                 retries: int = 3, backoff: float = 0.5, session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.url = url
        self.limiter = limiter
        self.timeout, self.retries, self.backoff = timeout, retries, backoff
        self._http = session or requests.Session()
        if session is None:
            # Proxies from the environment are read once here, not on every request (a per-call environ scan).
            self._http.proxies.update(requests.utils.get_environ_proxies(url))
            self._http.trust_env = False
        self._sleep = sleep
        self._ids = 0
        self.calls = 0
        self.calls_by_method: dict[str, int] = {}

    def call(self, method: str, *params: Any) -> Any:
        """The `result` of one request; RpcError for a JSON-RPC error, RpcUnavailable for an outage."""
        failure = "no attempt"
        for attempt in range(self.retries + 1):
            if attempt:
                # Exponential backoff; the endpoint's Retry-After is honoured when it is shorter than ours.
                self._sleep(self.backoff * 2 ** (attempt - 1))
            try:
                return self._once(method, list(params))
            except RpcUnavailable as exc:
                failure = str(exc)
        log.warning("solana rpc unavailable", extra={"method": method, "error": failure})
        raise RpcUnavailable(f"{method}: {failure}")

    def _once(self, method: str, params: list[Any]) -> Any:
        if self.limiter is not None:
            self.limiter.acquire()
        self._ids += 1
        self.calls += 1
        self.calls_by_method[method] = self.calls_by_method.get(method, 0) + 1
        body: dict[str, Any] = {"jsonrpc": "2.0", "id": self._ids, "method": method, "params": params}
        try:
            response = self._http.post(self.url, json=body, timeout=self.timeout)
        except requests.RequestException as exc:
            raise RpcUnavailable(f"{type(exc).__name__}") from None
        if response.status_code == 429 or response.status_code >= 500:
            raise RpcUnavailable(f"HTTP {response.status_code}")
        try:
            payload = response.json()
        except ValueError:
            raise RpcUnavailable("malformed JSON") from None
        if not isinstance(payload, dict) or ("result" not in payload and "error" not in payload):
            raise RpcUnavailable("malformed JSON-RPC response")
        if payload.get("error") is not None:
            error = payload["error"]
            if not isinstance(error, dict):
                raise RpcUnavailable("malformed JSON-RPC error")
            # -32005 node behind / -32603 internal: transient on public endpoints.
            if error.get("code") in (-32005, -32603):
                raise RpcUnavailable(str(error.get("message")))
            raise RpcError(int(error.get("code", 0)), str(error.get("message", "")), error.get("data"))
        return payload["result"]
