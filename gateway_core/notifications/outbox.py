"""The outbox: deliveries (webhooks and emails) written in the same transaction as the event that causes them.

Bodies are rendered here, at enqueue time, from the invoice as the event left it: a retry or a manual
redelivery sends the same bytes with the same event id. Signatures with time in them are added at send time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, lazyload
from sqlalchemy.orm.attributes import set_committed_value

from gateway_core.adapters.jsonwire import dumps
from gateway_core.adapters.models import (
    ContractWebhook,
    Delivery,
    Event,
    Invoice,
    PlatformOrder,
    Store,
    WebhookEndpoint,
)
from gateway_core.adapters.notify.signing import invoice_signature, new_endpoint_secret
from gateway_core.adapters.notify.ssrf import Allowlist, creation_problem
from gateway_core.contracts.registry import formats
from gateway_core.contracts.voltxt_payloads import (
    EMAIL_ALERTS,
    invoice_payload,
    store_block,
    store_payload,
    voltxt_event,
    voltxt_tells,
    webhook_headers,
)
from gateway_core.domain import money
from gateway_core.domain.errors import DeliveryNotFound, ValidationFailed, said
from gateway_core.domain.identifiers import new_event_id
from gateway_core.domain.lifecycle import plan
from gateway_core.views import fiat_received, invoice_view, payment_facts

# Invoices created by a storefront adapter carry the platform as their contract and may have PlatformOrder rows.
PLATFORM_CONTRACTS = frozenset({"woocommerce", "saleor", "shopify"})

DELIVERY_NOT_FOUND = said("delivery_not_found", "Delivery not found")


def check_callback_url(url: str, allowlist: Sequence[str]) -> None:
    """The SSRF guard at invoice creation: VALIDATION_ERROR for a callback URL we would never call."""
    problem = creation_problem(url, Allowlist(allowlist))
    if problem:
        raise ValidationFailed("Request validation failed", errors={"callback_url": f"not allowed: {problem}"})


def subscribed(store: Store, event_type: str) -> bool:
    """Every event until the merchant chooses a list."""
    chosen = (store.webhook_events or {}).get("events")
    return chosen is None or event_type in chosen


def endpoint_for(session: Session, store_id: int, kind: str, url: str, now: datetime) -> WebhookEndpoint:
    """The endpoint row for this URL (created with its own whsec_ secret on first use)."""
    digest = hashlib.sha256(url.encode()).hexdigest()
    query = select(WebhookEndpoint).where(WebhookEndpoint.store_id == store_id, WebhookEndpoint.kind == kind,
                                          WebhookEndpoint.url_digest == digest)
    found = session.execute(query).scalar_one_or_none()
    if found is not None:
        return found
    endpoint = WebhookEndpoint(store_id=store_id, kind=kind, url=url, url_digest=digest,
                               secret=new_endpoint_secret(), created_at=now)
    try:
        with session.begin_nested():
            session.add(endpoint)
            session.flush()
    except IntegrityError:  # created concurrently by another transaction
        return session.execute(query).scalar_one()
    return endpoint


_STORE = select(Store).where(Store.id == bindparam("store_id")).options(lazyload(Store.wallets))


def store_of(session: Session, invoice: Invoice) -> Store:
    """The invoice's store. A new invoice comes from the insert without it (the request had a snapshot): it is
    read here, without its wallets, only when a delivery needs it."""
    if invoice.store is None:
        set_committed_value(invoice, "store", session.execute(_STORE, {"store_id": invoice.store_id}).scalar_one())
    return invoice.store


def event_link(event: Event) -> dict[str, Any]:
    """How a delivery points at its event: by key when the event row is already written (creation inserts it
    with Core), else through the relationship so the ORM orders the inserts."""
    return {"event_ref": event.id} if event.id is not None else {"event": event}


def enqueue_for_event(session: Session, invoice: Invoice, event: Event, now: datetime) -> list[Delivery]:
    """Every delivery an invoice event causes, in the same transaction as the event."""
    deliveries = _voltxt_deliveries(session, invoice, event, now)
    deliveries += _contract_deliveries(session, invoice, event, now)
    deliveries += _platform_deliveries(session, invoice, event, now)
    session.add_all(deliveries)
    return deliveries


def _contract_deliveries(session: Session, invoice: Invoice, event: Event, now: datetime) -> list[Delivery]:
    """The webhook of the contract the invoice was created through, to the store's URL for that contract."""
    if invoice.contract == "voltxt":
        return []
    fmt = formats().get(invoice.contract)
    if fmt is None:
        return []
    hook = session.execute(select(ContractWebhook).where(
        ContractWebhook.store_id == invoice.store_id, ContractWebhook.contract == invoice.contract)
    ).scalar_one_or_none()
    if hook is None:
        return []
    store_of(session, invoice)
    message = fmt.message(invoice_view(invoice, now), event.type, event.event_id, event.created_at)
    if message is None:
        return []
    return [Delivery(
        store_id=invoice.store_id, **event_link(event), event_id=event.event_id, event_type=message.event_name,
        invoice_number=invoice.number, channel=invoice.contract,
        endpoint=endpoint_for(session, invoice.store_id, invoice.contract, hook.url, now),
        body=dumps(message.payload), headers={"Content-Type": "application/json", **message.headers},
        next_attempt_at=now, created_at=now, updated_at=now)]


def _platform_deliveries(session: Session, invoice: Invoice, event: Event, now: datetime) -> list[Delivery]:
    """A report to each storefront order paid by this invoice (Saleor, Shopify, WooCommerce REST).

    The body is the canonical event and the order's reference; the platform's channel (storefront_adapters)
    turns it into the platform's own call at send time. An order lists the events it wants in data["events"].
    """
    if invoice.contract not in PLATFORM_CONTRACTS:
        return []  # no query on the hot path of every other invoice
    orders = session.execute(select(PlatformOrder).where(PlatformOrder.invoice_id == invoice.id)).scalars().all()
    if not orders:
        return []
    store_of(session, invoice)
    view = invoice_view(invoice, now)
    deliveries = []
    for order in orders:
        wanted = (order.data or {}).get("events")
        if wanted is not None and event.type not in wanted:
            continue
        deliveries.append(platform_delivery(session, invoice, event, order, view, now))
    return deliveries


def platform_delivery(session: Session, invoice: Invoice, event: Event, order: PlatformOrder, view: Any,
                      now: datetime) -> Delivery:
    """The report of one invoice event to one storefront order (not yet added to the session)."""
    installation = order.installation
    body = {"event_type": event.type, "event_id": event.event_id, "occurred_at": event.created_at,
            "order_ref": order.order_ref, "order": order.data or {}, "installation_id": installation.id,
            "invoice": platform_invoice_facts(view)}
    return Delivery(
        store_id=invoice.store_id, **event_link(event), event_id=event.event_id, event_type=event.type,
        invoice_number=invoice.number, channel=installation.platform,
        endpoint=endpoint_for(session, invoice.store_id, installation.platform, installation.account, now),
        body=dumps(body), headers={}, next_attempt_at=now, created_at=now, updated_at=now)


def platform_invoice_facts(view: Any) -> dict[str, Any]:
    """What a storefront needs to report an invoice event: status, amounts in the order's currency, the tx."""
    return {"number": view.number, "status": view.status.value, "paid_late": view.paid_late,
            "overpaid": view.overpaid, "fiat_currency": view.fiat_currency, "fiat_amount": view.fiat_amount,
            "paid_asset": view.paid_asset, "payment_tx_id": view.payment_tx_id, "network": view.network,
            "expires_at": view.expires_at, "fiat_received": fiat_received(view),
            "fiat_received_in_window": fiat_received(view, ("matched",))}


def _voltxt_deliveries(session: Session, invoice: Invoice, event: Event, now: datetime) -> list[Delivery]:
    """The VOLTXT deliveries: callback webhook, store webhook, merchant email."""
    if not voltxt_tells(event.type):
        return []  # before reading the store: a new invoice's is read only when something may be sent
    store = store_of(session, invoice)
    event_type = voltxt_event(event.type, store.settlement_mode)
    if event_type is None:
        return _email_alert(invoice, event, now)
    view = invoice_view(invoice, now)
    common: dict[str, Any] = {"store_id": store.id, **event_link(event), "event_id": event.event_id,
                              "event_type": event_type, "invoice_number": invoice.number,
                              "next_attempt_at": now, "created_at": now, "updated_at": now}
    deliveries = []
    if invoice.callback_url:
        payload = invoice_payload(view, event_type, event.created_at, event.event_id)
        payload["signature"] = invoice_signature(payload, store.webhook_secret)
        deliveries.append(Delivery(
            channel="callback", endpoint=endpoint_for(session, store.id, "callback", invoice.callback_url, now),
            body=dumps(payload), headers=webhook_headers("callback", event_type, invoice.number, invoice.network,
                                                         store.id), **common))
    if subscribed(store, event_type) and (store.webhook_url or _email_on(store)):
        body = dumps(store_payload(view, store, event_type, event.created_at, event.event_id))
        if store.webhook_url:
            deliveries.append(Delivery(
                channel="store", endpoint=endpoint_for(session, store.id, "store", store.webhook_url, now),
                body=body, headers=webhook_headers("store", event_type, invoice.number, invoice.network, store.id),
                **common))
        if _email_on(store):
            deliveries.append(Delivery(channel="email", recipient=store.notification_email, body=body, **common))
    return deliveries


def _email_alert(invoice: Invoice, event: Event, now: datetime) -> list[Delivery]:
    """The merchant's email for an event VOLTXT webhooks do not carry (EMAIL_ALERTS), whatever the store's
    webhook event list: it is about an order the shop may already be fulfilling."""
    store, alert = invoice.store, EMAIL_ALERTS.get(event.type)
    if alert is None or not _email_on(store):
        return []
    view = invoice_view(invoice, now)
    steps = plan(view.status, payment_facts(invoice, now))
    if steps:  # the alert is written before the status moves back: show where the payments now leave it
        view = replace(view, status=steps[-1])
    payload = store_payload(view, store, alert, event.created_at, event.event_id)
    data = event.data or {}
    if "asset" in data and "amount" in data:
        payload["alert"] = {"tx_id": data.get("tx_id"), "asset": data["asset"],
                            "amount": money.from_base_units(int(data["amount"]), money.asset(str(data["asset"])))}
        # A payment to a lapsed quote: the rate it was valued at and when, or that it still waits for one.
        payload["alert"].update({k: data[k] for k in ("awaiting_rate", "rate", "rated_at") if k in data})
    return [Delivery(store_id=store.id, **event_link(event), event_id=event.event_id, event_type=alert,
                     invoice_number=invoice.number, channel="email", recipient=store.notification_email,
                     body=dumps(payload), next_attempt_at=now, created_at=now, updated_at=now)]


def _email_on(store: Store) -> bool:
    return bool(store.email_notifications and store.notification_email)


def sample_payload(store: Store, event_type: str, at: datetime, event_id: str) -> dict[str, Any]:
    """A synthetic store payload for test sends: the real shape, an invoice that does not exist."""
    sandbox = store.network == "sandbox"
    cluster = "" if store.network == "mainnet" else "?cluster=devnet"
    return {
        "event_type": event_type, "event_id": event_id, "timestamp": at, "webhook_version": "1.0", "test": True,
        "invoice": {
            "invoice_number": "TEST00000000", "external_invoice_id": "test_order", "status": "paid",
            "lifecycle_status": "paid", "network": store.network, "platform": "custom", "platform_display": "Custom",
            "amount_crypto": Decimal("0.1"), "crypto_currency": "SOL", "amount_due_crypto": Decimal("0.1"),
            "amount_fiat": Decimal("15.00"),
            "fiat_currency": "USD",
            "amount_received_crypto": Decimal("0.1"), "remaining_amount_crypto": Decimal("0"),
            "payment_progress_percentage": Decimal("100.00"), "paid_currency": "SOL", "is_overpaid": False,
            "is_paid_late": False,
            "payment_breakdown": {"type": "pda_based" if store.settlement_mode == "deposit" else "direct_wallet",
                                  "customer_payment_sol": Decimal("0.1"), "customer_payment_lamports": 100_000_000,
                                  "rent_sol": Decimal("0"), "rent_lamports": 0, "total_sol": Decimal("0.1"),
                                  "total_lamports": 100_000_000, "paid_currency": "SOL",
                                  "customer_payment_amount": Decimal("0.1"), "customer_payment_currency": "SOL"},
            "platform_fee_percentage": store.platform_fee_percent, "platform_fee_amount": Decimal("0"),
            "customer_name": "Test Customer", "customer_email": "customer@example.com",
            "description": "Test webhook from voltbridge", "created_at": at, "updated_at": at, "expiry_date": at,
            "is_expired": False, "deposit_address": "TestDepositAddress", "payment_tx_id": "test_tx",
            "auto_process_tx_id": None,
            "explorer_urls": {"payment_tx": None if sandbox else f"https://explorer.solana.com/tx/test_tx{cluster}",
                              "auto_process_tx": None, "deposit_address": None},
        },
        "store": store_block(store),
        "merchant": {"id": store.id, "name": store.name, "email": store.notification_email},
        "network_info": {"network": store.network, "cluster_param": None, "explorer_base_url": None},
        "metadata": {"test": True},
    }


def enqueue_test(session: Session, store: Store, channel: str, now: datetime) -> Delivery:
    """A synthetic event to the store webhook (channel 'store'), the merchant's mailbox ('email'), or a contract's
    webhook (the contract's name: a plain test message, signed at send time as that contract signs)."""
    event_id = new_event_id()
    if channel in formats():
        return _contract_test(session, store, channel, now, event_id)
    event_type = "webhook_test" if channel == "store" else "email_test"
    body = dumps(sample_payload(store, event_type, now, event_id))
    delivery = Delivery(store_id=store.id, event_id=event_id, event_type=event_type, invoice_number="TEST00000000",
                        channel=channel, body=body, next_attempt_at=now, created_at=now, updated_at=now)
    if channel == "store":
        assert store.webhook_url
        delivery.endpoint = endpoint_for(session, store.id, "store", store.webhook_url, now)
        delivery.headers = webhook_headers("store", event_type, "TEST00000000", store.network, store.id)
    else:
        delivery.recipient = store.notification_email
    session.add(delivery)
    session.flush()
    return delivery


def _contract_test(session: Session, store: Store, contract: str, now: datetime, event_id: str) -> Delivery:
    # No invoice to render the contract's own payload from: a small message that says it is a test, which the
    # receiver can check the contract's signature of (what a merchant tests: the URL answers, the secret matches).
    hook = session.execute(select(ContractWebhook).where(
        ContractWebhook.store_id == store.id, ContractWebhook.contract == contract)).scalar_one()
    body = {"event_type": "webhook_test", "event_id": event_id, "timestamp": now, "test": True,
            "contract": contract, "store": {"id": store.id, "name": store.name, "network": store.network}}
    delivery = Delivery(store_id=store.id, event_id=event_id, event_type="webhook_test",
                        invoice_number="TEST00000000", channel=contract,
                        endpoint=endpoint_for(session, store.id, contract, hook.url, now), body=dumps(body),
                        headers={"Content-Type": "application/json"}, next_attempt_at=now, created_at=now,
                        updated_at=now)
    session.add(delivery)
    session.flush()
    return delivery


def enqueue_dead_letter_notice(session: Session, failed: Delivery, store: Store, now: datetime) -> Delivery | None:
    """Tell the merchant a webhook was given up on (never for a failed email: that would loop)."""
    if failed.channel == "email" or not store.notification_email:
        return None
    context = {"event_type": "delivery_failed", "event_id": failed.event_id, "timestamp": now,
               "failed": {"delivery_id": failed.id, "event_id": failed.event_id, "event_type": failed.event_type,
                          "invoice_number": failed.invoice_number, "channel": failed.channel,
                          "url": failed.endpoint.url if failed.endpoint else None, "attempts": failed.attempts,
                          "last_status_code": failed.last_status_code, "last_error": failed.last_error,
                          "first_attempt_at": failed.first_attempt_at},
               "store": store_block(store), "merchant": {"id": store.id, "name": store.name,
                                                         "email": store.notification_email}}
    notice = Delivery(store_id=store.id, event_id=failed.event_id, event_type="delivery_failed",
                      invoice_number=failed.invoice_number, channel="email", recipient=store.notification_email,
                      body=dumps(context), next_attempt_at=now, created_at=now, updated_at=now)
    session.add(notice)
    return notice


def redeliver(session: Session, store: Store, delivery_id: int, now: datetime) -> Delivery:
    """A new delivery of the same message: same event id and body, marked as a redelivery, due now."""
    original = session.get(Delivery, delivery_id)
    if original is None or original.store_id != store.id:
        raise DeliveryNotFound(DELIVERY_NOT_FOUND)
    copy = Delivery(store_id=store.id, event_ref=original.event_ref, event_id=original.event_id,
                    event_type=original.event_type, invoice_number=original.invoice_number,
                    channel=original.channel, endpoint_id=original.endpoint_id, recipient=original.recipient,
                    body=original.body, headers=original.headers, next_attempt_at=now, is_redelivery=True,
                    redelivery_of=original.redelivery_of or original.id, created_at=now, updated_at=now)
    session.add(copy)
    session.flush()
    return copy
