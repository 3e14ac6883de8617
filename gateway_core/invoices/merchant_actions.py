"""What the merchant does to an invoice from the dashboard (issue 22), besides cancelling it (manage.cancel_invoice):
record a decision on money that did not fit (accepted / refund due), and redeliver one of its webhooks or emails.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.models import Delivery, Event, InvoiceDecision
from gateway_core.domain.errors import DeliveryNotFound, InvalidState, ValidationFailed, said
from gateway_core.invoices.timeline import decidable, store_invoice
from gateway_core.notifications.outbox import DELIVERY_NOT_FOUND, redeliver
from gateway_core.payments.assess import emit, lock_invoice
from gateway_core.ports import Clock

DECISIONS = ("accepted", "refund_due")
MAX_NOTE = 2000


@dataclass(frozen=True)
class Actor:
    """Who acts in the dashboard: kept with what they did."""

    user_id: int
    email: str


def record_decision(uow: UnitOfWork, store_id: int, number: str, decision: str, note: str, actor: Actor,
                    clock: Clock) -> None:
    """Keep the merchant's decision on an underpaid, late or overpaid invoice, and say so in its events."""
    note = note.strip()
    if decision not in DECISIONS:
        raise ValidationFailed(said("invalid_decision", "Invalid decision"), errors={"decision": said(
            "d_one_of", f"one of {', '.join(DECISIONS)}", choices=", ".join(DECISIONS))})
    if not note:
        raise ValidationFailed(said("decision_needs_note", "A decision needs a note"),
                               errors={"note": said("d_say_why", "say what was decided and why")})
    if len(note) > MAX_NOTE:
        raise ValidationFailed(said("note_too_long", "Note too long"),
                               errors={"note": said("d_at_most", f"at most {MAX_NOTE} characters", max=MAX_NOTE)})
    invoice = lock_invoice(uow.session, store_invoice(uow, store_id, number).id)
    if not decidable(invoice):
        raise InvalidState(said("nothing_to_decide", f"Invoice is {invoice.status}: there is nothing to decide "
                                "(only underpaid, late or overpaid invoices)", status=invoice.status))
    now = clock.now()
    uow.session.add(InvoiceDecision(invoice_id=invoice.id, decision=decision, note=note, user_id=actor.user_id,
                                    user_email=actor.email, created_at=now))
    emit(uow.session, invoice, "invoice.decision_recorded", now, decision=decision, note=note, by=actor.email)


def redeliver_for_invoice(uow: UnitOfWork, store_id: int, number: str, delivery_id: int, clock: Clock) -> Delivery:
    """Queue one of this invoice's deliveries again, through the outbox (same event id and body)."""
    invoice = store_invoice(uow, store_id, number)
    original = uow.session.get(Delivery, delivery_id)
    if original is None or original.store_id != store_id or not _of_invoice(uow, invoice.id, original.event_id):
        raise DeliveryNotFound(DELIVERY_NOT_FOUND)
    return redeliver(uow.session, invoice.store, delivery_id, clock.now())


def _of_invoice(uow: UnitOfWork, invoice_id: int, event_id: str) -> bool:
    found = uow.session.execute(
        select(Event.id).where(Event.event_id == event_id, Event.invoice_id == invoice_id)).first()
    return found is not None
