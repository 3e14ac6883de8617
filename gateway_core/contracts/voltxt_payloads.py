"""VOLTXT's names and webhook payloads (shared/specs/voltxt-plugin-api.txt, DESIGN.md §4), rendered from the core.

The bridge's VOLTXT contract reuses voltxt_status from here, so the API and the webhooks never disagree.
"""

from __future__ import annotations

import decimal
from datetime import datetime
from decimal import Decimal
from typing import Any

from gateway_core.adapters.jsonwire import iso
from gateway_core.domain import money
from gateway_core.domain.lifecycle import Status
from gateway_core.views import InvoiceView

# Rent-exempt minimum of a 165-byte SPL token account: what a deposit-mode USDC account costs to open.
TOKEN_ACCOUNT_RENT_LAMPORTS = 2_039_280

# Canonical event -> VOLTXT event_type (DESIGN.md §4). payment_completed depends on the settlement mode.
_EVENTS = {
    "invoice.partially_paid": "partial_payment_received",
    "invoice.paid": "payment_received",
    "invoice.expired": "invoice_expired",
    "invoice.underpaid": "invoice_expired",
    "invoice.overpaid": "overpayment_detected",
    "invoice.cancelled": "payment_cancelled",
}
# Events VOLTXT's webhooks have no word for but the merchant must hear of: told by email only. A transfer
# dropped before finality may follow a payment_received the shop already acted on (an order set to processing).
# Merchant emails for events VOLTXT webhooks have no name for; the quote-lock ones (issue 18) say what a payment
# to a lapsed quote was counted as, or that it waits for a fresh rate, and then what it was valued at.
EMAIL_ALERTS = {"invoice.payment_dropped": "payment_dropped",
                "invoice.payment_to_lapsed_quote": "payment_to_lapsed_quote",
                "invoice.payment_valued": "payment_valued"}
STORE_EVENTS = ("partial_payment_received", "payment_received", "payment_completed", "invoice_expired",
                "overpayment_detected", "payment_cancelled")
PLATFORM_NAMES = {"woocommerce": "WooCommerce", "whmcs": "WHMCS", "opencart": "OpenCart", "shopify": "Shopify",
                  "saleor": "Saleor", "magento": "Magento", "prestashop": "PrestaShop", "custom": "Custom"}


def voltxt_status(status: Status, settlement_mode: str) -> str:
    """Canonical status as VOLTXT names it (DESIGN.md §4)."""
    if status in (Status.PARTIALLY_PAID, Status.UNDERPAID):
        return "underpaid"
    if status in (Status.PAID, Status.CONFIRMED):
        return "paid"
    if status is Status.SETTLED:
        return "auto_processed" if settlement_mode == "deposit" else "paid"
    return status.value


def voltxt_event(canonical: str, settlement_mode: str) -> str | None:
    """The VOLTXT event_type for a canonical event, or None when VOLTXT announces nothing (e.g. invoice.created).

    Direct mode completes at `confirmed` (the funds are already in the merchant's wallet); deposit mode at
    `settled`, after the sweep.
    """
    if canonical == "invoice.confirmed":
        return "payment_completed" if settlement_mode == "direct" else None
    if canonical == "invoice.settled":
        return "payment_completed" if settlement_mode == "deposit" else None
    return _EVENTS.get(canonical)


def voltxt_tells(canonical: str) -> bool:
    """Whether VOLTXT tells the merchant of this canonical event at all, by webhook in some settlement mode or
    by an email alert (invoice.created: never)."""
    return canonical in EMAIL_ALERTS or any(voltxt_event(canonical, mode) for mode in ("direct", "deposit"))


def network_info(network: str, chain: str = "solana") -> dict[str, Any]:
    """Which explorer shows this network's transactions (the sandbox ledger has none)."""
    if network == "sandbox":
        return {"network": network, "cluster_param": None, "explorer_base_url": None}
    if chain == "tron":
        base = "https://tronscan.org" if network == "mainnet" else "https://nile.tronscan.org"
        return {"network": network, "cluster_param": None if network == "mainnet" else "nile",
                "explorer_base_url": base}
    return {"network": network, "cluster_param": "mainnet-beta" if network == "mainnet" else "devnet",
            "explorer_base_url": "https://explorer.solana.com"}


def explorer_urls(view: InvoiceView) -> dict[str, str | None]:
    """Links to the payment, the sweep and the deposit address on the network's explorer."""
    quote = view.display_quote
    chain = money.asset(quote.asset).chain

    def link(kind: str, value: str | None) -> str | None:
        return explorer_link(view.network, chain, kind, value)

    return {"payment_tx": link("tx", view.payment_tx_id), "auto_process_tx": link("tx", view.auto_process_tx_id),
            "deposit_address": link("address", quote.address)}


def explorer_link(network: str, chain: str, kind: str, value: str | None) -> str | None:
    """A transaction (kind "tx") or an address ("address") on the network's explorer; None on the sandbox."""
    info = network_info(network, chain)
    base = info["explorer_base_url"]
    if base is None or not value:
        return None
    if chain == "tron":
        return f"{base}/#/{'transaction' if kind == 'tx' else 'address'}/{value}"
    cluster = "" if network == "mainnet" else f"?cluster={info['cluster_param']}"
    return f"{base}/{kind}/{value}{cluster}"


def rent_lamports(view: InvoiceView) -> int:
    """Deposit mode opens a token account per invoice on Solana; its rent is part of the breakdown."""
    solana = any(money.asset(q.asset).chain == "solana" for q in view.quotes)
    return TOKEN_ACCOUNT_RENT_LAMPORTS if view.settlement_mode == "deposit" and solana else 0


def payment_breakdown(view: InvoiceView) -> dict[str, Any]:
    """The customer's payment (in SOL terms), the rent, and the total the deposit account holds."""
    sol = next((q for q in view.quotes if q.asset == "SOL"), None)
    customer = int(view.progress * sol.amount_due) if sol else 0
    rent = rent_lamports(view)
    display = view.display_quote
    return {
        "type": "pda_based" if view.settlement_mode == "deposit" else "direct_wallet",
        "customer_payment_sol": money.from_base_units(customer, money.SOL),
        "customer_payment_lamports": customer,
        "rent_sol": money.from_base_units(rent, money.SOL),
        "rent_lamports": rent,
        "total_sol": money.from_base_units(customer + rent, money.SOL),
        "total_lamports": customer + rent,
        "paid_currency": view.paid_asset,
        "customer_payment_amount": display.units(view.received_units),
        "customer_payment_currency": display.asset,
    }


def _amounts(view: InvoiceView) -> dict[str, Any]:
    """The document's webhook table: amount_crypto is the total received. Every crypto amount is in the
    invoice's crypto_currency, the one its create response named (the document's USDC-paid example carries
    the SOL figures), whatever asset was paid (paid_currency says which; payment_breakdown has its amount).
    """
    base = view.quotes[0]
    received = int(view.progress * base.amount_due)  # rounded down, as received_units
    return {
        "amount_crypto": base.units(received),
        "crypto_currency": base.asset,
        "amount_due_crypto": base.units(base.amount_due),  # ours: what the invoice asks for
        "amount_fiat": view.fiat_amount,
        "fiat_currency": view.fiat_currency,
        "amount_received_crypto": base.units(received),
        "remaining_amount_crypto": base.units(max(0, base.amount_due - received)),
        "payment_progress_percentage": view.progress_percent,
    }


def invoice_payload(view: InvoiceView, event_type: str, at: datetime, event_id: str) -> dict[str, Any]:
    """The per-invoice callback body, without its `signature` (signing.invoice_signature adds it)."""
    body: dict[str, Any] = {
        "event_type": event_type,
        "event_id": event_id,
        "invoice_number": view.number,
        "external_invoice_id": view.external_id,
        "platform": view.platform,
        "network": view.network,
        "status": voltxt_status(view.status, view.settlement_mode),
        "lifecycle_status": view.status.value,
        "paid_currency": view.paid_asset,
        **_amounts(view),
        "initial_rent_sol": money.from_base_units(rent_lamports(view), money.SOL),
        "is_overpaid": view.overpaid,
        "is_paid_late": view.paid_late,
        "payment_tx_id": view.payment_tx_id,
        "auto_process_tx_id": view.auto_process_tx_id,
        "customer_email": view.customer_email,
        "customer_name": view.customer_name,
        "metadata": view.metadata or {},
        "explorer_urls": explorer_urls(view),
        "timestamp": iso(at),
    }
    if view.kind == "dynamic":
        body["session_id"] = view.number  # the official plugins fall back to it for dynamic payments
    return body


def store_payload(view: InvoiceView, store: Any, event_type: str, at: datetime, event_id: str) -> dict[str, Any]:
    """The store webhook body: invoice, store, merchant, network_info, metadata (spec order)."""
    fee_percent = view.platform_fee_percent
    display, base = view.display_quote, view.quotes[0]
    # In crypto_currency, as the payload's other crypto amounts (the document: 1 % of 0.666666667 SOL).
    fee = (base.units(base.amount_due) * fee_percent / 100).quantize(
        money.asset(base.asset).unit, rounding=decimal.ROUND_HALF_UP)
    chain = money.asset(display.asset).chain
    return {
        "event_type": event_type,
        "event_id": event_id,
        "timestamp": iso(at),
        "webhook_version": "1.0",
        "invoice": {
            "invoice_number": view.number,
            "external_invoice_id": view.external_id,
            "status": voltxt_status(view.status, view.settlement_mode),
            "lifecycle_status": view.status.value,
            "network": view.network,
            "platform": view.platform,
            "platform_display": PLATFORM_NAMES.get((view.platform or "").lower(), view.platform),
            **_amounts(view),
            "paid_currency": view.paid_asset,
            "is_overpaid": view.overpaid,
            "is_paid_late": view.paid_late,
            "payment_breakdown": payment_breakdown(view),
            "platform_fee_percentage": fee_percent,
            "platform_fee_amount": fee if fee else Decimal(0),
            "customer_name": view.customer_name,
            "customer_email": view.customer_email,
            "description": view.description,
            "created_at": iso(view.created_at),
            "updated_at": iso(view.updated_at),
            "expiry_date": iso(view.expires_at),
            "is_expired": view.is_expired(at),
            "deposit_address": display.address,
            "payment_tx_id": view.payment_tx_id,
            "auto_process_tx_id": view.auto_process_tx_id,
            "explorer_urls": explorer_urls(view),
        },
        "store": store_block(store),
        "merchant": {"id": store.id, "name": store.name, "email": store.notification_email},
        "network_info": network_info(view.network, chain),
        "metadata": view.metadata or {},
    }


def store_block(store: Any) -> dict[str, Any]:
    return {"id": store.id, "name": store.name, "network": store.network, "website_url": store.website_url,
            "support_email": store.support_email}


def webhook_headers(kind: str, event_type: str, invoice_number: str | None, network: str,
                    store_id: int) -> dict[str, str]:
    """The VOLTXT headers fixed at enqueue time; signatures are added when the delivery is sent."""
    headers = {"Content-Type": "application/json",
               "User-Agent": "VOLTXT-Store-Webhook/1.0" if kind == "store" else "VOLTXT-Webhook/1.0",
               "X-VOLTXT-Event": event_type, "X-VOLTXT-Invoice": invoice_number or ""}
    if kind == "store":
        headers["X-VOLTXT-Store"] = str(store_id)
    headers["X-VOLTXT-Network"] = network
    return headers
