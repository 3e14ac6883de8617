# ruff: noqa: F811 - pytest fixtures are imported from notify_support and used as arguments
"""WooCommerce without the plugin, end to end through the outbox: `voltbridge woocommerce connect`, an order
invoiced (CLI or WooCommerce's own order webhook), paid in the sandbox, and the dispatcher marking the order paid
on a fake WooCommerce site (127.0.0.1, OAuth 1.0a checked like WooCommerce) through the SSRF-guarded transport.
Failures land in the delivery log, are retried, and a dead letter emails the merchant.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from bridge.cli import main
from gateway_core.adapters.models import Delivery, DeliveryAttempt, Invoice, PlatformInstallation, PlatformOrder
from gateway_core.bootstrap import Services
from gateway_core.clock import FrozenClock
from gateway_core.invoices.manage import public_invoice
from gateway_core.notifications.dispatch import Dispatcher
from gateway_core.stores.manage import NewStore
from storefront_adapters.base import OrderUpdate, StorefrontAdapter
from storefront_adapters.woocommerce.adapter import WooCommerceAdapter
from storefront_adapters.woocommerce.orders import invoice_for_order
from tests.fakes.woocommerce import FakeOrder, FakeWooCommerce
from tests.integration.notify_support import (  # noqa: F401  (fixtures)
    deliveries,
    dispatcher,
    napp,
    nclient,
    nsettings,
    nsvc,
    pay,
    shop,
)

CK = "ck_" + "a1" * 20
CS = "cs_" + "b2" * 20


@pytest.fixture
def woo() -> Iterator[FakeWooCommerce]:
    with FakeWooCommerce(CK, CS) as site:
        site.orders[42] = FakeOrder(42)
        yield site


def cli(app: Any, *args: str) -> Any:
    return app.test_cli_runner().invoke(main, list(args), catch_exceptions=False)


def connect(napp: Any, shop: NewStore, woo: FakeWooCommerce, *extra: str) -> dict[str, Any]:
    result = cli(napp, "woocommerce", "connect", str(shop.id), "--site-url", woo.url + "/", "--consumer-key", CK,
                 "--consumer-secret", CS, "--json", *extra)
    assert result.exit_code == 0, result.output
    shown: dict[str, Any] = json.loads(result.output)
    return shown


def invoice(napp: Any, shop: NewStore, site: str, order_id: str = "42", amount: str = "25.00") -> dict[str, Any]:
    result = cli(napp, "woocommerce", "invoice", str(shop.id), "--site", site, "--order-id", order_id,
                 "--amount", amount, "--currency", "USD", "--json")
    assert result.exit_code == 0, result.output
    shown: dict[str, Any] = json.loads(result.output)
    return shown


def test_connect_stores_the_keys_encrypted_and_prints_the_webhook_setup(napp: Any, nsvc: Services, shop: NewStore,
                                                                        woo: FakeWooCommerce) -> None:
    shown = connect(napp, shop, woo)
    assert shown["site_url"] == woo.url and shown["auth"] == "oauth1"
    assert shown["webhook_url"] == f"https://gateway.test/storefronts/woocommerce/{shown['installation_id']}/orders"
    with nsvc.uow() as uow:
        row = uow.session.get(PlatformInstallation, shown["installation_id"])
        assert row is not None and row.platform == "woocommerce" and row.account == woo.url
        assert row.credentials_encrypted and CS not in row.credentials_encrypted
        assert json.loads(nsvc.vault.decrypt(row.credentials_encrypted))["consumer_secret"] == CS
    human = cli(napp, "woocommerce", "connect", str(shop.id), "--site-url", woo.url, "--consumer-key", CK,
                "--consumer-secret", CS)
    assert "Delivery URL:" in human.output and shown["webhook_secret"] in human.output  # kept on reconnect
    bad = cli(napp, "woocommerce", "connect", str(shop.id), "--site-url", "ftp://x", "--consumer-key", CK,
              "--consumer-secret", CS)
    assert bad.exit_code != 0 and "Invalid site URL" in bad.output


def test_a_paid_invoice_marks_the_woo_order_paid_through_the_outbox(
        napp: Any, nsvc: Services, shop: NewStore, woo: FakeWooCommerce, dispatcher: Dispatcher) -> None:
    site = connect(napp, shop, woo)["site_url"]
    created = invoice(napp, shop, site)
    assert created["created"] is True and created["payment_url"].endswith("/pay/" + created["invoice_number"])
    dispatcher.run_until_idle()
    # invoice.created: the buyer gets the payment link as a customer note (WooCommerce emails it).
    assert woo.orders[42].notes == [{"id": 1, "customer_note": True, "note": (
        f"Pay 25.00 USD in crypto (SOL, USDC or USDT) here: {created['payment_url']}")}]

    pay(nsvc, created["invoice_number"])
    dispatcher.run_until_idle()

    order = woo.orders[42]
    assert order.status == "processing"
    with nsvc.uow() as uow:
        inv = uow.session.execute(select(Invoice).where(Invoice.number == created["invoice_number"])).scalar_one()
        assert inv.contract == "woocommerce" and order.transaction_id == inv.payments[0].tx_id
    sent = [(r["method"], r["path"].split("?")[0], r["body"]) for r in woo.requests]
    assert ("PUT", "/wp-json/wc/v3/orders/42", {"set_paid": True, "transaction_id": order.transaction_id}) in sent
    assert any("payment of 25.00 USD seen" in note["note"] for note in order.notes)
    woo_deliveries = deliveries(nsvc, channel="woocommerce")
    assert [d.event_type for d in woo_deliveries] == ["invoice.created", "invoice.paid", "invoice.confirmed"]
    assert all(d.status == "delivered" for d in woo_deliveries)
    assert all("oauth_signature=" in r["path"] for r in woo.requests)


def test_one_invoice_per_order_whatever_the_retries(napp: Any, nsvc: Services, shop: NewStore,
                                                    woo: FakeWooCommerce) -> None:
    site = connect(napp, shop, woo)["site_url"]
    first = invoice(napp, shop, site)
    again = invoice(napp, shop, site, amount="25.0")
    assert again == {**first, "created": False}

    with nsvc.uow() as uow:  # the StorefrontAdapter protocol on the real invoice: its event -> the order change
        view = public_invoice(uow, first["invoice_number"], nsvc.clock)
        inst = uow.session.execute(select(PlatformInstallation)).scalar_one()
    adapter: StorefrontAdapter = WooCommerceAdapter(inst.id)
    assert adapter.apply_event("invoice.confirmed", view) == OrderUpdate("42", "mark_paid", "")
    assert adapter.apply_event("invoice.expired", view).action == "note"

    changed = invoice(napp, shop, site, amount="30.00")
    assert changed["created"] is True and changed["invoice_number"] != first["invoice_number"]
    with nsvc.uow() as uow:
        old = uow.session.execute(select(Invoice).where(Invoice.number == first["invoice_number"])).scalar_one()
        assert old.status == "cancelled"  # nobody can pay the old total any more
        links = uow.session.execute(select(PlatformOrder)).scalars().all()
        assert [(p.order_ref, p.invoice.number) for p in links] == [("42", changed["invoice_number"])]


def test_concurrent_requests_for_one_order_make_one_invoice(napp: Any, nsvc: Services, shop: NewStore,
                                                            woo: FakeWooCommerce) -> None:
    installation_id = connect(napp, shop, woo)["installation_id"]
    numbers: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def checkout() -> None:
        try:
            start.wait()
            with nsvc.uow() as uow:
                row = uow.session.get(PlatformInstallation, installation_id)
                view, _ = invoice_for_order(uow, nsvc, row, {"id": 77, "total": "10.00", "currency": "USD"})
                numbers.append(view.number)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=checkout) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert len(set(numbers)) == 1 and len(numbers) == 4
    with nsvc.uow() as uow:
        assert uow.session.query(Invoice).count() == 1
        assert uow.session.query(PlatformOrder).count() == 1


def test_woocommerce_failures_are_logged_retried_then_dead_lettered_to_the_merchant(
        napp: Any, nsvc: Services, shop: NewStore, woo: FakeWooCommerce, dispatcher: Dispatcher,
        clock: FrozenClock) -> None:
    site = connect(napp, shop, woo)["site_url"]
    created = invoice(napp, shop, site, order_id="404")  # an order the site does not have
    dispatcher.run_until_idle()
    [first] = deliveries(nsvc, channel="woocommerce")
    assert first.status == "pending" and first.attempts == 1
    assert first.last_error == "HTTP 404: woocommerce_rest_shop_order_invalid_id: Invalid ID."

    woo.fail_with = 500  # the shop is down for good
    for _ in range(16):
        clock.advance(minutes=31)
        dispatcher.run_until_idle()
    [dead] = deliveries(nsvc, channel="woocommerce")
    assert dead.status == "dead" and dead.last_status_code == 500
    with nsvc.uow() as uow:
        attempts = uow.session.query(DeliveryAttempt).filter_by(delivery_id=dead.id).count()
    assert attempts == dead.attempts > 3
    [notice] = deliveries(nsvc, channel="email", event_type="delivery_failed")
    assert notice.recipient == "owner@shop.test" and notice.invoice_number == created["invoice_number"]
    assert notice.status == "delivered"


def test_wrong_keys_show_woocommerces_refusal_in_the_delivery_log(napp: Any, nsvc: Services, shop: NewStore,
                                                                  woo: FakeWooCommerce,
                                                                  dispatcher: Dispatcher) -> None:
    woo.consumer_secret = "cs_" + "0" * 40  # the merchant revoked the key pair
    site = connect(napp, shop, woo)["site_url"]
    invoice(napp, shop, site)
    dispatcher.run_until_idle()
    [failed] = deliveries(nsvc, channel="woocommerce")
    assert failed.last_status_code == 401
    assert failed.last_error == ("HTTP 401: woocommerce_rest_authentication_error: Invalid signature - provided "
                                 "signature does not match.")


# -- WooCommerce's own order webhook ---------------------------------------------------------------------------


def woo_webhook(nclient: Any, url: str, secret: str, order: dict[str, Any], signature: str | None = None) -> Any:
    body = json.dumps(order).encode()
    signed = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    path = url.removeprefix("https://gateway.test")
    return nclient.post(path, data=body, content_type="application/json", headers={
        "X-WC-Webhook-Topic": "order.created", "X-WC-Webhook-Resource": "order", "X-WC-Webhook-Event": "created",
        "X-WC-Webhook-Signature": signature if signature is not None else signed, "X-WC-Webhook-ID": "3"})


def order_payload(**changes: Any) -> dict[str, Any]:
    order = {"id": 42, "number": "42", "status": "pending", "currency": "USD", "total": "25.00",
             "payment_method": "bacs", "billing": {"email": "buyer@x.test", "first_name": "Bo", "last_name": "Li"}}
    return {**order, **changes}


def test_order_created_webhook_invoices_the_order(napp: Any, nclient: Any, nsvc: Services, shop: NewStore,
                                                  woo: FakeWooCommerce) -> None:
    shown = connect(napp, shop, woo, "--payment-method", "bacs")
    url, secret = shown["webhook_url"], shown["webhook_secret"]
    ping = nclient.post(url.removeprefix("https://gateway.test"), data=b"webhook_id=3",
                        content_type="application/x-www-form-urlencoded")
    assert ping.status_code == 200  # WooCommerce saves a webhook only if its ping gets a 2xx

    created = woo_webhook(nclient, url, secret, order_payload())
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["result"] == "created" and body["payment_url"] == f"https://gateway.test/pay/{body['invoice_number']}"
    redelivered = woo_webhook(nclient, url, secret, order_payload())
    assert redelivered.status_code == 200 and redelivered.get_json()["invoice_number"] == body["invoice_number"]
    with nsvc.uow() as uow:
        inv = uow.session.execute(select(Invoice)).scalar_one()
        assert (inv.fiat_minor, inv.customer_email, inv.contract) == (2500, "buyer@x.test", "woocommerce")

    other_method = woo_webhook(nclient, url, secret, order_payload(id=43, payment_method="stripe"))
    assert other_method.get_json()["result"] == "ignored"
    paid_already = woo_webhook(nclient, url, secret, order_payload(id=44, status="processing"))
    assert paid_already.get_json()["result"] == "ignored"


def test_order_webhook_refuses_bad_signatures_and_bad_orders_in_wordpress_error_format(
        napp: Any, nclient: Any, nsvc: Services, shop: NewStore, woo: FakeWooCommerce) -> None:
    shown = connect(napp, shop, woo)
    url, secret = shown["webhook_url"], shown["webhook_secret"]
    forged = woo_webhook(nclient, url, secret, order_payload(), signature="AAAA")
    assert forged.status_code == 401
    assert forged.get_json()["code"] == "woocommerce_invalid_signature"
    assert forged.get_json()["data"]["status"] == 401
    unknown = woo_webhook(nclient, url.replace(f"/{shown['installation_id']}/", "/999/"), secret, order_payload())
    assert unknown.status_code == 401

    bad = woo_webhook(nclient, url, secret, order_payload(total="0.00"))
    assert bad.status_code == 422
    assert bad.get_json()["code"] == "validation_error" and "total" in bad.get_json()["data"]["errors"]
    with nsvc.uow() as uow:
        assert uow.session.query(Delivery).count() == 0 and uow.session.query(Invoice).count() == 0


def test_the_order_total_is_read_exactly(napp: Any, nclient: Any, nsvc: Services, shop: NewStore,
                                         woo: FakeWooCommerce) -> None:
    shown = connect(napp, shop, woo)
    woo_webhook(nclient, shown["webhook_url"], shown["webhook_secret"], order_payload(total="0.30"))
    with nsvc.uow() as uow:
        inv = uow.session.execute(select(Invoice)).scalar_one()
        assert inv.fiat_minor == 30 and Decimal(inv.fiat_minor) / 100 == Decimal("0.30")
