"""When each API key was last used, without a write on every request.

A request that passes a key check only marks the key in this process's memory (a set add under a lock).
The marks are written in one UPDATE per column at most once a minute (`flush`, which the web layer runs after
a response has been sent, and the worker could run too). So "last used" is exact to about a minute, the
request path never waits on the database for it, and a key used a thousand times a minute costs one write.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy import update

from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.models import ApiKey
from gateway_core.ports import Clock

log = logging.getLogger(__name__)
EVERY_SECONDS = 60.0


class KeyUsage:
    def __init__(self, every: float = EVERY_SECONDS, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.every = every
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._digests: set[str] = set()
        self._public_ids: set[str] = set()
        self._last_flush = monotonic()

    def seen(self, digest: str) -> None:
        """A key (by lookup digest) passed a check."""
        with self._lock:
            self._digests.add(digest)

    def seen_public_id(self, public_id: str) -> None:
        """A key known by its public id (VeltPay's key_id) passed a check."""
        with self._lock:
            self._public_ids.add(public_id)

    def due(self) -> bool:
        """Whether marks are waiting and the last write is a minute old (cheap: the request path asks this)."""
        return bool(self._digests or self._public_ids) and self._monotonic() - self._last_flush >= self.every

    def flush(self, uow: Callable[..., UnitOfWork], clock: Clock) -> int:
        """Write the marks gathered since the last flush (one statement per kind of id); how many keys."""
        with self._lock:
            digests, public_ids = self._digests, self._public_ids
            self._digests, self._public_ids = set(), set()
            self._last_flush = self._monotonic()
        if not digests and not public_ids:
            return 0
        now = clock.now()
        try:
            with uow() as work:
                if digests:
                    work.session.execute(update(ApiKey).where(ApiKey.digest.in_(sorted(digests)))
                                         .values(last_used_at=now))
                if public_ids:
                    work.session.execute(update(ApiKey).where(ApiKey.public_id.in_(sorted(public_ids)))
                                         .values(last_used_at=now))
        except Exception:  # a bookkeeping write: never worth failing anything for; the next use marks it again
            log.warning("could not record API key use", exc_info=True)
            return 0
        return len(digests) + len(public_ids)


# One per process: every key check in this process marks it.
KEY_USAGE = KeyUsage()
