"""RPC calls per tick with 1 worker and with 3 (issue 23): each worker a Services of its own with its own job
locks, on one database; every worker ticks once, and the calls of all of them are added up.

On PostgreSQL (--database-url or TEST_DATABASE_URL; a schema of its own per run) one worker holds each chain
watcher's advisory lock and the others stand by, so 3 workers cost what 1 does. On SQLite there are no locks
(one worker by design) and the figure shows what running several would cost.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bridge.migrate import upgrade
from gateway_core.adapters.db import normalise_url
from gateway_core.adapters.job_locks import JobLocks
from gateway_core.bootstrap import Services
from gateway_core.config import Settings
from gateway_core.worker import watch_chains


def database(folder: Path, url: str | None) -> tuple[str, Callable[[], None]]:
    """A fresh database: a PostgreSQL schema of its own when a URL is given, else a SQLite file."""
    url = url or os.environ.get("TEST_DATABASE_URL")
    if not url:
        path = folder / f"scaling-{secrets.token_hex(3)}.db"
        return f"sqlite:///{path}", lambda: None
    schema = f"vb_bench_{secrets.token_hex(3)}"
    admin = sa.create_engine(normalise_url(url))
    with admin.begin() as connection:
        connection.execute(sa.text(f"CREATE SCHEMA {schema}"))

    def drop() -> None:
        with admin.begin() as connection:
            connection.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()

    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}", drop


def calls_per_tick(workers: int, folder: Path, url: str | None, settings: dict[str, Any],
                   build: Callable[[Settings], Services], seed: Callable[[Services], None],
                   calls: Callable[[Services], int]) -> int:
    """The RPC calls `workers` workers make in one tick each over the same open invoices."""
    database_url, drop = database(folder, url)
    fleet: list[tuple[Services, JobLocks]] = []
    try:
        upgrade(database_url)
        config = Settings.from_env({}, instance_path=str(folder), database_url=database_url, secret_key="bench",
                                   **{"rate_sources": ("fixed",), **settings})  # no live rate source
        fleet = [(build(config), JobLocks(database_url)) for _ in range(workers)]
        seed(fleet[0][0])
        for services, locks in fleet:
            watch_chains(services, locks)
        return sum(calls(services) for services, _ in fleet)
    finally:
        for services, locks in fleet:
            locks.close()
            if services.engine is not None:
                services.engine.dispose()
        drop()
