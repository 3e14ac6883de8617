"""The invoice writer on SQLite: BEGIN IMMEDIATE behind the shared writer gate, group-committed.

Concurrent creates in one process share a transaction (group_commit.py) and its statements: one insert per
table for the whole batch, with ON CONFLICT DO NOTHING, so a repeated external id leaves that one invoice
out and the rest commit.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy.engine import Engine

from gateway_core.adapters import sqlite_writers
from gateway_core.adapters.invoice_writers.driver import DriverConnections, Encoded, RowEncoder, Shape, discard
from gateway_core.adapters.invoice_writers.group_commit import GroupCommit
from gateway_core.ports import NewInvoiceRows

# The key check rides on the invoice insert, so a key revoked since the web process cached it writes nothing.
KEY_STILL_VALID = ("EXISTS (SELECT 1 FROM api_keys WHERE digest = {digest} AND kind = {kind} "
                   "AND (expires_at IS NULL OR expires_at > {now}))")


class SqliteInvoiceWriter:
    def __init__(self, engine: Engine) -> None:
        self._quote = engine.dialect.identifier_preparer.quote
        self._rows = RowEncoder(engine.dialect)
        self._connections = DriverConnections(engine, prepare=_rarer_checkpoints)
        # The same gate the engine's writing transactions queue at: one writer at a time across processes.
        self._gate = sqlite_writers.gate_for(engine.url.database)
        self._group: GroupCommit[Encoded, int | None] = GroupCommit(
            self._write, lambda one: self._write([one])[0], turn=self._gate.held)

    def insert(self, rows: NewInvoiceRows) -> int | None:
        # Encoded by the request's own thread before it queues: the writer's turn holds the gate, and while
        # one process holds it every writer in both processes waits.
        return self._group.submit(self._rows.encode(rows))

    def _write(self, batch: list[Encoded]) -> list[int | None]:
        shapes: dict[Shape, list[tuple[int, Encoded]]] = {}
        for position, one in enumerate(batch):
            shapes.setdefault(one.shape, []).append((position, one))
        plans = [(shape, self._invoices_statement(shape[0], len(group)), group) for shape, group in shapes.items()]
        ids: list[int | None] = [None] * len(batch)
        connection, _fresh = self._connections.borrow()
        try:  # the group commit holds the gate around this
            connection.execute("BEGIN IMMEDIATE")
            try:
                for shape, statement, group in plans:
                    self._insert(connection, shape, statement, group, ids)
                connection.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise
        except BaseException:
            discard(connection)
            raise
        self._connections.give_back(connection)
        return ids

    def _insert(self, connection: Any, shape: Shape, statement: str, group: list[tuple[int, Encoded]],
                ids: list[int | None]) -> None:
        """A group of invoices of one shape in three statements: the invoices, then the quotes and the events of
        those that went in (a repeated external id or a revoked key leaves its invoice out, and only it)."""
        found = dict(connection.execute(statement, [v for _, one in group for v in one.invoice]).fetchall())
        written = []
        for position, one in group:
            if one.number in found:
                ids[position] = int(found[one.number])
                written.append(one)
        if not written:
            return
        _invoice, quote_columns, event_columns, quotes_each = shape
        connection.execute(self._values_statement("quotes", quote_columns, len(written) * quotes_each),
                           [v for one in written for quote in one.quotes for v in (found[one.number], *quote)])
        connection.execute(self._values_statement("events", event_columns, len(written)),
                           [v for one in written for v in (found[one.number], *one.event)])

    @functools.lru_cache(maxsize=128)  # noqa: B019 - one writer per app, a handful of shapes and batch sizes
    def _invoices_statement(self, columns: tuple[str, ...], rows: int) -> str:
        values = ", ".join([f"({', '.join('?' * (len(columns) + 3))})"] * rows)
        # SQLite names the columns of a VALUES list column1, column2, ...; the key's three follow the row's.
        digest, kind, now = (f"column{len(columns) + n}" for n in (1, 2, 3))
        return (f"INSERT INTO invoices ({', '.join(map(self._quote, columns))}) "
                f"SELECT {', '.join(f'column{n + 1}' for n in range(len(columns)))} FROM (VALUES {values}) "
                f"WHERE {KEY_STILL_VALID.format(digest=digest, kind=kind, now=now)} "
                "ON CONFLICT (store_id, kind, external_id) DO NOTHING RETURNING number, id")

    @functools.lru_cache(maxsize=256)  # noqa: B019 - as above
    def _values_statement(self, table: str, columns: tuple[str, ...], rows: int) -> str:
        row = f"({', '.join('?' * (len(columns) + 1))})"
        return (f"INSERT INTO {table} (invoice_id, {', '.join(map(self._quote, columns))}) "
                f"VALUES {', '.join([row] * rows)}")

    def close(self) -> None:
        self._connections.close()


def _rarer_checkpoints(connection: Any) -> None:
    # SQLite copies the WAL back into the database inside the commit that takes the WAL past this many pages,
    # while this writer still holds the gate and every other writer waits. The default (1000 pages, about
    # 4 MB) meant one stall every few dozen batches; at 10,000 each hot index page is copied once for ten
    # times as many commits, and the WAL stays under about 40 MB. Measured with bench/create_invoice.py.
    connection.execute("PRAGMA wal_autocheckpoint=10000")
