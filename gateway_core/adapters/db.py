"""Engines and units of work for both backends: SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)
T = TypeVar("T")


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain postgres URLs (postgres:// and postgresql://)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def engine_options(url: str) -> dict[str, Any]:
    """Options for create_engine (also handed to Flask-SQLAlchemy)."""
    if url.startswith("sqlite"):
        # Autocommit at the driver level so the 'begin' hook below controls transactions itself.
        return {"connect_args": {"check_same_thread": False, "timeout": 30, "isolation_level": None}}
    return {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 10}


def create_private_database(url: str | URL) -> None:
    """Create a SQLite database file readable by its owner only (0600), before SQLite creates it with the umask's
    mode: it holds webhook secrets and customers' emails. SQLite gives its -wal and -shm files the database
    file's mode. Other URLs, and files that exist already, are left alone."""
    parsed = make_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:") or database.startswith("file:"):
        return
    path = Path(database)
    if not path.exists() and path.parent.is_dir():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


_ROLE = ["voltbridge"]


def set_process_role(role: str) -> None:
    """Name this process's PostgreSQL sessions `voltbridge-<role>:<pid>` (web, worker, run)."""
    _ROLE[0] = f"voltbridge-{role}"


def application_name() -> str:
    """This process's PostgreSQL application_name, read at each connect (a forked web worker has its own pid).

    An operator finds (or cuts, pg_terminate_backend) one process's sessions in pg_stat_activity by it.
    """
    return f"{_ROLE[0]}:{os.getpid()}"[:63]


def name_sessions(params: dict[str, Any]) -> None:
    """Set application_name in psycopg connect parameters unless the URL or PGAPPNAME names them already."""
    if "application_name" not in params and not os.environ.get("PGAPPNAME"):
        params["application_name"] = application_name()


def configure_engine(engine: Engine) -> Engine:
    """SQLite: WAL, a busy timeout and BEGIN IMMEDIATE, because web threads and the worker write one file.
    PostgreSQL: sessions named after the process (application_name)."""
    if engine.dialect.name == "postgresql":
        event.listen(engine, "do_connect", lambda _dialect, _record, _args, params: name_sessions(params))
        return engine
    if engine.dialect.name != "sqlite":
        return engine
    create_private_database(engine.url)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    # Take the write lock up front (a read-then-write transaction can otherwise fail on upgrade); it is what
    # serialises competing watchers on SQLite (PostgreSQL uses FOR UPDATE). Threads of this process first take
    # turns at a lock, which hands the turn on the moment the writer before commits: in SQLite's busy handler
    # they would sleep in growing steps and wake only to retry, and under a web server's threads that made tail
    # latency seconds long. Other processes meet at SQLite's own lock, within the busy timeout above.
    turn = _turn_for(engine.url.database)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")  # a WAL snapshot: never waits for writers, never blocks them
            return
        if not turn.acquire(timeout=30):
            raise TimeoutError("no turn to write the database within 30 s")
        connection.info[_TURN] = True
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _end(connection, commit=False)
            raise

    def _end(connection: Any, commit: bool) -> None:
        if not connection.info.pop(_TURN, False):
            return
        try:  # end the transaction here, so the next writer's turn starts only after it (SQLAlchemy's own
            # commit or rollback, right after this event, then finds nothing to do)
            dbapi = connection.connection.dbapi_connection
            if commit:
                dbapi.commit()
            else:
                dbapi.rollback()
        finally:
            turn.release()

    event.listen(engine, "commit", lambda connection: _end(connection, True))
    event.listen(engine, "rollback", lambda connection: _end(connection, False))

    @event.listens_for(engine.pool, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        # A connection handed back without its transaction ending through the engine (invalidated, say).
        if record is not None and record.info.pop(_TURN, False):
            turn.release()

    return engine


_TURN = "voltbridge_write_turn"


class Turn:
    """A lock handed to its waiters in arrival order. A plain lock is not: a thread that releases it and at
    once asks again (a job writing one invoice per transaction) usually wins it back before the woken waiter
    runs, and a payment pushed in meanwhile waited out the whole loop (seconds, in bench/solana_latency.py)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._held = False
        self._waiters: deque[threading.Event] = deque()

    def acquire(self, timeout: float = -1) -> bool:
        with self._guard:
            if not self._held and not self._waiters:
                self._held = True
                return True
            waiter = threading.Event()
            self._waiters.append(waiter)
        if waiter.wait(None if timeout < 0 else timeout):
            return True
        with self._guard:
            if waiter.is_set():  # handed over just as the wait timed out: ours after all
                return True
            self._waiters.remove(waiter)
            return False

    def release(self) -> None:
        with self._guard:
            if self._waiters:
                self._waiters.popleft().set()  # handed straight over: it stays held
            else:
                self._held = False


_TURNS: dict[str, Turn] = {}
_TURNS_LOCK = threading.Lock()


def _turn_for(path: str | None) -> Turn:
    """One turn per database file in a process, whichever engines open it (the app's and the worker's)."""
    key = os.path.abspath(path) if path and path != ":memory:" else f"memory:{id(path)}"
    with _TURNS_LOCK:
        return _TURNS.setdefault(key, Turn())


def connection_lost(exc: BaseException) -> bool:
    """True when the database session ended under a statement (terminated, restarted, a network cut): the
    connection's fault, not the work's. The pool has discarded that connection already."""
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def again_if_connection_lost(work: Callable[..., T], *args: Any) -> T:
    """Run one unit of work (a whole transaction); if its connection was lost, run it once more at once, on a
    fresh connection (pool_pre_ping weeds out the pool's other dead ones). A second failure is the caller's."""
    try:
        return work(*args)
    except DBAPIError as exc:
        if not connection_lost(exc):
            raise
        log.warning("database connection lost; trying the work again on a fresh one",
                    extra={"error": type(exc.orig).__name__})
    return work(*args)


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    return configure_engine(create_engine(url, **engine_options(url)))


READ_ONLY = "voltbridge_read_only"


class UnitOfWork:
    """One transaction: commit on success, roll back on error. Services take one of these.

    read_only: the caller promises not to write. On SQLite the transaction then starts deferred instead of
    taking the write lock up front, so reads (authenticating a request, say) never queue behind writers.
    """

    def __init__(self, session_factory: Callable[[], Session], read_only: bool = False) -> None:
        self._factory = session_factory
        self.read_only = read_only
        self.session: Session

    def __enter__(self) -> UnitOfWork:
        self.session = self._factory()
        if self.read_only and self.session.get_bind().dialect.name == "sqlite":
            self.session.connection(execution_options={READ_ONLY: True})
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if exc_type is None:
                self.session.commit()
            else:
                self.session.rollback()
        finally:
            self.session.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
