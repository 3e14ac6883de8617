"""Where fetched rates are kept: in the process, or in Redis so every web process shares one fetch per period.

Each also keeps the pairs asked for lately (the worker refreshes those) and a per-pair fetch lock, so one
caller fetches while the others wait for its result.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from gateway_core.ports import RateQuote

Pair = tuple[str, str]


class RateCache(Protocol):
    def get(self, pair: Pair) -> RateQuote | None: ...

    def put(self, pair: Pair, quote: RateQuote) -> None: ...

    def want(self, pair: Pair, at: datetime) -> None:
        """Note that `pair` was asked for at `at` (the worker keeps wanted pairs fresh)."""
        ...

    def wanted(self, since: datetime) -> set[Pair]: ...

    def fetching(self, pair: Pair, timeout: float) -> Any:
        """A context manager: True when this caller holds the pair's fetch lock, False if another holds it."""
        ...


class ProcessCache:
    """The rates of this process alone (no REDIS_URL)."""

    def __init__(self) -> None:
        self._quotes: dict[Pair, RateQuote] = {}
        self._wanted: dict[Pair, datetime] = {}
        self._locks: dict[Pair, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, pair: Pair) -> RateQuote | None:
        return self._quotes.get(pair)

    def put(self, pair: Pair, quote: RateQuote) -> None:
        self._quotes[pair] = quote

    def want(self, pair: Pair, at: datetime) -> None:
        self._wanted[pair] = at

    def wanted(self, since: datetime) -> set[Pair]:
        return {pair for pair, at in list(self._wanted.items()) if at >= since}

    @contextmanager
    def fetching(self, pair: Pair, timeout: float) -> Iterator[bool]:
        with self._guard:
            lock = self._locks.setdefault(pair, threading.Lock())
        # A thread that waits here finds the holder's fresh rate in the cache once it gets the lock.
        held = lock.acquire(timeout=timeout)
        try:
            yield held
        finally:
            if held:
                lock.release()


def encode(quote: RateQuote) -> str:
    return json.dumps({"rate": str(quote.rate), "sources": list(quote.sources), "at": quote.at.isoformat()})


def decode(text: str | bytes) -> RateQuote:
    data = json.loads(text)
    return RateQuote(Decimal(data["rate"]), tuple(data["sources"]), datetime.fromisoformat(data["at"]))


class RedisCache:
    """Rates shared by every process on one Redis (REDIS_URL); the fetch lock is a SET NX with an expiry."""

    def __init__(self, client: Any, prefix: str = "voltbridge:rates:", keep_seconds: int = 3600) -> None:
        self._redis = client
        self._prefix = prefix
        self._keep = keep_seconds

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisCache:
        import redis

        return cls(redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0), **kwargs)

    def _key(self, kind: str, pair: Pair) -> str:
        return f"{self._prefix}{kind}:{pair[0]}:{pair[1]}"

    def get(self, pair: Pair) -> RateQuote | None:
        text = self._redis.get(self._key("quote", pair))
        return decode(text) if text else None

    def put(self, pair: Pair, quote: RateQuote) -> None:
        self._redis.set(self._key("quote", pair), encode(quote), ex=self._keep)

    def want(self, pair: Pair, at: datetime) -> None:
        self._redis.zadd(f"{self._prefix}wanted", {f"{pair[0]}:{pair[1]}": at.timestamp()})

    def wanted(self, since: datetime) -> set[Pair]:
        members = self._redis.zrangebyscore(f"{self._prefix}wanted", since.timestamp(), "+inf")
        out: set[Pair] = set()
        for member in members:
            asset, _, currency = (member.decode() if isinstance(member, bytes) else member).partition(":")
            out.add((asset, currency))
        return out

    @contextmanager
    def fetching(self, pair: Pair, timeout: float) -> Iterator[bool]:
        key, token = self._key("lock", pair), secrets.token_hex(8)
        # Expires by itself, so a process that dies mid-fetch never blocks the pair for longer than a fetch.
        held = bool(self._redis.set(key, token, nx=True, px=int(timeout * 1000) + 1000))
        try:
            yield held
        finally:
            if held and self._redis.get(key) in (token, token.encode()):
                self._redis.delete(key)
