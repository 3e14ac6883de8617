"""Invoice writers: the create-invoice hot path's inserts, one module per database.

They hand statements straight to the driver instead of through the ORM and SQLAlchemy's execution layer,
which cost most of a create (see driver.py for how values stay exactly what the models would store).
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from gateway_core.ports import InvoiceWriter


def invoice_writer_for(engine: Engine) -> InvoiceWriter | None:
    """The writer for this engine's database; None where creates take the general path instead."""
    if engine.dialect.name == "postgresql":
        from gateway_core.adapters.invoice_writers.postgresql import PostgresInvoiceWriter

        return PostgresInvoiceWriter(engine)
    if engine.dialect.name == "sqlite":
        if engine.url.database in (None, "", ":memory:"):
            return None  # each connection to an in-memory database is a database of its own
        from gateway_core.adapters.invoice_writers.sqlite import SqliteInvoiceWriter

        return SqliteInvoiceWriter(engine)
    return None
