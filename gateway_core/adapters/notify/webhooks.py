"""WebhookTransport over http.client, behind the SSRF guard: pinned address, no redirects, capped body and time."""

from __future__ import annotations

import heapq
import http.client
import itertools
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping, Sequence

from gateway_core.adapters.notify.ssrf import Allowlist, Resolver, Target, UnsafeUrl, check_url, system_resolver
from gateway_core.ports import HttpResult

MAX_RESPONSE_BYTES = 64 * 1024


class _Watchdog:
    """One thread that fires deadlines for every request in the process (a Timer thread per request costs
    more than the request itself at hundreds of deliveries per second)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._cancelled: set[int] = set()
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None

    def add(self, when: float, action: Callable[[], None]) -> int:
        ident = next(self._ids)
        with self._cond:
            heapq.heappush(self._heap, (when, ident, action))
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="http-deadlines", daemon=True)
                self._thread.start()
            self._cond.notify()
        return ident

    def cancel(self, ident: int) -> None:
        with self._cond:
            self._cancelled.add(ident)

    def _loop(self) -> None:
        while True:
            with self._cond:
                while self._heap and self._heap[0][1] in self._cancelled:
                    self._cancelled.discard(heapq.heappop(self._heap)[1])
                if not self._heap:
                    self._cond.wait()
                    continue
                when, _, action = self._heap[0]
                wait = when - time.monotonic()
                if wait > 0:
                    self._cond.wait(timeout=wait)
                    continue
                heapq.heappop(self._heap)
            action()


_WATCHDOG = _Watchdog()


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Says `Host: <name>` but connects to the address the guard checked."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """TLS to the checked address, with SNI and certificate checks for the URL's host name."""

    def __init__(self, target: Target, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=context)
        self._address = target.address
        self._tls = context

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


class GuardedHttp:
    """The production WebhookTransport: every request goes through the SSRF guard."""

    def __init__(self, allowlist: Sequence[str] = (), *, resolver: Resolver = system_resolver,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.allowlist = Allowlist(allowlist)
        self.resolver = resolver
        self.ssl_context = ssl_context or ssl.create_default_context()

    def check(self, url: str) -> Target:
        """The checked target for url, or UnsafeUrl."""
        return check_url(url, self.allowlist, self.resolver)

    def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> HttpResult:
        """POST body; never follows redirects; the whole exchange is bounded by timeout."""
        return self.request("POST", url, body, headers, timeout)

    def get(self, url: str, timeout: float, headers: Mapping[str, str] | None = None) -> HttpResult:
        return self.request("GET", url, None, headers or {}, timeout)

    def request(self, method: str, url: str, body: bytes | None, headers: Mapping[str, str],
                timeout: float) -> HttpResult:
        started = time.monotonic()
        try:
            target = self.check(url)
        except UnsafeUrl as exc:
            return HttpResult(None, b"", time.monotonic() - started, f"refused by SSRF guard: {exc}")
        conn: http.client.HTTPConnection
        if target.scheme == "https":
            conn = _PinnedHTTPSConnection(target, timeout, self.ssl_context)
        else:
            conn = _PinnedHTTPConnection(target, timeout)
        expired = threading.Event()

        def _deadline() -> None:
            # Socket timeouts bound each read, not the exchange: a server dripping one byte at a time would
            # otherwise hold us forever. Shutting the socket down wakes whatever read is blocked.
            expired.set()
            sock = conn.sock
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        watch = _WATCHDOG.add(time.monotonic() + timeout, _deadline)
        try:
            conn.request(method, target.path, body=body, headers=dict(headers))
            response = conn.getresponse()
            data = response.read(MAX_RESPONSE_BYTES)
            status = response.status
        except (OSError, http.client.HTTPException, ValueError) as exc:
            elapsed = time.monotonic() - started
            if expired.is_set() or isinstance(exc, TimeoutError | socket.timeout):
                return HttpResult(None, b"", elapsed, f"timed out after {timeout:g}s")
            return HttpResult(None, b"", elapsed, f"{exc.__class__.__name__}: {exc}"[:300])
        finally:
            _WATCHDOG.cancel(watch)
            conn.close()
        elapsed = time.monotonic() - started
        if expired.is_set():
            return HttpResult(status, data, elapsed, f"timed out after {timeout:g}s")
        return HttpResult(status, data, elapsed, None)
