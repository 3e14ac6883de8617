"""Recording observed transfers against invoices, and following them to finality. Safe to run twice."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway_core.adapters.db import UnitOfWork, again_if_connection_lost
from gateway_core.adapters.models import Invoice, Payment, Quote
from gateway_core.domain.lifecycle import Status
from gateway_core.payments import parked
from gateway_core.payments.assess import assess, emit, lock_invoice
from gateway_core.payments.valuation import Quoting, classify, valuation_data
from gateway_core.ports import ChainClient, Clock, ObservedTransfer

log = logging.getLogger(__name__)
UowFactory = Callable[[], UnitOfWork]
# After these, a payment changes nothing about the invoice's status; it is still recorded and reported.
_CLOSED_FOR_GOOD = (Status.CANCELLED, Status.CONFIRMED, Status.SETTLED)
DROPPED = "dropped"  # disposition of a transfer the chain dropped before finality; it no longer counts
FAILED = "failed"  # disposition of a transaction that failed on chain: it moved nothing, and is only reported
_INTEGERS = ("transfer_index", "amount", "confirmations")


def reference_keys(transfer: ObservedTransfer) -> list[str]:
    """The keys a transfer may name its invoice by, most specific first."""
    return list(dict.fromkeys(k for k in (transfer.reference, *transfer.references) if k))


def match_quote(session: Session, transfer: ObservedTransfer) -> Quote | None:
    """The quote a transfer pays: by any of its reference keys when present, else by a per-invoice address."""
    keys = reference_keys(transfer)
    if keys:
        # A quote replaced after its lock lapsed still owns its old reference (issue 18): current ones first.
        for column in (Quote.reference, Quote.prior_reference):
            named = session.execute(select(Quote).where(column.in_(keys))).scalars()
            quotes = {getattr(q, column.key): q for q in named
                      if q.address == transfer.to_address and q.chain == transfer.chain}
            # Most specific key first: the transfer instruction's own accounts come before its caller's.
            found = next((quotes[k] for k in keys if k in quotes), None)
            if found is not None:
                return found
    candidates = session.execute(
        select(Quote).where(Quote.chain == transfer.chain, Quote.address == transfer.to_address)
        .order_by(Quote.position).limit(4)
    ).scalars().all()
    # A shared merchant wallet (direct mode) cannot be attributed without a reference; a deposit address
    # belongs to one invoice, whose quotes may share it (Solana: one derived key for SOL and USDC).
    if not candidates or len({q.invoice_id for q in candidates}) > 1:
        return None
    return next((q for q in candidates if q.asset == transfer.asset), candidates[0])


def transfer_key(transfer: ObservedTransfer) -> str:
    """The transfer's identity, as the payments table's unique key spells it."""
    return f"{transfer.chain}:{transfer.tx_id}:{transfer.transfer_index}"


def transfer_payload(transfer: ObservedTransfer) -> dict[str, Any]:
    """A transfer as a parked item keeps it: every fact needed to record it later without the chain."""
    return {**asdict(transfer), "block_time": transfer.block_time.isoformat()}


def transfer_from_payload(payload: dict[str, Any]) -> ObservedTransfer:
    """The transfer a parked item keeps (transfer_payload, read back)."""
    fields: dict[str, Any] = {k: int(v) if k in _INTEGERS else v for k, v in payload.items()}
    return ObservedTransfer(**{**fields, "block_time": datetime.fromisoformat(payload["block_time"])})


def with_parked(uow_factory: UowFactory, chain: str, network: str, transfers: Iterable[ObservedTransfer],
                clock: Clock) -> list[ObservedTransfer]:
    """The scan's transfers plus the parked ones of this chain and network whose backoff has passed
    (`uow_factory` only reads: a read-only one will do)."""
    found = list(transfers)
    seen = {transfer_key(t) for t in found}
    for payload in parked.due_payloads(uow_factory, parked.TRANSFER, f"{chain}:{network}", clock.now()):
        transfer = transfer_from_payload(payload)
        if transfer_key(transfer) not in seen:
            seen.add(transfer_key(transfer))
            found.append(transfer)
    return found


def record_transfers(uow_factory: UowFactory, transfers: Iterable[ObservedTransfer], clock: Clock,
                     quoting: Quoting, reads: UowFactory | None = None) -> int:
    """Record transfers, one transaction per invoice; returns how many were new. `reads`: read-only units of
    work for the lookups before the writes (on SQLite they then take no write turn).

    `quoting` values a payment to a quote whose lock lapsed past the grace (payments/valuation.py).

    An invoice's transfers from one scan are recorded together and assessed once, so a batch that
    completes an invoice is not first judged on its earliest part (a partial payment at a closed window).
    A batch that fails (an unreadable invoice, an outbox row that cannot be written) is parked with its
    facts and retried later (payments/parked.py); the others go on, and the caller may read past them all.
    """
    transfers = list(transfers)
    if not transfers:
        return 0
    waiting: dict[str, datetime] = {}
    for scope in sorted({f"{t.chain}:{t.network}" for t in transfers}):
        waiting.update(parked.parked_keys(reads or uow_factory, parked.TRANSFER, scope))
    now = clock.now()
    # Parked and not due yet: safely kept, tried when their backoff has passed (with_parked brings them back).
    transfers = [t for t in transfers if waiting.get(transfer_key(t), now) <= now]
    recorded = 0
    handled: list[str] = []
    for invoice_id, batch in _by_invoice(uow_factory, transfers, clock, reads).items():
        keys = [transfer_key(t) for t, _ in batch]
        try:
            # A connection cut mid-batch is not the batch's fault: it is tried again at once, not parked.
            recorded += again_if_connection_lost(_record_batch, uow_factory, invoice_id, batch, clock, quoting)
        except Exception as exc:
            log.exception("recording transfers failed", extra={"invoice_id": invoice_id, "tx_ids": keys})
            for transfer, _ in batch:
                parked.park(uow_factory, parked.TRANSFER, transfer_key(transfer), exc, clock.now(),
                            scope=f"{transfer.chain}:{transfer.network}", payload=transfer_payload(transfer))
            continue
        handled += [key for key in keys if key in waiting]
    parked.release(uow_factory, parked.TRANSFER, handled)
    return recorded


def _record_batch(uow_factory: UowFactory, invoice_id: int | None,
                  batch: Sequence[tuple[ObservedTransfer, Quote | None]], clock: Clock, quoting: Quoting) -> int:
    """One invoice's transfers in one transaction; unmatched ones each in their own (they belong to no one)."""
    if invoice_id is not None:
        with uow_factory() as uow:
            return record_for_invoice(uow.session, invoice_id, batch, clock.now(), quoting)
    recorded = 0
    for transfer, _ in batch:
        if transfer.failed:
            continue  # someone else's failed transaction: nothing moved, nobody to tell
        with uow_factory() as uow:
            recorded += _insert(uow.session, transfer, None, None, clock.now(), quoting) is not None
    return recorded


def _by_invoice(uow_factory: UowFactory, transfers: Sequence[ObservedTransfer], clock: Clock,
                reads: UowFactory | None = None) -> dict[int | None, list[tuple[ObservedTransfer, Quote | None]]]:
    """The transfers grouped by the invoice each pays (None: unmatched); one that cannot be matched is parked."""
    groups: dict[int | None, list[tuple[ObservedTransfer, Quote | None]]] = {}
    try:
        with (reads or uow_factory)() as uow:
            for transfer in transfers:
                quote = match_quote(uow.session, transfer)
                groups.setdefault(quote.invoice_id if quote else None, []).append((transfer, quote))
        return groups
    except Exception:  # find which one, each in a transaction of its own
        log.exception("matching transfers failed; matching them one by one")
    groups = {}
    for transfer in transfers:
        try:
            with uow_factory() as uow:
                quote = match_quote(uow.session, transfer)
        except Exception as exc:
            parked.park(uow_factory, parked.TRANSFER, transfer_key(transfer), exc, clock.now(),
                        scope=f"{transfer.chain}:{transfer.network}", payload=transfer_payload(transfer))
            continue
        groups.setdefault(quote.invoice_id if quote else None, []).append((transfer, quote))
    return groups


def record_for_invoice(session: Session, invoice_id: int, batch: Sequence[tuple[ObservedTransfer, Quote | None]],
                       now: datetime, quoting: Quoting) -> int:
    """Under the invoice's lock: insert the transfers not seen before, then move the invoice along."""
    invoice = lock_invoice(session, invoice_id)
    new = [p for t, q in batch if (p := _insert(session, t, invoice, q, now, quoting)) is not None]
    if not new:
        return 0
    session.refresh(invoice, ["payments"])
    count_new(session, invoice, new, now)
    return len(new)


def count_new(session: Session, invoice: Invoice, new: Sequence[Payment], now: datetime) -> None:
    """Move the locked invoice along for payments just put on it: their events, then the lifecycle.

    The one path for a transfer the watcher matched and for one the merchant attached from the inbox.
    """
    for payment in new:
        if payment.disposition == FAILED:
            emit(session, invoice, "invoice.transaction_failed", now, tx_id=payment.tx_id, asset=payment.asset)
            continue
        if payment.disposition == "wrong_asset":
            emit(session, invoice, "invoice.wrong_asset_payment", now, tx_id=payment.tx_id, asset=payment.asset)
            continue
        if payment.disposition == "late":
            invoice.paid_late = True
        if payment.stale_quote:
            emit(session, invoice, "invoice.payment_to_lapsed_quote", now, tx_id=payment.tx_id, asset=payment.asset,
                 amount=payment.amount, **valuation_data(payment))
        if Status(invoice.status) in _CLOSED_FOR_GOOD:
            emit(session, invoice, "invoice.payment_after_close", now, tx_id=payment.tx_id, asset=payment.asset)
        invoice.paid_asset, invoice.payment_tx_id = payment.asset, payment.tx_id
    assess(session, invoice, now)


def _insert(session: Session, transfer: ObservedTransfer, invoice: Invoice | None, quote: Quote | None,
            now: datetime, quoting: Quoting) -> Payment | None:
    """Insert the payment unless it exists; None if it was recorded before (by us or another watcher)."""
    key = (Payment.chain == transfer.chain, Payment.tx_id == transfer.tx_id,
           Payment.transfer_index == transfer.transfer_index)
    if session.execute(select(Payment.id).where(*key)).first() is not None:
        return None
    payment = Payment(
        chain=transfer.chain, network=transfer.network, tx_id=transfer.tx_id,
        transfer_index=transfer.transfer_index, asset=transfer.asset, amount=transfer.amount,
        to_address=transfer.to_address, from_address=transfer.from_address,
        reference=_reference(transfer, quote),
        block_time=transfer.block_time, seen_at=now, confirmations=transfer.confirmations,
        final=transfer.final, finalized_at=now if transfer.final else None,
        disposition=_disposition(invoice, quote, transfer),
        invoice_id=invoice.id if invoice else None, quote_id=quote.id if quote and invoice else None,
    )
    if quote is not None and invoice is not None:
        # Paid to a lapsed or replaced quote: within the grace it counts at that quote's amount; later, at its
        # value when seen, flagged for the merchant (payments/valuation.py).
        keys = reference_keys(transfer)
        classify(payment, invoice, quote, quote.prior_reference in keys and quote.reference not in keys, quoting)
    try:
        with session.begin_nested():
            session.add(payment)
            session.flush()
    except IntegrityError:
        return None  # another watcher recorded it first
    log.info("payment recorded", extra={"tx_id": transfer.tx_id, "asset": transfer.asset,
                                        "amount": transfer.amount, "disposition": payment.disposition,
                                        "invoice": invoice.number if invoice else None})
    return payment


def _reference(transfer: ObservedTransfer, quote: Quote | None) -> str | None:
    """The reference the transfer carried: the quote's when one of its keys named it."""
    keys = reference_keys(transfer)
    for named in (quote.reference, quote.prior_reference) if quote is not None else ():
        if named and named in keys:
            return named
    return transfer.reference


def _disposition(invoice: Invoice | None, quote: Quote | None, transfer: ObservedTransfer) -> str:
    if invoice is None or quote is None:
        return "unmatched"
    if transfer.failed:
        return FAILED
    return disposition_for(invoice, quote, transfer.asset, transfer.block_time)


def disposition_for(invoice: Invoice, quote: Quote, asset: str, block_time: datetime) -> str:
    """How a transfer of `asset` made at `block_time` counts on this invoice's quote."""
    if quote.asset != asset:
        return "wrong_asset"
    if Status(invoice.status) is Status.CANCELLED or block_time > invoice.expires_at:
        return "late"
    return "matched"


def refresh_finality(
    uow_factory: UowFactory, client: ChainClient, network: str, clock: Clock, batch: int = 500
) -> int:
    """Ask the chain how final the payments still in flight are; move invoices whose payments finalised."""
    with uow_factory() as uow:
        rows = uow.session.execute(
            select(Payment.id, Payment.tx_id, Payment.invoice_id)
            .where(Payment.chain == client.chain, Payment.network == network, Payment.final.is_(False),
                   Payment.invoice_id.is_not(None), Payment.disposition.not_in((DROPPED, FAILED)))
            .order_by(Payment.id).limit(batch)
        ).all()
    if not rows:
        return 0
    statuses = client.finality(network, sorted({r.tx_id for r in rows}))
    by_invoice: dict[int, list[int]] = {}
    for row in rows:
        by_invoice.setdefault(row.invoice_id, []).append(row.id)
    changed = 0
    failing = parked.parked_keys(uow_factory, parked.FINALITY)
    now = clock.now()
    for invoice_id, payment_ids in by_invoice.items():
        key = str(invoice_id)
        if failing.get(key, now) > now:
            continue  # backing off; its payments stay in flight, so it is read again when due
        try:
            changed += again_if_connection_lost(_finalise, uow_factory, invoice_id, payment_ids, statuses, clock)
        except Exception as exc:
            log.exception("following finality failed", extra={"invoice_id": invoice_id})
            parked.park(uow_factory, parked.FINALITY, key, exc, clock.now())
            continue
        if key in failing:
            parked.release(uow_factory, parked.FINALITY, [key])
    return changed


def _finalise(uow_factory: UowFactory, invoice_id: int, payment_ids: Sequence[int], statuses: dict,
              clock: Clock) -> int:
    with uow_factory() as uow:
        return _apply_finality(uow.session, invoice_id, payment_ids, statuses, clock.now())


def _apply_finality(session: Session, invoice_id: int, payment_ids: Sequence[int],
                    statuses: dict, now: datetime) -> int:
    invoice = lock_invoice(session, invoice_id)
    changed = 0
    for payment in invoice.payments:
        state = statuses.get(payment.tx_id)
        # Under the invoice's lock, re-checked: another worker may have finalised or dropped it meanwhile.
        if (payment.id not in payment_ids or state is None or payment.final
                or payment.disposition in (DROPPED, FAILED)):
            continue
        if not state.exists:
            _drop(session, invoice, payment, now)
            changed += 1
            continue
        payment.confirmations = state.confirmations
        if state.final:
            payment.final, payment.finalized_at = True, now
            changed += 1
    if changed:
        assess(session, invoice, now)
    return changed


def _drop(session: Session, invoice: Invoice, payment: Payment, now: datetime) -> None:
    """The chain dropped the transaction before it was final: take it back out of the invoice, and say so."""
    payment.disposition, payment.confirmations = DROPPED, 0
    if invoice.payment_tx_id == payment.tx_id:
        kept = [p for p in invoice.payments if p.id != payment.id and p.disposition in ("matched", "late")]
        invoice.payment_tx_id = kept[-1].tx_id if kept else None
        invoice.paid_asset = kept[-1].asset if kept else None
    emit(session, invoice, "invoice.payment_dropped", now, tx_id=payment.tx_id, asset=payment.asset,
         amount=payment.amount)
    log.warning("payment dropped before finality", extra={"tx_id": payment.tx_id, "invoice": invoice.number})
