"""VentaConnect checkout sessions: a cheap probe of a session's state for its WebSocket.

Each open socket polls the database (the worker that changes invoices is another process, so nothing in
memory would tell it); one small query a second per socket, and the full invoice only when the probe moves.
"""

from __future__ import annotations

from sqlalchemy import func, select

from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.models import Invoice, Payment

CONTRACT = "venta"


def session_probe(uow: UnitOfWork, number: str) -> tuple[object, ...] | None:
    """What changes whenever the session's message could: status, last update, payments seen; None if unknown."""
    row = uow.session.execute(
        select(Invoice.status, Invoice.updated_at, Invoice.payment_tx_id,
               select(func.count(Payment.id)).where(Payment.invoice_id == Invoice.id).scalar_subquery(),
               select(func.max(Payment.id)).where(Payment.invoice_id == Invoice.id).scalar_subquery())
        .where(Invoice.number == number, Invoice.contract == CONTRACT)
    ).first()
    return None if row is None else tuple(row)
