"""SQLite as the engine configures it (WAL, a busy timeout, BEGIN IMMEDIATE for writing transactions):
concurrent read-then-write transactions from several threads and processes all commit, each seeing the
last one's write, and a read never waits for a writer."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import text

from gateway_core.adapters.db import UnitOfWork, make_engine, session_factory

ROUNDS = 40


def _engine(path: Path) -> Any:
    return make_engine(f"sqlite:///{path}")


def _write(path: str, tag: str) -> None:
    engine = _engine(Path(path))
    sessions = session_factory(engine)
    try:
        for n in range(ROUNDS):
            with UnitOfWork(sessions) as uow:
                # Read, then write from what was read: only serialised writers get every increment right.
                value = uow.session.execute(text("SELECT value FROM counter")).scalar_one()
                uow.session.execute(text("UPDATE counter SET value = :v"), {"v": value + 1})
                uow.session.execute(text("INSERT INTO log (tag) VALUES (:t)"), {"t": f"{tag}-{n}"})
    finally:
        engine.dispose()


def test_writers_in_threads_and_processes_take_turns(tmp_path: Path) -> None:
    path = tmp_path / "gate.db"
    engine = _engine(path)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE counter (value INTEGER NOT NULL)"))
        connection.execute(text("INSERT INTO counter VALUES (0)"))
        connection.execute(text("CREATE TABLE log (tag TEXT NOT NULL)"))
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_write, args=(str(path), f"p{i}")) for i in range(2)]
    threads = [threading.Thread(target=_write, args=(str(path), f"t{i}")) for i in range(4)]
    for worker in [*processes, *threads]:
        worker.start()
    for thread in threads:
        thread.join(timeout=120)
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0
    with engine.connect() as connection:
        assert connection.execute(text("SELECT value FROM counter")).scalar_one() == 6 * ROUNDS
        assert connection.execute(text("SELECT count(*) FROM log")).scalar_one() == 6 * ROUNDS
    engine.dispose()


def test_a_read_only_unit_of_work_does_not_wait_for_a_writer(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "gate.db")
    sessions = session_factory(engine)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (v INTEGER)"))
        connection.execute(text("INSERT INTO t VALUES (1)"))
    writing, done = threading.Event(), threading.Event()

    def writer() -> None:
        with UnitOfWork(sessions) as uow:
            uow.session.execute(text("UPDATE t SET v = 2"))
            writing.set()
            done.wait(timeout=30)  # holds the write lock until the reader has read

    thread = threading.Thread(target=writer)
    thread.start()
    assert writing.wait(timeout=30)
    with UnitOfWork(sessions, read_only=True) as uow:  # would block (and time out) behind the gate
        assert uow.session.execute(text("SELECT v FROM t")).scalar_one() == 1  # the committed snapshot
    done.set()
    thread.join(timeout=30)
    with UnitOfWork(sessions, read_only=True) as uow:
        assert uow.session.execute(text("SELECT v FROM t")).scalar_one() == 2
    engine.dispose()
