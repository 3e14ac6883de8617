"""What both invoice writers share: driver connections of their own, and values encoded as the models would.

Values pass through each column type's own bind processing (UtcDateTime, DecimalText, ExactJSON, and the
dialect's DateTime on SQLite), so a row written here is byte for byte the row the ORM would write.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy import Table
from sqlalchemy.engine import Dialect, Engine

from gateway_core.adapters.models import Event, Invoice, Quote
from gateway_core.ports import NewInvoiceRows

TABLES: dict[str, Table] = {
    "invoices": Invoice.__table__,  # type: ignore[dict-item]
    "quotes": Quote.__table__,  # type: ignore[dict-item]
    "events": Event.__table__,  # type: ignore[dict-item]
}


class ColumnEncoder:
    """Python values to driver values, column by column, with the processors SQLAlchemy itself would use."""

    def __init__(self, table: Table, dialect: Dialect) -> None:
        self._processors: dict[str, Callable[[Any], Any] | None] = {
            column.name: column.type.dialect_impl(dialect).bind_processor(dialect) for column in table.columns
        }

    def values(self, row: Mapping[str, Any], columns: Sequence[str]) -> list[Any]:
        out = []
        for name in columns:
            value, process = row[name], self._processors[name]
            out.append(value if process is None or value is None else process(value))
        return out


Shape = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], int]  # invoice, quote, event columns; quotes


class Encoded(NamedTuple):
    """One new invoice as driver values: the invoice row followed by the key check's digest, kind and time,
    its quote rows and its event row (without invoice_id, which the writer takes from the invoice insert)."""

    shape: Shape
    number: str
    invoice: list[Any]
    quotes: list[list[Any]]
    event: list[Any]


class RowEncoder:
    def __init__(self, dialect: Dialect) -> None:
        self._tables = {name: ColumnEncoder(table, dialect) for name, table in TABLES.items()}

    def encode(self, rows: NewInvoiceRows) -> Encoded:
        invoice_columns, quote_columns, event_columns = tuple(rows.invoice), tuple(rows.quotes[0]), tuple(rows.event)
        tables = self._tables
        now = tables["events"].values({"created_at": rows.now}, ("created_at",))[0]  # stored as expires_at is
        return Encoded(
            (invoice_columns, quote_columns, event_columns, len(rows.quotes)), rows.invoice["number"],
            [*tables["invoices"].values(rows.invoice, invoice_columns), rows.key_digest, rows.key_kind, now],
            [tables["quotes"].values(quote, quote_columns) for quote in rows.quotes],
            tables["events"].values(rows.event, event_columns),
        )


class DriverConnections:
    """The engine's driver connections, held apart from its pool and lent out one per insert.

    Taken from the pool once (so the engine's connect hooks, SQLite's pragmas among them, have run) and then
    detached: borrowing one is a deque pop, with no checkout events and no ping. Idle ones are kept up to
    `max_idle`; a forked child starts with none of its parent's.
    """

    def __init__(self, engine: Engine, prepare: Callable[[Any], None] = lambda _conn: None, max_idle: int = 16):
        self._engine = engine
        self._prepare = prepare
        self._max_idle = max_idle
        self._idle: deque[Any] = deque()
        self._pid = os.getpid()
        self._lock = threading.Lock()

    def borrow(self) -> tuple[Any, bool]:
        """A connection, and whether it is fresh (a reused one may have been closed by the server meanwhile)."""
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    self._idle, self._pid = deque(), os.getpid()  # the parent's sockets are not ours to use
        try:
            return self._idle.pop(), False
        except IndexError:
            proxied = self._engine.raw_connection()
            connection = proxied.dbapi_connection
            proxied.detach()
            self._prepare(connection)
            return connection, True

    def give_back(self, connection: Any) -> None:
        if len(self._idle) < self._max_idle and self._pid == os.getpid():
            self._idle.append(connection)
        else:
            discard(connection)

    def close(self) -> None:
        while self._idle:
            discard(self._idle.pop())


def discard(connection: Any) -> None:
    try:
        connection.close()
    except Exception:  # noqa: S110 - a connection already broken has nothing left to close
        pass
