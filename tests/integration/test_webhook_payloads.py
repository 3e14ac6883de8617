# ruff: noqa: F811 - pytest fixtures are imported from notify_support and used as arguments
"""Acceptance 2, 3 and 9 of issue 4: the callback and store webhooks as a real receiver on 127.0.0.1 sees them,
checked against the spec's payloads, headers and signature procedures (written here from the spec's PHP)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from gateway_core.adapters.jsonwire import loads
from gateway_core.adapters.models import Invoice
from gateway_core.clock import FrozenClock
from gateway_core.domain.lifecycle import Status
from gateway_core.invoices.create import create_invoice
from gateway_core.invoices.manage import InvoiceRequest, cancel_invoice
from gateway_core.payments.assess import lock_invoice, move
from gateway_core.payments.transfers import record_transfers
from gateway_core.ports import ObservedTransfer
from gateway_core.stores.manage import create_store, find_store
from tests.conftest import post_json, tick
from tests.integration.notify_support import (  # noqa: F401 - fixtures
    configure,
    create,
    deliveries,
    dispatcher,
    napp,
    nclient,
    nsettings,
    nsvc,
    pay,
    php_verify_invoice_webhook,
    php_verify_store_webhook,
    receiver,
    shop,
)

INVOICE_FIELDS = ("event_type", "invoice_number", "external_invoice_id", "platform", "network", "status",
                  "paid_currency", "amount_crypto", "amount_fiat", "fiat_currency", "amount_received_crypto",
                  "initial_rent_sol", "remaining_amount_crypto", "payment_progress_percentage", "payment_tx_id",
                  "auto_process_tx_id", "customer_email", "customer_name", "explorer_urls", "timestamp",
                  "signature")
STORE_INVOICE_FIELDS = ("invoice_number", "external_invoice_id", "status", "network", "platform",
                        "platform_display", "amount_crypto", "amount_fiat", "fiat_currency", "amount_received_crypto",
                        "remaining_amount_crypto", "payment_progress_percentage", "is_overpaid", "payment_breakdown",
                        "platform_fee_percentage", "platform_fee_amount", "customer_name", "customer_email",
                        "description", "created_at", "updated_at", "expiry_date", "is_expired", "deposit_address",
                        "payment_tx_id", "auto_process_tx_id", "explorer_urls")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture
def clock() -> FrozenClock:
    # Standard Webhooks receivers reject timestamps more than 5 minutes from their own clock.
    return FrozenClock(datetime.now(UTC).replace(microsecond=0))


def _secrets(nclient: Any, api_key: str) -> dict[str, Any]:
    body = post_json(nclient, "/api/plugin/store/settings", {"api_key": api_key}).get_json()
    signing: dict[str, Any] = body["data"]["settings"]["signing"]
    return signing


def test_callback_and_store_webhooks_carry_the_spec_payloads_headers_and_signatures(
        nsvc, nclient, shop, receiver, dispatcher) -> None:
    configure(nsvc, shop.id, webhook_url=receiver.url("/store"), website_url="https://shop.test",
              support_email="help@shop.test")
    created = create(nclient, shop.api_key, callback_url=receiver.url("/cb"), customer_email="buyer@example.com",
                     customer_name="John Doe", description="Order #1", network="testnet",
                     metadata={"order_id": 12345, "product_ids": [1, 2, 3], "price": Decimal("19.990")})
    number = created["invoice_number"]
    pay(nsvc, number, "SOL")  # full amount, final at once on the sandbox: paid -> confirmed -> settled
    dispatcher.run_until_idle()

    callbacks = receiver.posts("/cb")
    stores = receiver.posts("/store")
    # Direct mode: paid announces payment_received, confirmed announces payment_completed (DESIGN.md §4).
    assert [r.json()["event_type"] for r in callbacks] == ["payment_received", "payment_completed"]
    assert [r.json()["event_type"] for r in stores] == ["payment_received", "payment_completed"]
    signing = _secrets(nclient, shop.api_key)
    endpoint_secret = {e["url"]: e["secret"] for e in signing["endpoints"]}
    assert signing["invoice_webhook_secret"] == shop.webhook_secret
    assert signing["store_webhook_secret"] == endpoint_secret[receiver.url("/store")]
    assert endpoint_secret[receiver.url("/cb")] != endpoint_secret[receiver.url("/store")]  # one per endpoint

    with nsvc.uow() as uow:
        invoice = uow.session.execute(select(Invoice).where(Invoice.number == number)).scalar_one()
        tx_id = invoice.payment_tx_id
    for request in callbacks:
        payload = request.json()
        assert all(field in payload for field in INVOICE_FIELDS), set(INVOICE_FIELDS) - set(payload)
        assert request.header("Content-Type") == "application/json"
        assert request.header("User-Agent") == "VOLTXT-Webhook/1.0"
        assert request.header("X-VOLTXT-Event") == payload["event_type"]
        assert request.header("X-VOLTXT-Invoice") == number
        assert request.header("X-VOLTXT-Network") == "sandbox"
        assert php_verify_invoice_webhook(payload, payload["signature"], shop.webhook_secret)
        assert not php_verify_invoice_webhook(payload, payload["signature"], "another-secret")
        Webhook(endpoint_secret[receiver.url("/cb")]).verify(request.body, request.headers)
        assert request.header("webhook-id") == payload["event_id"]
        assert payload["status"] == "paid" and payload["network"] == "sandbox"
        assert payload["external_invoice_id"] == "order_1" and payload["platform"] == "woocommerce"
        assert payload["paid_currency"] == "SOL" and payload["payment_tx_id"] == tx_id
        assert payload["customer_email"] == "buyer@example.com" and payload["customer_name"] == "John Doe"
        assert payload["metadata"] == {"order_id": 12345, "product_ids": [1, 2, 3], "price": Decimal("19.990")}
        assert TIMESTAMP.match(payload["timestamp"])
        raw = request.body.decode()
        # 99.99 USD at 150 USD/SOL: exact JSON numbers, rendered from Decimal.
        assert '"amount_crypto":0.6666,' in raw and '"amount_fiat":99.99,' in raw
        assert '"amount_received_crypto":0.6666,' in raw and '"remaining_amount_crypto":0,' in raw
        assert '"payment_progress_percentage":100,' in raw and '"initial_rent_sol":0,' in raw
        assert '"price":19.99}' in raw  # exact, never through float
        # The sandbox ledger has no public explorer.
        assert payload["explorer_urls"] == {"payment_tx": None, "auto_process_tx": None, "deposit_address": None}

    for request in stores:
        payload = request.json()
        assert list(payload)[:4] == ["event_type", "event_id", "timestamp", "webhook_version"] or \
            {"event_type", "timestamp", "webhook_version"} <= set(payload)
        assert {"invoice", "store", "merchant", "network_info", "metadata"} <= set(payload)
        assert all(field in payload["invoice"] for field in STORE_INVOICE_FIELDS), \
            set(STORE_INVOICE_FIELDS) - set(payload["invoice"])
        assert request.header("User-Agent") == "VOLTXT-Store-Webhook/1.0"
        assert request.header("Content-Type") == "application/json"
        assert request.header("X-VOLTXT-Event") == payload["event_type"]
        assert request.header("X-VOLTXT-Invoice") == number
        assert request.header("X-VOLTXT-Store") == str(shop.id)
        assert request.header("X-VOLTXT-Network") == "sandbox"
        assert php_verify_store_webhook(request.body, request.header("X-VOLTXT-Signature") or "", shop.api_key)
        assert not php_verify_store_webhook(request.body + b" ", request.header("X-VOLTXT-Signature") or "",
                                            shop.api_key)
        Webhook(signing["store_webhook_secret"]).verify(request.body, request.headers)
        assert payload["store"] == {"id": shop.id, "name": "Notify Shop", "network": "sandbox",
                                    "website_url": "https://shop.test", "support_email": "help@shop.test"}
        assert payload["merchant"] == {"id": shop.id, "name": "Notify Shop", "email": "owner@shop.test"}
        assert payload["network_info"]["network"] == "sandbox"
        assert payload["metadata"]["order_id"] == 12345
        breakdown = payload["invoice"]["payment_breakdown"]
        assert breakdown["type"] == "direct_wallet"
        assert breakdown["customer_payment_lamports"] == 666_600_000
        assert breakdown["customer_payment_sol"] == Decimal("0.6666")
        assert breakdown["rent_lamports"] == 0 and breakdown["total_lamports"] == 666_600_000
        assert payload["invoice"]["platform_display"] == "WooCommerce"
        assert payload["invoice"]["status"] == "paid"
    # The same event id reaches both kinds of endpoint: receivers can dedupe across them.
    assert [r.header("webhook-id") for r in callbacks] == [r.header("webhook-id") for r in stores]


def _events(svc: Any, channel: str = "callback") -> list[tuple[str, str]]:
    out = []
    for delivery in deliveries(svc, channel=channel):
        body = loads(delivery.body)
        status = body["status"] if channel == "callback" else body["invoice"]["status"]
        out.append((body["event_type"], status))
    return out


def test_event_names_and_statuses_follow_the_lifecycle_table(nsvc, nclient, shop, receiver, clock) -> None:
    cb = receiver.url("/cb")
    half = create(nclient, shop.api_key, external_invoice_id="half", callback_url=cb)["invoice_number"]
    pay(nsvc, half, "USDC", Decimal("50"))
    assert _events(nsvc)[-1] == ("partial_payment_received", "underpaid")

    over = create(nclient, shop.api_key, external_invoice_id="over", callback_url=cb)["invoice_number"]
    pay(nsvc, over, "USDC", Decimal("150"))
    body = loads(deliveries(nsvc, invoice_number=over, event_type="overpayment_detected")[0].body)
    assert body["is_overpaid"] is True and body["status"] == "paid"

    with nsvc.uow() as uow:
        store = find_store(uow, shop.id)
        request = InvoiceRequest(amount=Decimal("10"), external_id="cancel", callback_url=cb)
        view = create_invoice(uow, store, request, nsvc.invoicing).view
    with nsvc.uow() as uow:
        cancel_invoice(uow, find_store(uow, shop.id), view.number, nsvc.clock)
    assert _events(nsvc)[-1] == ("payment_cancelled", "cancelled")

    unpaid = create(nclient, shop.api_key, external_invoice_id="unpaid", callback_url=cb,
                    expiry_hours=1)["invoice_number"]
    clock.advance(hours=2)  # "half" (24 h) stays open; "unpaid" (1 h) expires with nothing paid
    tick(nsvc)
    assert loads(deliveries(nsvc, invoice_number=unpaid)[-1].body)["event_type"] == "invoice_expired"
    assert loads(deliveries(nsvc, invoice_number=unpaid)[-1].body)["status"] == "expired"
    clock.advance(hours=23)  # "half" closes part paid
    tick(nsvc)
    last = loads(deliveries(nsvc, invoice_number=half)[-1].body)
    assert (last["event_type"], last["status"]) == ("invoice_expired", "underpaid")
    # invoice.created has no VOLTXT event: nothing was queued for it.
    assert all(d.event_type != "invoice.created" for d in deliveries(nsvc))


def test_deposit_mode_completes_at_settled_as_auto_processed_with_rent(nsvc, nclient, receiver) -> None:
    with nsvc.uow() as uow:
        store = create_store(uow, nsvc.vault, name="Deposit Shop", network="sandbox", settlement_mode="deposit",
                             platform_fee_percent=Decimal("1.0"))
    configure(nsvc, store.id, webhook_url=receiver.url("/store"))
    number = create(nclient, store.api_key, callback_url=receiver.url("/cb"))["invoice_number"]
    pay(nsvc, number, "SOL")
    assert [e for e, _ in _events(nsvc)] == ["payment_received"]  # confirmed announces nothing in deposit mode
    with nsvc.uow() as uow:
        invoice = uow.session.execute(select(Invoice).where(Invoice.number == number)).scalar_one()
        invoice = lock_invoice(uow.session, invoice.id)
        invoice.auto_process_tx_id = "sweep-tx"
        move(uow.session, invoice, Status.SETTLED, nsvc.clock.now())  # what the deposit sweep does
    assert _events(nsvc)[-1] == ("payment_completed", "auto_processed")
    callback = loads(deliveries(nsvc, channel="callback")[-1].body)
    assert callback["initial_rent_sol"] == Decimal("0.00203928") and callback["auto_process_tx_id"] == "sweep-tx"
    stored = loads(deliveries(nsvc, channel="store")[-1].body)["invoice"]
    assert stored["payment_breakdown"] == {
        "type": "pda_based", "customer_payment_sol": Decimal("0.6666"), "customer_payment_lamports": 666_600_000,
        "rent_sol": Decimal("0.00203928"), "rent_lamports": 2_039_280, "total_sol": Decimal("0.66863928"),
        "total_lamports": 668_639_280, "paid_currency": "SOL", "customer_payment_amount": Decimal("0.6666"),
        "customer_payment_currency": "SOL"}
    assert stored["platform_fee_percentage"] == Decimal("1.0")
    assert stored["platform_fee_amount"] == Decimal("0.006666")


@pytest.mark.parametrize(("network", "suffix"), [("devnet", "?cluster=devnet"), ("mainnet", "")])
def test_explorer_urls_follow_the_network(nsvc, receiver, network, suffix) -> None:
    wallet = "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU"
    with nsvc.uow() as uow:
        made = create_store(uow, nsvc.vault, name=f"{network} shop", network=network, wallets={"SOL": wallet})
    with nsvc.uow() as uow:
        request = InvoiceRequest(amount=Decimal("15"), external_id="x", callback_url=receiver.url("/cb"))
        view = create_invoice(uow, find_store(uow, made.id), request, nsvc.invoicing).view
    quote = view.quotes[0]
    transfer = ObservedTransfer(chain="solana", network=network, tx_id="5j7sig", transfer_index=0, asset="SOL",
                                amount=quote.amount_due, to_address=wallet, from_address=None,
                                reference=quote.reference, block_time=nsvc.clock.now(), confirmations=32, final=True)
    record_transfers(nsvc.uow, [transfer], nsvc.clock, nsvc.quoting)
    body = loads(deliveries(nsvc, channel="callback")[0].body)
    assert body["network"] == network
    assert body["explorer_urls"] == {
        "payment_tx": f"https://explorer.solana.com/tx/5j7sig{suffix}", "auto_process_tx": None,
        "deposit_address": f"https://explorer.solana.com/address/{wallet}{suffix}"}


def test_store_webhooks_follow_the_subscription_and_callbacks_do_not(nsvc, nclient, shop, receiver) -> None:
    configure(nsvc, shop.id, webhook_url=receiver.url("/store"), webhook_events={"events": ["payment_completed"]})
    number = create(nclient, shop.api_key, callback_url=receiver.url("/cb"))["invoice_number"]
    pay(nsvc, number)
    assert [e for e, _ in _events(nsvc, "store")] == ["payment_completed"]
    assert [e for e, _ in _events(nsvc, "callback")] == ["payment_received", "payment_completed"]
