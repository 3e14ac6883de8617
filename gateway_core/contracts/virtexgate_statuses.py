"""VirtexGate's names for our invoices (shared/specs/virtexgate-api.txt, DESIGN.md §4): ids, statuses, events.

One mapping for the API (bridge/contracts/virtexgate.py) and the webhooks (contracts/virtexgate_payloads.py),
so a status read with GET /api/invoices/<id> and the one a webhook carries never disagree.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from gateway_core.checkout_view import Phase, phase_of
from gateway_core.views import InvoiceView

CONTRACT = "virtexgate"
# VirtexGate invoice ids are UUIDs; we keep one per invoice as its external id, under this prefix so it can
# never collide with a VOLTXT plugin's external_invoice_id in the same store.
EXTERNAL_ID_PREFIX = "virtexgate:"

# The document also lists Overpaid; a final overpayment reads Paid ("fulfil the order"), with our `overpaid` field.
INVOICE_STATUSES = ("New", "Waiting", "Processing", "Paid", "Expired", "Underpaid")
PAYMENT_STATUSES = ("Pending", "Detected", "Confirmed", "Expired")

# The hosted page's phase already separates "no coin chosen" (New) from "coin chosen" (Waiting), and shows an
# open invoice whose window has closed as expired before the expiry job runs; VirtexGate reads it the same way.
_INVOICE_STATUS = {
    Phase.CHOOSE: "New",
    Phase.AWAITING: "Waiting",
    Phase.PARTIAL: "Underpaid",
    Phase.CONFIRMING: "Processing",
    Phase.PAID: "Paid",
    Phase.EXPIRED: "Expired",
    # Closed with part of the amount: the timer elapsed before (full) payment arrived, as invoice.expired says;
    # Underpaid is the open invoice that has received part of it (what was paid shows in payment.amountPaid).
    Phase.UNDERPAID: "Expired",
    Phase.CANCELLED: "Expired",  # VirtexGate has no cancelled status: the invoice can no longer be paid
}
_PAYMENT_STATUS = {
    Phase.CHOOSE: "Pending",
    Phase.AWAITING: "Pending",
    Phase.PARTIAL: "Detected",
    Phase.CONFIRMING: "Detected",
    Phase.PAID: "Confirmed",
    Phase.EXPIRED: "Expired",
    Phase.UNDERPAID: "Expired",
    Phase.CANCELLED: "Expired",
}

# Canonical event -> VirtexGate webhook event. Events that change nothing VirtexGate shows send nothing:
# invoice.created (the merchant just created it), invoice.settled (already Paid at invoice.confirmed).
# An invoice that closes part-paid (invoice.underpaid) has expired: the order will not be paid, so a handler
# that cancels on invoice.expired must hear it (the invoice.underpaid before it told of the partial payment).
WEBHOOK_EVENTS = {
    "invoice.partially_paid": "invoice.underpaid",
    "invoice.paid": "invoice.processing",
    "invoice.confirmed": "invoice.paid",
    "invoice.expired": "invoice.expired",
    "invoice.underpaid": "invoice.expired",
    "invoice.overpaid": "invoice.overpaid",
    "invoice.cancelled": "invoice.expired",
}


def new_invoice_id() -> str:
    return str(uuid.uuid4())


def external_id_for(invoice_id: str) -> str:
    return EXTERNAL_ID_PREFIX + invoice_id


def canonical_invoice_id(text: str) -> str | None:
    """The id in its canonical form (lower-case, hyphenated), or None if it is not a UUID."""
    try:
        return str(uuid.UUID(text)) if len(text) == 36 else None
    except ValueError:
        return None


def invoice_id(view: InvoiceView) -> str | None:
    """The VirtexGate id of an invoice created through the contract (None for other invoices)."""
    if view.contract != CONTRACT or not view.external_id or not view.external_id.startswith(EXTERNAL_ID_PREFIX):
        return None
    return view.external_id[len(EXTERNAL_ID_PREFIX):]


def store_id(view: InvoiceView) -> str:
    """What the merchant knows as the store id (`voltbridge store list`), as VirtexGate's string storeId."""
    return str(view.store_id)


def invoice_status(view: InvoiceView, now: datetime) -> str:
    """The document's Paid means "fulfil the order", so a final overpayment reads Paid too: the surplus shows
    in our `overpaid` field and the invoice.overpaid webhook, never by withholding Paid."""
    return _INVOICE_STATUS[phase_of(view, now)]


def payment_status(view: InvoiceView, now: datetime) -> str:
    return _PAYMENT_STATUS[phase_of(view, now)]


def webhook_event(canonical: str) -> str | None:
    return WEBHOOK_EVENTS.get(canonical)
