"""One SQLite writer at a time, queued by the operating system instead of SQLite's sleep-and-retry.

SQLite lets one transaction write at a time; a second BEGIN IMMEDIATE waits in SQLite's busy handler, which
sleeps in growing steps (up to 100 ms) and wakes only to try again. With a web server's threads in two
processes plus the worker all writing, those sleeps made tail latency seconds long. Writers instead queue on
a process lock and an flock on a file beside the database: a waiter is woken the moment the writer before it
commits, and SQLite's busy handler is left for anything outside this gate (a sqlite3 shell, say).
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

HELD = "voltbridge_writer_gate"
WAIT_SECONDS = 30.0  # as SQLite's busy timeout: a writer that waits longer fails instead of hanging forever


class WriterGate:
    """Per database file and process: a thread lock, then an exclusive flock shared with other processes."""

    def __init__(self, path: str | None) -> None:
        self.path = f"{path}-writers.lock" if path else None
        self._threads = threading.Lock()
        self._fd: int | None = None
        self._pid = os.getpid()

    def acquire(self) -> None:
        if not self._threads.acquire(timeout=WAIT_SECONDS):
            raise TimeoutError(f"no turn to write the database within {WAIT_SECONDS:g} s")
        try:
            if self.path is not None:
                fcntl.flock(self._file(), fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise

    def release(self) -> None:
        try:
            if self.path is not None and self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    @contextmanager
    def held(self) -> Iterator[None]:
        self.acquire()
        try:
            yield
        finally:
            self.release()

    def _file(self) -> int:
        if self._fd is None or self._pid != os.getpid():  # a forked child opens its own (flock is per open file)
            assert self.path is not None
            self._fd, self._pid = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600), os.getpid()
        return self._fd


_GATES: dict[str, WriterGate] = {}
_GATES_LOCK = threading.Lock()


def gate_for(path: str | None) -> WriterGate:
    """One gate per file in a process, whichever engines open it (the app's and the worker's share it)."""
    key = os.path.abspath(path) if path and path != ":memory:" else f"memory:{id(path)}"
    with _GATES_LOCK:
        if key not in _GATES:
            _GATES[key] = WriterGate(os.path.abspath(path) if path and path != ":memory:" else None)
        return _GATES[key]


def install(engine: Engine, read_only_option: str) -> None:
    """BEGIN IMMEDIATE behind the gate for writing transactions; COMMIT/ROLLBACK, then the gate opens."""
    gate = gate_for(engine.url.database)

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        if connection.get_execution_options().get(read_only_option):
            connection.exec_driver_sql("BEGIN")  # a WAL snapshot: never waits for writers, never blocks them
            return
        gate.acquire()
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            gate.release()
            raise
        connection.info[HELD] = True

    def _finish(connection: Any, commit: bool) -> None:
        if not connection.info.pop(HELD, False):
            return
        try:
            # End the transaction here so the gate opens only after it (the event fires before the driver's
            # own commit or rollback, which then finds nothing to do).
            dbapi = connection.connection.dbapi_connection
            if commit:
                dbapi.commit()
            else:
                dbapi.rollback()
        finally:
            gate.release()

    event.listen(engine, "commit", lambda connection: _finish(connection, True))
    event.listen(engine, "rollback", lambda connection: _finish(connection, False))

    @event.listens_for(engine.pool, "checkin")
    def _checkin(_dbapi_connection: Any, record: Any) -> None:
        # A connection returned without its transaction ending through the engine (invalidated, say).
        if record is not None and record.info.pop(HELD, False):
            gate.release()
