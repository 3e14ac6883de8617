"""Translation between Saleor transactions and invoices (the StorefrontAdapter of base.py for Saleor).

One Saleor transaction is one invoice. Its state is told to Saleor in Saleor's own result names, the same
way by the sync webhook answers and by transactionEventReport (see "invoice state in Saleor's words" below).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from gateway_core.adapters.jsonwire import iso
from gateway_core.domain import fields, money
from gateway_core.domain.errors import ValidationFailed
from gateway_core.domain.lifecycle import OPEN, Status
from gateway_core.invoices.manage import InvoiceRequest
from gateway_core.notifications.outbox import platform_invoice_facts
from gateway_core.views import InvoiceView, fiat_received
from storefront_adapters.base import OrderUpdate, PlatformOrder
from storefront_adapters.saleor.consts import PLATFORM

MESSAGE_LIMIT = 512  # Saleor truncates transaction event messages beyond this


class UnsupportedFlow(ValidationFailed):
    """Saleor asked to authorise now and capture later, which a push payment on chain cannot do."""

    code = "UNSUPPORTED_FLOW"


@dataclass(frozen=True)
class SaleorTransaction:
    """The parts of a TRANSACTION_*_SESSION payload an invoice needs."""

    id: str
    amount: Decimal
    currency: str
    action_type: str
    source_type: str
    source_id: str
    source_number: str | None
    email: str | None
    merchant_reference: str | None

    @property
    def external_id(self) -> str:
        return f"{PLATFORM}:{self.id}"  # namespaced: never collides with a VOLTXT plugin's external ids


def _text(value: Any, limit: int = 255) -> str | None:
    return value.strip()[:limit] if isinstance(value, str) and value.strip() else None


def parse_transaction(payload: Mapping[str, Any]) -> SaleorTransaction:
    """The transaction of a session payload; ValidationFailed names what is missing."""
    errors: dict[str, str] = {}
    transaction, action, source = (_object(payload, name) for name in ("transaction", "action", "sourceObject"))
    tx_id = _text(transaction.get("id"))
    if tx_id is None:
        errors["transaction.id"] = "required"
    amount: Decimal | None = None
    try:
        amount = fields.amount(action.get("amount"))
    except fields.FieldError as exc:
        errors["action.amount"] = f"a positive amount is required: {exc}"
    currency = _text(action.get("currency"), 3)
    if currency is None:
        errors["action.currency"] = "required"
    if errors:
        raise ValidationFailed("The Saleor payload lacks fields the payment needs", errors=errors)
    assert tx_id is not None and amount is not None and currency is not None
    number = source.get("number")
    return SaleorTransaction(
        id=tx_id, amount=amount, currency=currency.upper(), action_type=str(action.get("actionType") or "CHARGE"),
        source_type=str(source.get("__typename") or "Checkout"), source_id=str(source.get("id") or ""),
        source_number=str(number) if number is not None else None,
        email=_text(source.get("email") or source.get("userEmail")),
        merchant_reference=_text(payload.get("merchantReference")),
    )


def _object(payload: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = payload.get(name)
    return value if isinstance(value, dict) else {}


def invoice_request(tx: SaleorTransaction) -> InvoiceRequest:
    """The invoice for a Saleor charge: the amount in the checkout's currency, priced in every accepted asset."""
    label = f"order #{tx.source_number}" if tx.source_number else tx.source_type.lower()
    return InvoiceRequest(
        amount=tx.amount, amount_type="fiat", currency=tx.currency, fiat_currency=tx.currency, contract=PLATFORM,
        external_id=tx.external_id, platform=PLATFORM, description=f"Saleor {label}", customer_email=tx.email,
        metadata={"saleor_transaction_id": tx.id, "saleor_source": {"type": tx.source_type, "id": tx.source_id},
                  "merchant_reference": tx.merchant_reference},
    )


# -- invoice state in Saleor's words --------------------------------------------------------------------------
#
# One story per state, told the same way by the event reports (outbox) and the session answers: each state is a
# list of transactionEventReport calls, and a TRANSACTION_PROCESS_SESSION answer is the last of them, so a
# report that follows a process answer finds Saleor's copy of the same event (alreadyProcessed, same message).
#
# pspReferences: the invoice number names the session (CHARGE_ACTION_REQUIRED, INFO, CHARGE_FAILURE). Money
# has pspReferences of its own, because Saleor keeps its own CHARGE_REQUEST under the session's pspReference
# from transactionInitialize and would take a CHARGE_REQUEST reported under it for a duplicate. Money paid
# inside the invoice's window is "<number>-paid", money paid after it closed "<number>-late"; each is a
# CHARGE_REQUEST while it is not final and a CHARGE_SUCCESS of the same amount once it is (Saleor pairs them by
# pspReference, so the pending amount becomes the charged amount). Saleor applies availableActions from every
# report (a session answer's `actions` only on AUTHORIZATION_*, CHARGE_REQUEST and CHARGE_SUCCESS), so Cancel is
# offered by an INFO report while the invoice is open and withdrawn by every later report.

OPEN_ACTIONS = ("CANCEL",)
CLOSED_ACTIONS: tuple[str, ...] = ()
SESSION_ANSWER_ACTIONS = frozenset({"AUTHORIZATION_REQUEST", "AUTHORIZATION_SUCCESS", "CHARGE_REQUEST",
                                    "CHARGE_SUCCESS"})


@dataclass(frozen=True)
class ChargeReport:
    """One transactionEventReport: an event of the Saleor transaction and the actions it leaves available."""

    type: str  # a TransactionEventTypeEnum value
    psp_reference: str
    amount: Decimal
    message: str
    actions: tuple[str, ...]


def _clip(text: str) -> str:
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"


def paid_reference(number: str) -> str:
    """The pspReference of money paid inside the invoice's window."""
    return f"{number}-paid"


def late_reference(number: str) -> str:
    """The pspReference of money paid after the invoice's window closed."""
    return f"{number}-late"


def _money(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value or 0))


def _parts(invoice: Mapping[str, Any], amount: Decimal, closed_short: bool) -> list[tuple[str, Decimal]]:
    """(pspReference, amount) of the money an invoice brought in: paid in the window and paid late."""
    number = str(invoice["number"])
    received = _money(invoice.get("fiat_received"))
    in_window = min(_money(invoice.get("fiat_received_in_window")), received)
    if closed_short:  # underpaid: what was received, split by when
        parts = [(paid_reference(number), in_window), (late_reference(number), received - in_window)]
    elif invoice.get("paid_late"):  # the window closed short (or empty); the rest came after it
        in_window = min(in_window, amount)
        parts = [(paid_reference(number), in_window), (late_reference(number), amount - in_window)]
    else:
        parts = [(paid_reference(number), amount)]
    return [(psp, value) for psp, value in parts if value > 0]


def _plain_amount(value: Decimal, currency: str) -> str:
    """'5.00 USD': the amount with its currency's decimals."""
    return f"{money.minor_to_fiat(money.fiat_to_minor(value, currency), currency):f} {currency}"


def charge_reports(event_type: str, invoice: Mapping[str, Any], amount: Decimal) -> list[ChargeReport]:
    """What Saleor is told for a canonical invoice event, `amount` being the transaction's (empty: nothing)."""
    number = str(invoice.get("number"))
    currency = str(invoice.get("fiat_currency"))
    asset = invoice.get("paid_asset") or "crypto"
    tx = f" (transaction {invoice['payment_tx_id']})" if invoice.get("payment_tx_id") else ""
    late = " after invoice expiry" if invoice.get("paid_late") else ""
    network = invoice.get("network") or "chain"
    received = _money(invoice.get("fiat_received"))
    expires = invoice.get("expires_at")  # a datetime, or its iso() text once the body went through JSON
    by = f" before {iso(expires) if isinstance(expires, datetime) else expires}" if expires else ""
    if event_type == "invoice.created":
        return [ChargeReport("INFO", number, amount, _clip(
            f"Invoice {number} is open: the buyer pays {_plain_amount(amount, currency)} in crypto{by}"),
            OPEN_ACTIONS)]
    if event_type == "invoice.partially_paid":
        return [ChargeReport("INFO", number, received, _clip(
            f"{_plain_amount(received, currency)} of {_plain_amount(amount, currency)} received for invoice "
            f"{number} on {network}{tx}; waiting for the rest{by}"), OPEN_ACTIONS)]
    if event_type == "invoice.paid":
        return [ChargeReport("CHARGE_REQUEST", psp, value, _clip(
            f"{asset} payment for invoice {number} seen on {network}{late}{tx}; waiting for it to become final"),
            CLOSED_ACTIONS) for psp, value in _parts(invoice, amount, closed_short=False)]
    if event_type in ("invoice.confirmed", "invoice.settled"):
        over = "; more than the amount due was paid" if invoice.get("overpaid") else ""
        return [ChargeReport("CHARGE_SUCCESS", psp, value, _clip(
            f"{asset} payment for invoice {number} is final{late}{tx}{over}"), CLOSED_ACTIONS)
            for psp, value in _parts(invoice, amount, closed_short=False)]
    if event_type == "invoice.payment_dropped":  # emitted before the invoice moves back to open
        if invoice.get("status") != "paid":
            return [ChargeReport("INFO", number, max(received, Decimal("0.01")), _clip(
                f"A transfer for invoice {number} was dropped by the network before it became final; "
                f"{_plain_amount(received, currency)} of {_plain_amount(amount, currency)} received{by}"),
                OPEN_ACTIONS)]
        # The pending charge did not happen: its CHARGE_FAILURE clears chargePendingAmount (Saleor pairs them).
        return [ChargeReport("CHARGE_FAILURE", psp, value, _clip(
            f"The payment for invoice {number} was dropped by the network before it became final; the invoice "
            f"waits for payment again{by}"), OPEN_ACTIONS) for psp, value in _parts(invoice, amount, False)]
    if event_type == "invoice.expired":
        return [ChargeReport("CHARGE_FAILURE", number, amount, _clip(f"Invoice {number} expired unpaid"),
                             CLOSED_ACTIONS)]
    if event_type == "invoice.underpaid":
        return [ChargeReport("CHARGE_SUCCESS", psp, value, _clip(
            f"Invoice {number} closed underpaid: {_plain_amount(received, currency)} of "
            f"{_plain_amount(amount, currency)} received; decide whether to refund it or accept it"),
            CLOSED_ACTIONS) for psp, value in _parts(invoice, amount, closed_short=True)]
    if event_type == "invoice.cancelled":
        return [ChargeReport("CHARGE_FAILURE", number, amount, cancelled_message(number), CLOSED_ACTIONS)]
    return []


def cancelled_message(number: str) -> str:
    """The words of a cancelled invoice, the same in the cancel answer and in the report."""
    return f"Invoice {number} cancelled"


_EVENT_OF_STATUS = {Status.PENDING: "invoice.created", Status.PARTIALLY_PAID: "invoice.partially_paid",
                    Status.PAID: "invoice.paid", Status.CONFIRMED: "invoice.confirmed",
                    Status.SETTLED: "invoice.confirmed", Status.EXPIRED: "invoice.expired",
                    Status.UNDERPAID: "invoice.underpaid", Status.CANCELLED: "invoice.cancelled"}


def state_reports(view: InvoiceView, amount: Decimal) -> list[ChargeReport]:
    """The reports that tell Saleor the invoice's current state."""
    return charge_reports(_EVENT_OF_STATUS[view.status], platform_invoice_facts(view), amount)


def payment_data(view: InvoiceView, payment_url: str) -> dict[str, Any]:
    """The `data` Saleor hands the storefront: where and what to pay (crypto amounts as exact strings)."""
    return {
        "invoiceNumber": view.number, "paymentUrl": payment_url, "status": view.status.value,
        "network": view.network, "expiresAt": iso(view.expires_at),
        "fiatAmount": money.plain(view.fiat_amount), "fiatCurrency": view.fiat_currency,
        "paymentOptions": [{"asset": q.asset, "chain": q.chain, "address": q.address, "reference": q.reference,
                            "amount": money.plain(q.units(q.amount_due))} for q in view.quotes],
    }


def session_answer(view: InvoiceView, amount: Decimal, payment_url: str) -> dict[str, Any]:
    """The answer to TRANSACTION_INITIALIZE_SESSION / TRANSACTION_PROCESS_SESSION for the invoice as it stands:
    CHARGE_ACTION_REQUIRED while it is open, else the last report of its state (the same event, word for word)."""
    answer: dict[str, Any] = {"pspReference": view.number, "amount": amount, "externalUrl": payment_url,
                              "data": payment_data(view, payment_url)}
    if view.status in OPEN:
        assets = ", ".join(q.asset for q in view.quotes)
        paid = ""
        if view.status is Status.PARTIALLY_PAID:
            paid = f"{_plain_amount(fiat_received(view), view.fiat_currency)} received so far; "
        return {**answer, "result": "CHARGE_ACTION_REQUIRED",
                "message": _clip(f"{paid}Pay invoice {view.number} in {assets} at {payment_url} before "
                                 f"{iso(view.expires_at)}")}
    *_, last = state_reports(view, amount)
    answer.update(pspReference=last.psp_reference, amount=last.amount, result=last.type, message=last.message)
    if last.type in SESSION_ANSWER_ACTIONS:
        answer["actions"] = list(last.actions)
    return answer


def failure_answer(message: str, amount: Decimal | None, result: str = "CHARGE_FAILURE",
                   code: str = "VALIDATION_ERROR") -> dict[str, Any]:
    """A session answer that puts our error where the shop owner sees it: the transaction event's message."""
    answer: dict[str, Any] = {"result": result, "message": _clip(message),
                              "data": {"error": {"code": code, "message": message}}}
    if amount is not None:
        answer["amount"] = amount
    return answer


class SaleorAdapter:
    """The StorefrontAdapter protocol for Saleor (base.py)."""

    platform = PLATFORM

    def order_from_request(self, payload: dict[str, Any]) -> PlatformOrder:
        """The charge a TRANSACTION_INITIALIZE_SESSION asks for (order_id: the Saleor transaction id)."""
        tx = parse_transaction(payload)
        if tx.action_type != "CHARGE":
            raise UnsupportedFlow("Crypto payments cannot be authorised and captured later: set the channel's "
                                  "transaction flow strategy to CHARGE for this payment app")
        return PlatformOrder(platform=PLATFORM, order_id=tx.id, request=invoice_request(tx), raw=payload)

    def apply_event(self, event_type: str, invoice: InvoiceView) -> OrderUpdate:
        reports = charge_reports(event_type, platform_invoice_facts(invoice), invoice.fiat_amount)
        order_id = (invoice.metadata or {}).get("saleor_transaction_id") or invoice.external_id or ""
        if not reports:
            return OrderUpdate(str(order_id), "ignored", event_type)
        return OrderUpdate(str(order_id), reports[-1].type, reports[-1].message)
