"""Which worker runs each scheduled job family (issue 23): on PostgreSQL, the one holding the family's
session-level advisory lock on a connection of its own; every other worker stands by and tries again each tick.

The server releases a session lock the moment its connection ends, so when the holder dies (kill -9) or loses
its connection, a standby's next try takes the family over: within one tick of the holder's end. A holder
checks its connection before each job, so it notices a lost lock at its next tick and stands by in turn.
On SQLite there is one worker (embedded in `voltbridge run`, or `voltbridge worker` beside it on one host,
which then shares the file's write lock): every family runs, as before.
"""

from __future__ import annotations

import hashlib
import logging
import threading

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from gateway_core.adapters.db import configure_engine, normalise_url

log = logging.getLogger(__name__)


class JobLocks:
    """Advisory locks of job families, held on one dedicated PostgreSQL connection; a no-op elsewhere."""

    def __init__(self, database_url: str, enabled: bool = True) -> None:
        url = normalise_url(database_url)
        self.enabled = enabled and url.startswith("postgresql")
        self._engine = configure_engine(create_engine(url, poolclass=NullPool)) if self.enabled else None
        self._connection: Connection | None = None
        self._namespace = ""
        self._held: set[str] = set()
        self._lock = threading.Lock()

    def holds(self, family: str) -> bool:
        """True when this worker runs `family` now: it held the lock already or has just taken it."""
        if not self.enabled:
            return True
        with self._lock:
            try:
                connection = self._alive()
                if family in self._held:
                    return True
                taken = bool(connection.execute(text("SELECT pg_try_advisory_lock(:key)"),
                                                {"key": self._key(family)}).scalar())
            except DBAPIError as exc:
                log.warning("job lock connection lost; standing by", extra={"error": type(exc).__name__})
                self._drop()
                return False
            if taken:
                self._held.add(family)
                log.info("job family taken", extra={"family": family})
            return taken

    def held(self) -> frozenset[str]:
        """The families this worker holds (as of its last check)."""
        return frozenset(self._held)

    def backend_pid(self) -> int | None:
        """The server process of the lock connection (operators: pg_terminate_backend hands the families over)."""
        if not self.enabled or self._connection is None:
            return None
        return int(self._connection.execute(text("SELECT pg_backend_pid()")).scalar_one())

    def close(self) -> None:
        """Release every family (closing the connection ends the session and its locks)."""
        with self._lock:
            self._drop()
        if self._engine is not None:
            self._engine.dispose()

    def _alive(self) -> Connection:
        if self._connection is not None:
            try:
                self._connection.execute(text("SELECT 1"))
                return self._connection
            except DBAPIError:
                # The session is gone, and its locks with it: whatever we held may be another worker's now.
                log.warning("job lock connection lost; families released", extra={"families": sorted(self._held)})
                self._drop()
        assert self._engine is not None
        connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        # Scoped to this database and schema, so deployments (and test runs) sharing a server never collide.
        self._namespace = str(connection.execute(text("SELECT current_database() || '/' || current_schema()"))
                              .scalar_one())
        self._connection = connection
        return connection

    def _drop(self) -> None:
        self._held.clear()
        if self._connection is not None:
            try:
                self._connection.invalidate()
                self._connection.close()
            except DBAPIError:
                pass
            self._connection = None

    def _key(self, family: str) -> int:
        digest = hashlib.blake2b(f"voltbridge:{self._namespace}:{family}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big", signed=True)
