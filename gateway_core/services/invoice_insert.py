"""The lean write of a new invoice: Core INSERTs instead of ORM unit-of-work flushes.

Creating an invoice is the hot path of every checkout. The ORM path (a savepoint, two flushes, a look-up
before the insert) cost most of a create's time; here the invoice, its quotes and its invoice.created event
are three statements, and an identical retry is caught by the unique (store, kind, external_id) constraint
with ON CONFLICT DO NOTHING instead of a query before every insert. Stores whose quotes need an allocator
(Solana deposit keys, TRON xpub addresses) keep the ORM path, because allocation flushes to number its keys.

The objects stay transient (never added to the session) and are brought in line with the rows written, so
the same InvoiceView and outbox code serve both paths.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gateway_core.adapters.models import Event, Invoice, Quote
from gateway_core.services.assess import event_fields
from gateway_core.services.outbox import enqueue_for_event


def insert_new_invoice(session: Session, invoice: Invoice, now: datetime) -> bool:
    """Write the invoice, its quotes and its invoice.created event (and any deliveries that event causes).

    Returns False, writing nothing, when the store already has an invoice with this kind and external id.
    """
    connection = session.connection()  # Core statements need none of the ORM's execution machinery
    statements = _statements(connection.dialect.name)
    invoice_id = connection.execute(statements.invoice, _row(invoice)).scalar_one_or_none()
    if invoice_id is None:
        return False
    invoice.id = invoice_id
    for quote in invoice.quotes:
        quote.invoice_id = invoice_id
    _insert_all(connection, statements.quote, invoice.quotes)
    event = Event(invoice_id=invoice_id, **event_fields(invoice.store_id, "invoice.created", invoice.status,
                                                        invoice.overpaid, invoice.paid_late, now))
    event.id = connection.execute(statements.event, _row(event)).scalar_one()
    enqueue_for_event(session, invoice, event, now)  # rows linked by key; the ORM writes them at commit
    return True


@dataclass(frozen=True)
class _Statements:
    invoice: Any
    quote: Any
    event: Any


@functools.cache
def _statements(dialect: str) -> _Statements:
    """Built once per dialect and executed with parameters, so SQLAlchemy compiles each exactly once."""
    invoices: Table = Invoice.__table__  # type: ignore[assignment]
    events: Table = Event.__table__  # type: ignore[assignment]
    quotes: Table = Quote.__table__  # type: ignore[assignment]
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return _Statements(
        invoice=insert(invoices).on_conflict_do_nothing(index_elements=["store_id", "kind", "external_id"])
        .returning(invoices.c.id),
        quote=quotes.insert(),
        event=events.insert().returning(events.c.id),
    )


def _insert_all(connection: Connection, statement: Any, objects: list[Any]) -> None:
    """One executemany per set of columns (rows of one statement must name the same columns)."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for obj in objects:
        row = _row(obj)
        groups.setdefault(tuple(sorted(row)), []).append(row)
    for rows in groups.values():
        connection.execute(statement, rows)


def _row(obj: Any) -> dict[str, Any]:
    """The object's column values by column name; an unset column gets its Python default, on the object too."""
    row: dict[str, Any] = {}
    for prop in inspect(type(obj)).column_attrs:
        column = prop.columns[0]
        value = getattr(obj, prop.key)
        if value is None and column.default is not None and column.default.is_scalar:
            value = column.default.arg
            setattr(obj, prop.key, value)
        if value is None and (column.primary_key or column.default is not None or column.server_default is not None):
            continue
        row[column.name] = value
    return row
