"""The invoice writer on PostgreSQL: one statement, so one round trip, in autocommit.

The invoice, its quotes and its event are data-modifying CTEs of a single statement: PostgreSQL runs it
atomically, and the quotes and event select the invoice's id from the invoice insert, so a conflicting
external id (or a key revoked since it was cached) inserts nothing anywhere. Parameters carry explicit
casts because values in a SELECT list are not coerced to the target columns the way VALUES are.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Engine

from gateway_core.adapters.invoice_writers.driver import TABLES, DriverConnections, RowEncoder, discard
from gateway_core.ports import NewInvoiceRows


def _prepare(connection: Any) -> None:
    import psycopg

    connection.autocommit = True  # the statement is its own transaction: no BEGIN or COMMIT round trips
    # PostgreSQL's own $n placeholders: psycopg caches its %s conversion only for statements of at most 50
    # parameters, and converting this one on every request cost more than the rest of the insert.
    connection.cursor_factory = psycopg.RawCursor


class PostgresInvoiceWriter:
    def __init__(self, engine: Engine) -> None:
        self._dialect = engine.dialect
        self._quote = engine.dialect.identifier_preparer.quote
        self._rows = RowEncoder(engine.dialect)
        self._connections = DriverConnections(engine, prepare=_prepare)

    def insert(self, rows: NewInvoiceRows) -> int | None:
        one = self._rows.encode(rows)
        params = [*one.invoice, *(value for quote in one.quotes for value in quote), *one.event]
        return self._execute(self._statement(*one.shape), params)

    def _execute(self, statement: str, params: list[Any]) -> int | None:
        import psycopg

        for _attempt in range(2):
            connection, fresh = self._connections.borrow()
            try:
                found = connection.execute(statement, params).fetchone()
            except psycopg.OperationalError:
                discard(connection)
                # A connection that sat idle may have been closed by the server (a restart, an idle timeout):
                # one more try on a new one. The statement is safe to repeat: a repeat that finds the first
                # one's invoice inserts nothing, and the caller then answers with that invoice.
                if fresh:
                    raise
                continue
            except BaseException:
                discard(connection)
                raise
            self._connections.give_back(connection)
            return None if found is None else int(found[0])
        raise AssertionError("unreachable: the second try uses a fresh connection")

    @functools.lru_cache(maxsize=64)  # noqa: B019 - one writer per app, a handful of column sets
    def _statement(self, invoice: tuple[str, ...], quote: tuple[str, ...], event: tuple[str, ...],
                   quotes: int) -> str:
        q, number = self._quote, itertools.count(1)  # placeholders in the order insert() lays out params
        invoice_params = self._params(TABLES["invoices"], invoice, number)
        key_check = (f"EXISTS (SELECT 1 FROM api_keys WHERE digest = ${next(number)}::text "
                     f"AND kind = ${next(number)}::text "
                     f"AND (expires_at IS NULL OR expires_at > ${next(number)}::timestamptz))")
        quote_rows = ", ".join(f"({self._params(TABLES['quotes'], quote, number)})" for _ in range(quotes))
        event_params = self._params(TABLES["events"], event, number)
        return (
            f"WITH new_invoice AS (INSERT INTO invoices ({', '.join(map(q, invoice))}) "
            f"SELECT {invoice_params} WHERE {key_check} "
            "ON CONFLICT (store_id, kind, external_id) DO NOTHING RETURNING id), "
            f"new_quotes AS (INSERT INTO quotes (invoice_id, {', '.join(map(q, quote))}) "
            f"SELECT new_invoice.id, v.* FROM new_invoice, (VALUES {quote_rows}) AS v), "
            f"new_event AS (INSERT INTO events (invoice_id, {', '.join(map(q, event))}) "
            f"SELECT new_invoice.id, {event_params} FROM new_invoice) "
            "SELECT id FROM new_invoice"
        )

    def _params(self, table: Table, columns: tuple[str, ...], number: Iterator[int]) -> str:
        # Cast to the column's type without its length: an over-long value then fails on assignment, as it
        # would in a plain INSERT, instead of being cut short by the cast.
        return ", ".join(
            f"${next(number)}::{re.sub(r'[(][0-9, ]+[)]', '', table.c[name].type.compile(dialect=self._dialect))}"
            for name in columns)

    def close(self) -> None:
        self._connections.close()
