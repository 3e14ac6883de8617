"""WebhookTransport over http.client, behind the SSRF guard: pinned address, no redirects, capped body and time.

Connections are kept alive per checked target (scheme, host, port and the address the guard resolved this
request to), so a busy endpoint costs one request per delivery rather than a connect, a TLS handshake and a
server thread too. The guard still checks every request: a pooled connection is only reused when the request
was checked to that same address.
"""

from __future__ import annotations

import heapq
import http.client
import itertools
import select
import socket
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence

from gateway_core.adapters.notify.ssrf import Allowlist, Resolver, Target, UnsafeUrl, check_url, system_resolver
from gateway_core.adapters.notify.tls import system_tls
from gateway_core.ports import HttpResult

MAX_RESPONSE_BYTES = 64 * 1024
# Servers close idle keep-alive connections after a few seconds (gunicorn 2 s, Apache and Node 5 s); reusing one
# they are closing fails the request, so ours are dropped sooner.
IDLE_SECONDS = 2.0
IDLE_PER_TARGET = 16
IDLE_TOTAL = 256
_STALE = (ConnectionResetError, BrokenPipeError, ConnectionAbortedError, http.client.RemoteDisconnected)


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


_Key = tuple[str, str, int, str]


class _IdleConnections:
    """Connections whose last exchange ended cleanly, newest last per target, for the next request there."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: OrderedDict[_Key, list[tuple[http.client.HTTPConnection, float]]] = OrderedDict()
        self._count = 0

    def take(self, key: _Key) -> http.client.HTTPConnection | None:
        """A live idle connection to key, or None; stale ones found on the way are closed."""
        while True:
            with self._lock:
                parked = self._idle.get(key)
                if not parked:
                    return None
                conn, since = parked.pop()
                self._count -= 1
                if not parked:
                    del self._idle[key]
            if time.monotonic() - since < IDLE_SECONDS and not _dropped(conn):
                return conn
            conn.close()

    def give(self, key: _Key, conn: http.client.HTTPConnection) -> None:
        evicted: list[http.client.HTTPConnection] = []
        with self._lock:
            parked = self._idle.setdefault(key, [])
            self._idle.move_to_end(key)
            parked.append((conn, time.monotonic()))
            self._count += 1
            if len(parked) > IDLE_PER_TARGET:
                evicted.append(parked.pop(0)[0])
                self._count -= 1
            # Least recently used targets first: those gone quiet for IDLE_SECONDS (their sockets would otherwise
            # linger half-closed), then as many as keep the total under IDLE_TOTAL.
            now = time.monotonic()
            while self._idle:
                oldest = next(iter(self._idle))
                if self._count <= IDLE_TOTAL and now - self._idle[oldest][-1][1] < IDLE_SECONDS:
                    break
                gone = self._idle.pop(oldest)
                self._count -= len(gone)
                evicted.extend(parked_conn for parked_conn, _ in gone)
        for old in evicted:
            old.close()


def _dropped(conn: http.client.HTTPConnection) -> bool:
    """An idle connection the server closed (or wrote to out of turn) reads as ready: it cannot be reused."""
    sock = conn.sock
    if sock is None:
        return True
    try:
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True


class GuardedHttp:
    """The production WebhookTransport: every request goes through the SSRF guard."""

    def __init__(self, allowlist: Sequence[str] = (), *, resolver: Resolver = system_resolver,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.allowlist = Allowlist(allowlist)
        self.resolver = resolver
        self.ssl_context = ssl_context or system_tls()
        self._idle = _IdleConnections()

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
        key = (target.scheme, target.host, target.port, target.address)
        conn = self._idle.take(key)
        if conn is not None:
            try:
                return self._exchange(conn, key, target, method, body, headers, timeout, started)
            except _Retry:
                pass  # the server had closed it: the request was not taken, send it on a new connection
        return self._exchange(self._connect(target, timeout), key, target, method, body, headers, timeout, started)

    def _connect(self, target: Target, timeout: float) -> http.client.HTTPConnection:
        if target.scheme == "https":
            return _PinnedHTTPSConnection(target, timeout, self.ssl_context)
        return _PinnedHTTPConnection(target, timeout)

    def _exchange(self, conn: http.client.HTTPConnection, key: _Key, target: Target, method: str,
                  body: bytes | None, headers: Mapping[str, str], timeout: float, started: float) -> HttpResult:
        """One request on conn; parks conn for reuse when the exchange ended cleanly. _Retry: a reused
        connection turned out closed before any answer."""
        reused = conn.sock is not None
        if reused:
            conn.sock.settimeout(timeout)
        expired = threading.Event()
        guard = threading.Lock()
        done = False

        def _deadline() -> None:
            # Socket timeouts bound each read, not the exchange: a server dripping one byte at a time would
            # otherwise hold us forever. Shutting the socket down wakes whatever read is blocked.
            with guard:
                if done:
                    return  # finished meanwhile: the connection may be parked for another request already
                expired.set()
                sock = conn.sock
                if sock is not None:
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        watch = _WATCHDOG.add(time.monotonic() + timeout, _deadline)
        reusable = False
        try:
            conn.request(method, target.path, body=body, headers=dict(headers))
            response = conn.getresponse()
            data = response.read(MAX_RESPONSE_BYTES)
            status = response.status
            reusable = response.isclosed() and not response.will_close  # the whole answer read, no close asked
        except (OSError, http.client.HTTPException, ValueError) as exc:
            if reused and isinstance(exc, _STALE) and not expired.is_set():
                raise _Retry from exc
            elapsed = time.monotonic() - started
            if expired.is_set() or isinstance(exc, TimeoutError | socket.timeout):
                return HttpResult(None, b"", elapsed, f"timed out after {timeout:g}s")
            return HttpResult(None, b"", elapsed, f"{exc.__class__.__name__}: {exc}"[:300])
        finally:
            _WATCHDOG.cancel(watch)
            with guard:
                done = True
                reusable = reusable and not expired.is_set()
            if reusable:
                self._idle.give(key, conn)
            else:
                conn.close()
        elapsed = time.monotonic() - started
        if expired.is_set():
            return HttpResult(status, data, elapsed, f"timed out after {timeout:g}s")
        return HttpResult(status, data, elapsed, None)


class _Retry(Exception):
    """A reused keep-alive connection was closed by the server before it answered."""
