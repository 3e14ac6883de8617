"""Apply the lifecycle to one locked invoice and write its events in the same transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway_core.adapters.models import Event, Invoice
from gateway_core.domain.identifiers import new_event_id
from gateway_core.domain.lifecycle import EVENT_FOR_STATUS, Status, overpaid, plan, transition
from gateway_core.notifications.outbox import enqueue_for_event
from gateway_core.views import payment_facts

_STAMPS = {Status.PAID: "paid_at", Status.CONFIRMED: "confirmed_at", Status.SETTLED: "settled_at"}


def lock_invoice(session: Session, invoice_id: int) -> Invoice:
    """Load the invoice with a row lock (PostgreSQL) so concurrent watchers serialise on it."""
    return session.execute(
        select(Invoice).where(Invoice.id == invoice_id).with_for_update(of=Invoice)
        .execution_options(populate_existing=True)
    ).scalar_one()


def event_fields(store_id: int, event_type: str, status: str, overpaid: bool, paid_late: bool, now: datetime,
                 **data: object) -> dict[str, Any]:
    """An event's columns but its invoice_id: one shape for every event, whichever path writes it."""
    return {"event_id": new_event_id(), "store_id": store_id, "type": event_type, "status": status,
            "data": {"overpaid": overpaid, "paid_late": paid_late, **data}, "created_at": now}


def emit(session: Session, invoice: Invoice, event_type: str, now: datetime, **data: object) -> Event:
    """Record an event about the invoice (deliveries hang off events in the same transaction)."""
    event = Event(invoice_id=invoice.id, **event_fields(invoice.store_id, event_type, invoice.status,
                                                        invoice.overpaid, invoice.paid_late, now, **data))
    session.add(event)
    enqueue_for_event(session, invoice, event, now)  # the outbox: deliveries commit with the status change
    return event


def move(session: Session, invoice: Invoice, target: Status, now: datetime) -> None:
    """One lifecycle step with its event; the table refuses anything it does not allow."""
    invoice.status = transition(Status(invoice.status), target)
    invoice.updated_at = now
    if target in _STAMPS:
        setattr(invoice, _STAMPS[target], now)
    if target in (Status.EXPIRED, Status.UNDERPAID, Status.CANCELLED, Status.SETTLED):
        invoice.closed_at = now
    emit(session, invoice, EVENT_FOR_STATUS[target], now)


def assess(session: Session, invoice: Invoice, now: datetime) -> list[Status]:
    """Bring the invoice's status and flags in line with its payments and window; returns the steps taken."""
    facts = payment_facts(invoice, now)
    steps = plan(Status(invoice.status), facts)
    surplus = overpaid(facts) and not invoice.overpaid
    if surplus:
        invoice.overpaid = True  # first: the event that first sees the surplus already says so (is_overpaid)
    for step in steps:
        move(session, invoice, step, now)
    if surplus:
        emit(session, invoice, "invoice.overpaid", now)
    return steps
