"""Recording observed transfers against invoices, and following them to finality. Safe to run twice."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.models import Invoice, Payment, Quote
from gateway_core.domain.lifecycle import Status
from gateway_core.ports import ChainClient, Clock, ObservedTransfer
from gateway_core.services.assess import assess, emit, lock_invoice

log = logging.getLogger(__name__)
UowFactory = Callable[[], UnitOfWork]
# After these, a payment changes nothing about the invoice's status; it is still recorded and reported.
_CLOSED_FOR_GOOD = (Status.CANCELLED, Status.CONFIRMED, Status.SETTLED)


def match_quote(session: Session, transfer: ObservedTransfer) -> Quote | None:
    """The quote a transfer pays: by Solana Pay reference when present, else by a per-invoice address."""
    if transfer.reference:
        quote = session.execute(select(Quote).where(Quote.reference == transfer.reference)).scalar_one_or_none()
        if quote is not None and quote.address == transfer.to_address and quote.chain == transfer.chain:
            return quote
    candidates = session.execute(
        select(Quote).where(Quote.chain == transfer.chain, Quote.address == transfer.to_address).limit(2)
    ).scalars().all()
    # A shared merchant wallet (direct mode) cannot be attributed without a reference.
    return candidates[0] if len(candidates) == 1 else None


def record_transfer(uow: UnitOfWork, transfer: ObservedTransfer, now: datetime) -> bool:
    """Record one transfer and move its invoice along; False if it was already recorded."""
    session = uow.session
    quote = match_quote(session, transfer)
    invoice = lock_invoice(session, quote.invoice_id) if quote is not None else None
    key = (Payment.chain == transfer.chain, Payment.tx_id == transfer.tx_id,
           Payment.transfer_index == transfer.transfer_index)
    if session.execute(select(Payment.id).where(*key)).first() is not None:
        return False
    payment = Payment(
        chain=transfer.chain, network=transfer.network, tx_id=transfer.tx_id,
        transfer_index=transfer.transfer_index, asset=transfer.asset, amount=transfer.amount,
        to_address=transfer.to_address, from_address=transfer.from_address, reference=transfer.reference,
        block_time=transfer.block_time, seen_at=now, confirmations=transfer.confirmations,
        final=transfer.final, finalized_at=now if transfer.final else None,
        disposition=_disposition(invoice, quote, transfer),
    )
    if invoice is not None:
        payment.invoice_id, payment.quote_id = invoice.id, quote.id if quote else None
    try:
        with session.begin_nested():
            session.add(payment)
            session.flush()
    except IntegrityError:
        return False  # another watcher recorded it first
    log.info("payment recorded", extra={"tx_id": transfer.tx_id, "asset": transfer.asset,
                                        "amount": transfer.amount, "disposition": payment.disposition,
                                        "invoice": invoice.number if invoice else None})
    if invoice is None:
        return True
    session.refresh(invoice, ["payments"])
    if payment.disposition == "late":
        invoice.paid_late = True
    if payment.disposition == "wrong_asset":
        emit(session, invoice, "invoice.wrong_asset_payment", now, tx_id=transfer.tx_id, asset=transfer.asset)
    elif Status(invoice.status) in _CLOSED_FOR_GOOD:
        emit(session, invoice, "invoice.payment_after_close", now, tx_id=transfer.tx_id, asset=transfer.asset)
    invoice.paid_asset = transfer.asset if payment.disposition != "wrong_asset" else invoice.paid_asset
    invoice.payment_tx_id = transfer.tx_id if payment.disposition != "wrong_asset" else invoice.payment_tx_id
    assess(session, invoice, now)
    return True


def _disposition(invoice: Invoice | None, quote: Quote | None, transfer: ObservedTransfer) -> str:
    if invoice is None or quote is None:
        return "unmatched"
    if quote.asset != transfer.asset:
        return "wrong_asset"
    status = Status(invoice.status)
    if status in (Status.CANCELLED,) or transfer.block_time > invoice.expires_at:
        return "late"
    return "matched"


def record_transfers(uow_factory: UowFactory, transfers: Iterable[ObservedTransfer], clock: Clock) -> int:
    """Record each transfer in its own transaction; returns how many were new."""
    recorded = 0
    for transfer in transfers:
        with uow_factory() as uow:
            recorded += record_transfer(uow, transfer, clock.now())
    return recorded


def refresh_finality(
    uow_factory: UowFactory, client: ChainClient, network: str, clock: Clock, batch: int = 500
) -> int:
    """Ask the chain how final the payments still in flight are; move invoices whose payments finalised."""
    with uow_factory() as uow:
        rows = uow.session.execute(
            select(Payment.id, Payment.tx_id, Payment.invoice_id)
            .where(Payment.chain == client.chain, Payment.network == network, Payment.final.is_(False),
                   Payment.invoice_id.is_not(None))
            .order_by(Payment.id).limit(batch)
        ).all()
    if not rows:
        return 0
    statuses = client.finality(network, sorted({r.tx_id for r in rows}))
    by_invoice: dict[int, list[int]] = {}
    for row in rows:
        by_invoice.setdefault(row.invoice_id, []).append(row.id)
    changed = 0
    for invoice_id, payment_ids in by_invoice.items():
        with uow_factory() as uow:
            changed += _apply_finality(uow.session, invoice_id, payment_ids, statuses, clock.now())
    return changed


def _apply_finality(session: Session, invoice_id: int, payment_ids: Sequence[int],
                    statuses: dict, now: datetime) -> int:
    invoice = lock_invoice(session, invoice_id)
    changed = 0
    for payment in invoice.payments:
        state = statuses.get(payment.tx_id)
        if payment.id not in payment_ids or state is None or payment.final:
            continue
        payment.confirmations = state.confirmations
        if state.final:
            payment.final, payment.finalized_at = True, now
            changed += 1
    if changed:
        assess(session, invoice, now)
    return changed
