"""Engines and units of work for both backends: SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.orm import Session, sessionmaker


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


def configure_engine(engine: Engine) -> Engine:
    """SQLite: WAL, a busy timeout and BEGIN IMMEDIATE, because web threads and the worker write one file."""
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
    # serialises competing watchers on SQLite (PostgreSQL uses FOR UPDATE). A writer that finds the lock
    # taken waits in SQLite's busy handler, up to the busy timeout above.
    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        read_only = connection.get_execution_options().get(READ_ONLY)
        # A read-only transaction is a WAL snapshot: it never waits for writers and never blocks them.
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


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
