"""TronGrid HTTP access through tronpy's requests-based provider: our API key always, a rate limit, a timeout.

tronpy's HTTPProvider falls back to a list of shared public API keys, and on a 403 'daily usage'
answer swaps keys and retries forever. We want neither: the provider is told it has no keys of its
own, and our key rides on the session's headers for every request (TronGrid's TRON-PRO-API-KEY).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests
from tronpy.providers.http import HTTPProvider

from gateway_core import telemetry


class TronApiError(RuntimeError):
    """The TRON node did not answer usably (HTTP error, timeout, or an error object)."""


class RateLimiter:
    """At most `per_second` calls per second, shared by every thread using one client (a token bucket)."""

    def __init__(self, per_second: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._interval = 1.0 / per_second if per_second > 0 else 0.0
        self._clock, self._sleep = clock, sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Block until the next call is allowed."""
        if not self._interval:
            return
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            self._next = start + self._interval
        if start > now:
            self._sleep(start - now)


class TronApi:
    """One TRON HTTP API endpoint (TronGrid or a node of one's own); counts its calls for the benchmark."""

    def __init__(self, endpoint: str, api_key: str, timeout: float = 10.0, per_second: float = 10.0) -> None:
        host = urlsplit(endpoint).hostname or ""
        if not api_key and host.endswith("trongrid.io"):
            raise TronApiError("TRONGRID_API_KEY is required for TronGrid endpoints")
        self.endpoint = endpoint.rstrip("/") + "/"
        self._provider = HTTPProvider(self.endpoint, timeout=timeout, api_key=api_key or None)
        # Never tronpy's shared keys nor its key-rotating retry loop: our key, set once on the session.
        self._provider.use_api_key = False
        if api_key:
            self._provider.sess.headers["TRON-PRO-API-KEY"] = api_key
        self._limiter = RateLimiter(per_second)
        self._timeout = timeout
        self._label = telemetry.endpoint_label(self.endpoint)
        self.calls = 0

    def post(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """POST `method` (e.g. 'walletsolidity/getnowblock') and return the decoded JSON."""
        try:
            return self._post(method, params)
        except TronApiError:
            telemetry.count("rpc_errors_total", chain="tron", endpoint=self._label)
            raise

    def _post(self, method: str, params: dict[str, Any] | None) -> Any:
        self._limiter.wait()
        self.calls += 1
        telemetry.count("rpc_calls_total", chain="tron", endpoint=self._label)
        try:
            answer = self._provider.make_request(method, params or {})
        except requests.RequestException as exc:
            # The message names the URL only: the key is in a header, never in the text we log.
            raise TronApiError(f"{method}: {type(exc).__name__}") from exc
        except ValueError as exc:
            raise TronApiError(f"{method}: answer is not JSON") from exc
        if isinstance(answer, dict) and "Error" in answer:
            raise TronApiError(f"{method}: {str(answer['Error'])[:200]}")
        return answer

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET a TronGrid REST path (e.g. 'v1/accounts/<address>/transactions/trc20') and return the JSON."""
        try:
            return self._get(path, params)
        except TronApiError:
            telemetry.count("rpc_errors_total", chain="tron", endpoint=self._label)
            raise

    def _get(self, path: str, params: dict[str, Any] | None) -> Any:
        self._limiter.wait()
        self.calls += 1
        telemetry.count("rpc_calls_total", chain="tron", endpoint=self._label)
        try:
            response = self._provider.sess.get(self.endpoint + path, params=params or {}, timeout=self._timeout)
            response.raise_for_status()
            answer = response.json()
        except requests.RequestException as exc:
            raise TronApiError(f"{path}: {type(exc).__name__}") from exc
        except ValueError as exc:
            raise TronApiError(f"{path}: answer is not JSON") from exc
        if isinstance(answer, dict) and answer.get("success") is False:
            raise TronApiError(f"{path}: {str(answer.get('error'))[:200]}")
        return answer
