"""The merchant's inbox (issue 22): payments that paid no invoice, kept until the merchant attaches them to one.

Two kinds land here. A transfer into one of the store's shared wallets that names no invoice (an exchange
withdrawal carries no reference) is recorded by the watcher with disposition "unmatched" and no invoice
(payments/transfers.py). A transfer that named an invoice but in an asset its quote was not for is "wrong_asset".
Neither is ever dropped. Attaching one to an invoice moves that invoice exactly as if the watcher had matched
the payment to it (transfers.count_new: the same events, lifecycle and outbox rows), in one transaction with a
record of who attached it and when; a payment is attached once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import NoReturn

from sqlalchemy import ColumnElement, and_, or_, select

from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.models import Invoice, Payment, PaymentAttachment, Store
from gateway_core.domain import money
from gateway_core.domain.errors import InvalidState, InvoiceNotFound, PaymentNotFound, ValidationFailed, said
from gateway_core.payments.assess import emit, lock_invoice
from gateway_core.payments.transfers import count_new, disposition_for
from gateway_core.payments.valuation import Quoting, classify
from gateway_core.ports import Clock

INBOX = ("unmatched", "wrong_asset")
PAGE_SIZE = 50

ATTACHED_ALREADY = said("attached_already", "This payment was attached already")


@dataclass(frozen=True)
class InboxItem:
    payment_id: int
    chain: str
    network: str
    tx_id: str
    asset: str
    amount: Decimal
    to_address: str
    from_address: str | None
    reference: str | None
    block_time: datetime
    seen_at: datetime
    confirmations: int
    final: bool
    disposition: str
    invoice_number: str | None  # the invoice a wrong-asset payment named


@dataclass(frozen=True)
class InboxPage:
    """One page, newest first; `older` and `newer` are the cursors (payment ids) of the pages beside it."""

    items: list[InboxItem]
    older: int | None
    newer: int | None


@dataclass(frozen=True)
class Attached:
    payment_id: int
    invoice_number: str
    disposition: str
    status: str


def _in_inbox(store: Store) -> ColumnElement[bool]:
    """The payments the store's inbox holds: unmatched ones into its wallets, wrong-asset ones on its invoices."""
    wallets = [w.address for w in store.wallets]
    unmatched = and_(Payment.invoice_id.is_(None), Payment.disposition == "unmatched",
                     Payment.network == store.network, Payment.to_address.in_(wallets))
    wrong = and_(Payment.disposition == "wrong_asset", Invoice.store_id == store.id)
    return or_(unmatched, wrong)


def inbox(uow: UnitOfWork, store: Store, *, after: int | None = None, before: int | None = None,
          limit: int = PAGE_SIZE) -> InboxPage:
    """A page of the store's unattached payments, newest first: the newest, or those just older than the payment
    `after` / newer than the payment `before` (keyset pages on the payment id, as the invoice list pages)."""
    query = (select(Payment, Invoice.number).outerjoin(Invoice, Payment.invoice_id == Invoice.id)
             .where(_in_inbox(store)))
    if before is not None:
        query = query.where(Payment.id > before).order_by(Payment.id.asc())
    else:
        if after is not None:
            query = query.where(Payment.id < after)
        query = query.order_by(Payment.id.desc())
    rows = list(uow.session.execute(query.limit(limit + 1)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    if before is not None:
        rows.reverse()
    items = [InboxItem(p.id, p.chain, p.network, p.tx_id, p.asset,
                       Decimal(money.plain(money.from_base_units(p.amount, money.asset(p.asset)))), p.to_address,
                       p.from_address, p.reference, p.block_time, p.seen_at, p.confirmations, p.final,
                       p.disposition, number)
             for p, number in rows]
    if before is not None:
        return InboxPage(items, older=items[-1].payment_id if items else None,
                         newer=items[0].payment_id if more and items else None)
    return InboxPage(items, older=items[-1].payment_id if more else None,
                     newer=items[0].payment_id if after is not None and items else None)


def attach_payment(uow: UnitOfWork, store: Store, payment_id: int, number: str, user_id: int, user_email: str,
                   clock: Clock, quoting: Quoting) -> Attached:
    """Put an inbox payment on one of the store's invoices and move the invoice along, as a matched payment would.

    PaymentNotFound if the payment is not in this store's inbox (nor was ever); InvalidState if it was attached
    already; ValidationFailed if the invoice has no quote in the payment's asset, or is a deposit-mode invoice and
    the payment did not go to its deposit address (it stays in the inbox either way).
    """
    session = uow.session
    target = session.execute(
        select(Invoice.id).where(Invoice.number == number.strip(), Invoice.store_id == store.id)).scalar()
    if target is None:
        raise InvoiceNotFound(said("invoice_not_found", "Invoice with given number not found"),
                              errors={"invoice": said("d_no_such_invoice", "no such invoice here")})
    found = session.execute(
        select(Payment.id, Payment.invoice_id).outerjoin(Invoice, Payment.invoice_id == Invoice.id)
        .where(Payment.id == payment_id, _in_inbox(store))).first()
    if found is None:
        _refuse_unknown(uow, store, payment_id)
    # Lock the invoices concerned in one order (the one the payment named, and the target), then the payment:
    # the watcher follows a payment's finality under its invoice's lock.
    locked = {i: lock_invoice(session, i) for i in sorted({target, *([found.invoice_id] if found.invoice_id else [])})}
    invoice = locked[target]
    payment = session.execute(select(Payment).where(Payment.id == payment_id).with_for_update(of=Payment)
                              .execution_options(populate_existing=True)).scalar_one()
    if payment.disposition not in INBOX or payment.invoice_id != found.invoice_id:
        raise InvalidState(ATTACHED_ALREADY)  # by someone else, while we waited for the lock
    quote = invoice.quote_for(payment.asset)
    if quote is None:
        raise ValidationFailed(
            said("attach_asset_not_taken", f"Invoice {invoice.number} does not take {payment.asset}",
                 number=invoice.number, asset=payment.asset),
            errors={"invoice": said("d_no_quote", f"{invoice.number} has no {payment.asset} quote",
                                    number=invoice.number, asset=payment.asset)})
    if invoice.store.settlement_mode == "deposit" and payment.to_address != quote.address:
        # A deposit invoice settles by sweeping its own address: money that went elsewhere could never settle it.
        raise ValidationFailed(
            said("attach_deposit_address", f"Invoice {invoice.number} is paid into its own deposit address",
                 number=invoice.number),
            errors={"invoice": said("d_deposit_only", "a deposit-mode invoice takes only payments to its address")})
    now = clock.now()
    session.add(PaymentAttachment(payment_id=payment.id, invoice_id=invoice.id, from_disposition=payment.disposition,
                                  from_invoice_id=payment.invoice_id, user_id=user_id, user_email=user_email,
                                  created_at=now))
    payment.invoice_id, payment.quote_id = invoice.id, quote.id
    payment.disposition = disposition_for(invoice, quote, payment.asset, payment.block_time)
    classify(payment, invoice, quote, bool(payment.reference) and payment.reference == quote.prior_reference, quoting)
    session.flush()
    session.refresh(invoice, ["payments"])
    emit(session, invoice, "invoice.payment_attached", now, tx_id=payment.tx_id, asset=payment.asset,
         amount=payment.amount, by=user_email)
    count_new(session, invoice, [payment], now)
    return Attached(payment.id, invoice.number, payment.disposition, invoice.status)


def _refuse_unknown(uow: UnitOfWork, store: Store, payment_id: int) -> NoReturn:
    """Not in the inbox: attached before by this store (409), else not this store's to see (404)."""
    before = uow.session.execute(
        select(PaymentAttachment.id).join(Invoice, PaymentAttachment.invoice_id == Invoice.id)
        .where(PaymentAttachment.payment_id == payment_id, Invoice.store_id == store.id)).first()
    if before is not None:
        raise InvalidState(ATTACHED_ALREADY)
    raise PaymentNotFound(said("payment_not_in_inbox", "Payment not found in this store's inbox"))
