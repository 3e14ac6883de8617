"""Solana JSON-RPC through solana-py's AsyncClient, for the worker's and the web app's plain threads.

solana-py is async-only: the Solana adapter owns one event loop on a daemon thread (SolanaLoop) and every
call is a coroutine submitted to it with `run_coroutine_threadsafe`. The endpoint's request budget and the
retries with backoff stay on the calling thread, so a thread waiting for a slot holds up no one else's
request on the loop. Calls that solders types (balances, accounts, blockhashes, statuses) come back as
solders objects; listings and transactions come back as the JSON the parser reads (`encoding: json`,
`minContextSlot`), sent with solana-py's raw `send_rpc_request`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from pydantic import ValidationError
from solana.exceptions import SolanaRpcException
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Commitment, Confirmed
from solana.rpc.core import RPCException
from solana.rpc.jsonrpc import JsonRpcRequest, SolanaJsonRpcError
from solders.account import Account
from solders.errors import SerdeJSONError
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction_status import TransactionStatus

from gateway_core import telemetry

log = logging.getLogger(__name__)
T = TypeVar("T")
# The node has not reached the request's `minContextSlot` (a backend behind the others of one endpoint).
MIN_CONTEXT_SLOT_NOT_REACHED = -32016
# -32005 node behind / -32603 internal: transient on public endpoints.
_TRANSIENT_CODES = (-32005, -32603)
_TRANSIENT_TYPED = ("NodeUnhealthy", "InternalError")


class RpcUnavailable(Exception):
    """The endpoint failed (timeout, 429, 5xx, malformed JSON) even after the retries."""


class RpcError(Exception):
    """The endpoint answered with a JSON-RPC error object (a request it refuses, not an outage)."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.data = code, message, data


class SolanaLoop:
    """The Solana adapter's one event loop, run on a daemon thread started on first use (after a fork too)."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                self._loop = asyncio.new_event_loop()
                self._pid = os.getpid()
                self._thread = threading.Thread(target=_run_forever, args=(self._loop,), name="solana-loop",
                                                daemon=True)
                self._thread.start()
            return self._loop

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run `coro` on the loop and wait for it from this (non-loop) thread."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def submit(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Start `coro` on the loop without waiting (long-lived tasks such as the subscription socket)."""
        asyncio.run_coroutine_threadsafe(coro, self.loop)

    def close(self) -> None:
        """Cancel what runs on the loop (sockets close cleanly), then stop its thread."""
        with self._lock:
            loop, self._loop = self._loop, None
        if loop is None or self._pid != os.getpid():
            return
        try:
            asyncio.run_coroutine_threadsafe(_cancel_all(), loop).result(10)
        except Exception:  # a task that would not end: the loop stops anyway
            log.debug("solana loop tasks not cancelled cleanly")
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)


def _run_forever(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        loop.close()


async def _cancel_all() -> None:
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=5)


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
    """One endpoint through solana-py; counts calls so ticks and benchmarks can report them."""

    def __init__(self, url: str, *, loop: SolanaLoop | None = None, limiter: RateLimiter | None = None,
                 timeout: float = 10.0, retries: int = 3, backoff: float = 0.5,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.url = url
        self.loop = loop or SolanaLoop()
        self._label = telemetry.endpoint_label(url)
        self.limiter = limiter
        self.timeout, self.retries, self.backoff = timeout, retries, backoff
        self._sleep = sleep
        self._client: AsyncClient | None = None
        self._ids = 0
        self._count_lock = threading.Lock()
        self.calls = 0
        self.calls_by_method: dict[str, int] = {}

    # -- raw JSON (the shapes the parser reads) ----------------------------------------------------------------

    def call(self, method: str, *params: Any) -> Any:
        """The JSON `result` of one request; RpcError for a JSON-RPC error, RpcUnavailable for an outage."""
        async def once(client: AsyncClient, request_id: int) -> Any:
            request = JsonRpcRequest(id=request_id, method=method, params=list(params))
            return await client.send_rpc_request(request, Any)
        return self._with_retries(method, once)

    # -- typed with solders ------------------------------------------------------------------------------------

    def accounts(self, addresses: list[str], commitment: Commitment = Confirmed) -> tuple[int, list[Account | None]]:
        """(context slot, accounts) of up to 100 addresses, base64-encoded."""
        async def once(client: AsyncClient, _: int) -> tuple[int, list[Account | None]]:
            resp = await client.get_multiple_accounts([Pubkey.from_string(a) for a in addresses], commitment,
                                                      encoding="base64")
            return resp.context.slot, list(resp.value)
        return self._with_retries("getMultipleAccounts", once)

    def balance(self, address: str) -> int:
        """Lamports of `address` at confirmed commitment."""
        async def once(client: AsyncClient, _: int) -> int:
            return (await client.get_balance(Pubkey.from_string(address), Confirmed)).value
        return self._with_retries("getBalance", once)

    def latest_blockhash(self) -> tuple[str, int]:
        """(blockhash, last valid block height) at confirmed commitment."""
        async def once(client: AsyncClient, _: int) -> tuple[str, int]:
            value = (await client.get_latest_blockhash(Confirmed)).value
            return str(value.blockhash), value.last_valid_block_height
        return self._with_retries("getLatestBlockhash", once)

    def block_height(self) -> int:
        """The confirmed block height."""
        async def once(client: AsyncClient, _: int) -> int:
            return (await client.get_block_height(Confirmed)).value
        return self._with_retries("getBlockHeight", once)

    def signature_statuses(self, signatures: list[str]) -> list[TransactionStatus | None]:
        """Statuses of up to 256 signatures, searching the whole history."""
        async def once(client: AsyncClient, _: int) -> list[TransactionStatus | None]:
            resp = await client.get_signature_statuses([Signature.from_string(s) for s in signatures], True)
            return list(resp.value)
        return self._with_retries("getSignatureStatuses", once)

    # -- plumbing ----------------------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the HTTP session (the loop belongs to the adapter)."""
        if self._client is not None:
            client, self._client = self._client, None
            try:
                self.loop.run(client.close(), timeout=self.timeout)
            except Exception:  # a loop already stopped: nothing left to close
                log.debug("solana client not closed cleanly")

    def _with_retries(self, method: str, once: Callable[[AsyncClient, int], Awaitable[T]]) -> T:
        failure = "no attempt"
        for attempt in range(self.retries + 1):
            if attempt:
                self._sleep(self.backoff * 2 ** (attempt - 1))
            if self.limiter is not None:
                self.limiter.acquire()
            with self._count_lock:
                self._ids += 1
                request_id = self._ids
                self.calls += 1
                self.calls_by_method[method] = self.calls_by_method.get(method, 0) + 1
            try:
                return self.loop.run(self._attempt(once, request_id), timeout=self.timeout * 2 + 5)
            except RpcUnavailable as exc:
                failure = str(exc)
        log.warning("solana rpc unavailable", extra={"method": method, "error": failure})
        raise RpcUnavailable(f"{method}: {failure}")

    async def _attempt(self, once: Callable[[AsyncClient, int], Awaitable[T]], request_id: int) -> T:
        """One request on the loop, counted for /metrics (calls and errors per endpoint)."""
        telemetry.count("rpc_calls_total", chain="solana", endpoint=self._label)
        try:
            return await self._sorted(once, request_id)
        except (RpcError, RpcUnavailable):
            telemetry.count("rpc_errors_total", chain="solana", endpoint=self._label)
            raise

    async def _sorted(self, once: Callable[[AsyncClient, int], Awaitable[T]], request_id: int) -> T:
        """One request on the loop, its failures sorted into refusals (RpcError) and outages (RpcUnavailable)."""
        if self._client is None:
            # Created on the loop, and without solana-py's own transport retry: ours counts and backs off.
            self._client = AsyncClient(self.url, timeout=self.timeout, max_transport_retries=0, http2=False)
        try:
            return await asyncio.wait_for(once(self._client, request_id), self.timeout * 2)
        except SolanaJsonRpcError as exc:
            if exc.code in _TRANSIENT_CODES:
                raise RpcUnavailable(exc.message) from None
            raise RpcError(exc.code, exc.message, exc.data) from None
        except RPCException as exc:
            error = exc.args[0] if exc.args else None
            name = type(error).__name__
            if any(part in name for part in _TRANSIENT_TYPED):
                raise RpcUnavailable(name) from None
            raise RpcError(int(getattr(error, "code", 0) or 0), str(getattr(error, "message", name))) from None
        except SolanaRpcException as exc:  # timeouts, 429 and 5xx (httpx2 errors, wrapped by solana-py)
            cause = exc.__cause__
            raise RpcUnavailable(_describe(cause) if cause is not None else str(exc)) from None
        except (TimeoutError, ValidationError, ValueError, SerdeJSONError) as exc:  # no answer in time, malformed JSON
            raise RpcUnavailable(f"malformed or late answer: {type(exc).__name__}") from None


def _describe(error: BaseException) -> str:
    response = getattr(error, "response", None)
    status = getattr(response, "status_code", None)
    return f"HTTP {status}" if status is not None else type(error).__name__
