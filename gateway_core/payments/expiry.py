"""Closing invoices whose payment window has passed. Safe to run twice and from several workers."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import select

from gateway_core.adapters.db import UnitOfWork, again_if_connection_lost
from gateway_core.adapters.models import Invoice
from gateway_core.domain.lifecycle import OPEN, Status
from gateway_core.payments import parked
from gateway_core.payments.assess import assess, lock_invoice
from gateway_core.ports import Clock

log = logging.getLogger(__name__)


def expire_due(uow_factory: Callable[[], UnitOfWork], clock: Clock, batch: int = 500) -> int:
    """Move open invoices past their expiry to expired (nothing paid) or underpaid (part paid)."""
    with uow_factory() as uow:
        ids = uow.session.execute(
            select(Invoice.id)
            .where(Invoice.status.in_([s.value for s in OPEN]), Invoice.expires_at <= clock.now())
            .order_by(Invoice.expires_at).limit(batch)
        ).scalars().all()
    if not ids:
        return 0
    closed = 0
    failing = parked.parked_keys(uow_factory, parked.EXPIRY)
    now = clock.now()
    for invoice_id in ids:
        key = str(invoice_id)
        if failing.get(key, now) > now:
            continue  # backing off (payments/parked.py); still open, so it is read again when due
        try:
            closed += again_if_connection_lost(_close, uow_factory, invoice_id, clock)
        except Exception as exc:  # one invoice that cannot be closed must not keep the others open
            log.exception("closing an invoice at expiry failed", extra={"invoice_id": invoice_id})
            parked.park(uow_factory, parked.EXPIRY, key, exc, clock.now())
            continue
        if key in failing:
            parked.release(uow_factory, parked.EXPIRY, [key])
    return closed


def _close(uow_factory: Callable[[], UnitOfWork], invoice_id: int, clock: Clock) -> bool:
    with uow_factory() as uow:
        invoice = lock_invoice(uow.session, invoice_id)
        if Status(invoice.status) not in OPEN:  # re-checked under the lock: another worker may have won
            return False
        return bool(assess(uow.session, invoice, clock.now()))
