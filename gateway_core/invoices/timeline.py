"""An invoice's timeline for the merchant's dashboard (issue 22): one read of everything that happened to it.

Events, quotes with their rates, every payment with its explorer link, every delivery with its attempts, every
email sent, the merchant's decisions, and what the merchant may still do. Read inside one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.models import (
    Delivery,
    DeliveryAttempt,
    Email,
    Event,
    Invoice,
    InvoiceDecision,
    Payment,
    PaymentAttachment,
    Quote,
)
from gateway_core.contracts.voltxt_payloads import explorer_link
from gateway_core.domain import money
from gateway_core.domain.errors import InvoiceNotFound
from gateway_core.domain.lifecycle import OPEN, Status
from gateway_core.ports import Clock
from gateway_core.views import InvoiceView, invoice_view

EXCERPT_CHARS = 300  # of an endpoint's answer, as the attempt row keeps it (already bounded there)


@dataclass(frozen=True)
class EventLine:
    at: datetime
    type: str
    status: str
    data: dict[str, Any]


@dataclass(frozen=True)
class QuoteLine:
    asset: str
    chain: str
    address: str
    reference: str | None
    amount_due: Decimal
    rate: Decimal
    rate_currency: str
    sources: tuple[str, ...]
    rated_at: datetime | None
    holds_until: datetime  # the lock of a volatile asset, else the invoice's expiry
    prior_reference: str | None
    prior_amount_due: Decimal | None
    prior_honoured_until: datetime | None
    address_url: str | None


@dataclass(frozen=True)
class PaymentLine:
    id: int
    tx_id: str
    asset: str
    amount: Decimal
    disposition: str
    confirmations: int
    final: bool
    block_time: datetime
    seen_at: datetime
    from_address: str | None
    stale_quote: bool
    awaiting_rate: bool
    explorer_url: str | None
    attached_by: str | None
    attached_at: datetime | None


@dataclass(frozen=True)
class AttemptLine:
    number: int
    at: datetime
    status_code: int | None
    latency_ms: int
    ok: bool
    error: str | None
    excerpt: str | None


@dataclass(frozen=True)
class DeliveryLine:
    id: int
    event_type: str
    channel: str
    target: str | None  # the endpoint's URL, or the mailbox
    status: str
    created_at: datetime
    delivered_at: datetime | None
    is_redelivery: bool
    last_error: str | None
    attempts: tuple[AttemptLine, ...]


@dataclass(frozen=True)
class EmailLine:
    at: datetime
    recipient: str
    subject: str
    transport: str
    delivery_id: int | None


@dataclass(frozen=True)
class DecisionLine:
    decision: str
    note: str
    by: str
    at: datetime


@dataclass(frozen=True)
class Timeline:
    invoice: InvoiceView
    events: tuple[EventLine, ...]
    quotes: tuple[QuoteLine, ...]
    payments: tuple[PaymentLine, ...]
    deliveries: tuple[DeliveryLine, ...]
    emails: tuple[EmailLine, ...]
    decisions: tuple[DecisionLine, ...]
    can_cancel: bool
    can_decide: bool


def decidable(invoice: Invoice) -> bool:
    """Whether the merchant has something to decide: money short (underpaid), late, or beyond the amount due."""
    return invoice.status == Status.UNDERPAID or invoice.paid_late or invoice.overpaid


def store_invoice(uow: UnitOfWork, store_id: int, number: str) -> Invoice:
    """The store's invoice by number; another store's is 'not found', never 'forbidden'."""
    invoice = uow.session.execute(
        select(Invoice).where(Invoice.number == number, Invoice.store_id == store_id)
    ).scalar_one_or_none()
    if invoice is None:
        raise InvoiceNotFound("Invoice with given number not found")
    return invoice


def invoice_timeline(uow: UnitOfWork, store_id: int, number: str, clock: Clock) -> Timeline:
    """Everything about one of the store's invoices, oldest first (decisions newest first)."""
    session = uow.session
    invoice = store_invoice(uow, store_id, number)
    events = session.execute(select(Event).where(Event.invoice_id == invoice.id).order_by(Event.id)).scalars().all()
    deliveries = _deliveries(uow, store_id, [e.event_id for e in events])
    emails = session.execute(
        select(Email).where(Email.delivery_id.in_([d.id for d in deliveries])).order_by(Email.id)
    ).scalars().all() if deliveries else []
    decisions = session.execute(
        select(InvoiceDecision).where(InvoiceDecision.invoice_id == invoice.id).order_by(InvoiceDecision.id.desc())
    ).scalars().all()
    return Timeline(
        invoice=invoice_view(invoice, clock.now()),
        events=tuple(EventLine(e.created_at, e.type, e.status, dict(e.data or {})) for e in events),
        quotes=tuple(_quote(invoice, q) for q in invoice.quotes),
        payments=_payments(uow, invoice),
        deliveries=deliveries,
        emails=tuple(EmailLine(m.created_at, m.recipient, m.subject, m.transport, m.delivery_id) for m in emails),
        decisions=tuple(DecisionLine(d.decision, d.note, d.user_email, d.created_at) for d in decisions),
        can_cancel=Status(invoice.status) in OPEN,
        can_decide=decidable(invoice),
    )


def units(base: int, asset: str) -> Decimal:
    """Base units as the merchant reads them: exact, without trailing zeros (0.6666 SOL, not 0.666600000)."""
    return Decimal(money.plain(money.from_base_units(base, money.asset(asset))))


def _units(base: int | None, asset: str) -> Decimal | None:
    return None if base is None else units(base, asset)


def _quote(invoice: Invoice, q: Quote) -> QuoteLine:
    return QuoteLine(
        asset=q.asset, chain=q.chain, address=q.address, reference=q.reference,
        amount_due=units(q.amount_due, q.asset), rate=q.rate,
        rate_currency=q.rate_currency, sources=tuple(q.rate_sources.split(",")) if q.rate_sources else (),
        rated_at=q.rated_at, holds_until=q.expires_at, prior_reference=q.prior_reference,
        prior_amount_due=_units(q.prior_amount_due, q.asset), prior_honoured_until=q.prior_honoured_until,
        address_url=explorer_link(invoice.network, q.chain, "address", q.address))


def _payments(uow: UnitOfWork, invoice: Invoice) -> tuple[PaymentLine, ...]:
    attached = {a.payment_id: a for a in uow.session.execute(
        select(PaymentAttachment).where(PaymentAttachment.invoice_id == invoice.id)).scalars()}
    lines = []
    for p in invoice.payments:
        by = attached.get(p.id)
        lines.append(PaymentLine(
            id=p.id, tx_id=p.tx_id, asset=p.asset, amount=units(p.amount, p.asset),
            disposition=p.disposition, confirmations=p.confirmations, final=p.final, block_time=p.block_time,
            seen_at=p.seen_at, from_address=p.from_address, stale_quote=p.stale_quote, awaiting_rate=p.awaiting_rate,
            explorer_url=payment_link(p), attached_by=by.user_email if by else None,
            attached_at=by.created_at if by else None))
    return tuple(lines)


def payment_link(payment: Payment) -> str | None:
    """The payment's transaction on its network's explorer (None on the sandbox ledger)."""
    return explorer_link(payment.network, payment.chain, "tx", payment.tx_id)


def _deliveries(uow: UnitOfWork, store_id: int, event_ids: list[str]) -> tuple[DeliveryLine, ...]:
    """Every delivery of the invoice's events: webhooks, emails, redeliveries and dead-letter notices."""
    if not event_ids:
        return ()
    session = uow.session
    rows = session.execute(
        select(Delivery).where(Delivery.event_id.in_(event_ids), Delivery.store_id == store_id).order_by(Delivery.id)
    ).scalars().all()
    attempts: dict[int, list[AttemptLine]] = {d.id: [] for d in rows}
    if rows:
        for a in session.execute(select(DeliveryAttempt).where(DeliveryAttempt.delivery_id.in_(list(attempts)))
                                 .order_by(DeliveryAttempt.delivery_id, DeliveryAttempt.number)).scalars():
            excerpt = a.response_excerpt[:EXCERPT_CHARS] if a.response_excerpt else None
            attempts[a.delivery_id].append(AttemptLine(a.number, a.started_at, a.status_code, a.latency_ms, a.ok,
                                                       a.error, excerpt))
    return tuple(DeliveryLine(
        id=d.id, event_type=d.event_type, channel=d.channel, target=d.endpoint.url if d.endpoint else d.recipient,
        status=d.status, created_at=d.created_at, delivered_at=d.delivered_at, is_redelivery=d.is_redelivery,
        last_error=d.last_error, attempts=tuple(attempts[d.id])) for d in rows)
