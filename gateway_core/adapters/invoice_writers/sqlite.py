"""The invoice writer on SQLite: BEGIN IMMEDIATE behind the shared writer gate, group-committed.

Concurrent creates in one process share a transaction (group_commit.py); each invoice is still its own
insert, so a repeated external id leaves that one invoice out and the rest commit.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy.engine import Engine

from gateway_core.adapters import sqlite_writers
from gateway_core.adapters.invoice_writers.driver import TABLES, ColumnEncoder, DriverConnections, discard
from gateway_core.adapters.invoice_writers.group_commit import GroupCommit
from gateway_core.ports import NewInvoiceRows

# The key check rides on the invoice insert, so a key revoked since the web process cached it writes nothing.
KEY_STILL_VALID = ("EXISTS (SELECT 1 FROM api_keys WHERE digest = ? AND kind = ? "
                   "AND (expires_at IS NULL OR expires_at > ?))")


class SqliteInvoiceWriter:
    def __init__(self, engine: Engine) -> None:
        self._quote = engine.dialect.identifier_preparer.quote
        self._encoders = {name: ColumnEncoder(table, engine.dialect) for name, table in TABLES.items()}
        self._connections = DriverConnections(engine, prepare=_rarer_checkpoints)
        # The same gate the engine's writing transactions queue at: one writer at a time across processes.
        self._gate = sqlite_writers.gate_for(engine.url.database)
        self._group: GroupCommit[NewInvoiceRows, int | None] = GroupCommit(
            self._write, lambda rows: self._write([rows])[0])

    def insert(self, rows: NewInvoiceRows) -> int | None:
        return self._group.submit(rows)

    def _write(self, batch: list[NewInvoiceRows]) -> list[int | None]:
        connection, _fresh = self._connections.borrow()
        try:
            self._gate.acquire()
            try:
                connection.execute("BEGIN IMMEDIATE")
                try:
                    ids = [self._insert(connection, rows) for rows in batch]
                    connection.execute("COMMIT")
                except BaseException:
                    if connection.in_transaction:
                        connection.execute("ROLLBACK")
                    raise
            finally:
                self._gate.release()
        except BaseException:
            discard(connection)
            raise
        self._connections.give_back(connection)
        return ids

    def _insert(self, connection: Any, rows: NewInvoiceRows) -> int | None:
        invoice_columns, quote_columns, event_columns = tuple(rows.invoice), tuple(rows.quotes[0]), tuple(rows.event)
        statements = self._statements(invoice_columns, quote_columns, event_columns)
        encode = self._encoders
        now = encode["events"].values({"created_at": rows.now}, ("created_at",))[0]  # stored as expires_at is
        found = connection.execute(statements[0], [*encode["invoices"].values(rows.invoice, invoice_columns),
                                                   rows.key_digest, rows.key_kind, now]).fetchall()
        if not found:
            return None
        invoice_id = int(found[0][0])
        connection.executemany(statements[1], [[invoice_id, *encode["quotes"].values(quote, quote_columns)]
                                               for quote in rows.quotes])
        connection.execute(statements[2], [invoice_id, *encode["events"].values(rows.event, event_columns)])
        return invoice_id

    @functools.lru_cache(maxsize=64)  # noqa: B019 - one writer per app, a handful of column sets
    def _statements(self, invoice: tuple[str, ...], quote: tuple[str, ...], event: tuple[str, ...]) -> tuple[str, ...]:
        q = self._quote
        return (
            f"INSERT INTO invoices ({', '.join(map(q, invoice))}) SELECT {', '.join('?' * len(invoice))} "
            f"WHERE {KEY_STILL_VALID} ON CONFLICT (store_id, kind, external_id) DO NOTHING RETURNING id",
            f"INSERT INTO quotes (invoice_id, {', '.join(map(q, quote))}) VALUES ({', '.join('?' * (len(quote) + 1))})",
            f"INSERT INTO events (invoice_id, {', '.join(map(q, event))}) VALUES ({', '.join('?' * (len(event) + 1))})",
        )

    def close(self) -> None:
        self._connections.close()


def _rarer_checkpoints(connection: Any) -> None:
    # SQLite copies the WAL back into the database inside the commit that takes the WAL past this many pages,
    # while this writer still holds the gate and every other writer waits. The default (1000 pages, about
    # 4 MB) meant one stall every few dozen batches; at 10,000 each hot index page is copied once for ten
    # times as many commits, and the WAL stays under about 40 MB. Measured with bench/create_invoice.py.
    connection.execute("PRAGMA wal_autocheckpoint=10000")
