"""The paid page's receipt and the printable /pay/<n>/receipt view; the ways back to the store and whom to ask
once a payment window has closed."""

from __future__ import annotations

import dataclasses

import pytest

from bridge.checkout_view import receipt
from gateway_core.adapters.models import Store
from gateway_core.checkout_view import checkout_state
from gateway_core.invoices.checkout import StoreContact
from gateway_core.invoices.manage import public_invoice
from tests.conftest import tick
from tests.integration.test_checkout_page import create, page, pay, phase


def _contact(services, store_id: int, email: str | None = "help@shop.test", site: str | None = "https://shop.test"):
    with services.uow() as uow:
        row = uow.session.get(Store, store_id)
        row.support_email, row.website_url = email, site


def test_paid_page_shows_a_receipt_and_a_printable_one(client, store, services) -> None:
    _contact(services, store.id)
    number = create(client, store.api_key, external_invoice_id="order-77")
    assert client.get(f"/pay/{number}/receipt").status_code == 404  # nothing to print before it is paid
    post = client.post(f"/pay/{number}/asset", json={"asset": "USDC"})
    assert post.status_code == 200
    sent = pay(client, number)
    tick(services)
    tick(services)
    doc = page(client, number)
    assert phase(doc) == "paid"
    assert doc.say("receipt-amount") == "99.99 USDC"
    assert doc.say("receipt-rate") == "1 USDC = 1 USD"
    assert doc.say("receipt-order") == "order-77"
    assert doc.say("receipt-tx") == sent["tx_id"]
    assert "sandbox-tx" in doc.text and "explorer-link" not in doc.text  # the sandbox is on no public explorer
    assert doc.first(data_testid="receipt-back")["href"] == "https://shop.test"  # no success_url: the website
    assert doc.first(data_testid="receipt-link")["href"] == f"/pay/{number}/receipt"

    printable = client.get(f"/pay/{number}/receipt")
    assert printable.status_code == 200 and printable.headers["Content-Security-Policy"]
    html = printable.get_data(as_text=True)
    assert sent["tx_id"] in html and "order-77" in html and "data-print" in html
    assert "@media print" in client.get("/static/checkout.css").get_data(as_text=True)


@pytest.mark.parametrize(("network", "asset", "link"), [
    ("devnet", "SOL", "https://explorer.solana.com/tx/TX?cluster=devnet"),
    ("mainnet", "SOL", "https://explorer.solana.com/tx/TX"),
    ("devnet", "USDT", "https://nile.tronscan.org/#/transaction/TX"),
    ("mainnet", "USDT", "https://tronscan.org/#/transaction/TX"),
])
def test_receipt_links_the_transaction_on_its_networks_explorer(client, store, services, network, asset,
                                                                 link) -> None:
    number = create(client, store.api_key)
    client.post(f"/pay/{number}/asset", json={"asset": asset})
    pay(client, number)
    tick(services)
    tick(services)
    with services.uow() as uow:
        view = public_invoice(uow, number, services.clock)
    view = dataclasses.replace(view, network=network, payment_tx_id="TX")
    lines = receipt(view, checkout_state(view, services.clock.now()), StoreContact(None, None, None),
                    lambda key, **kw: key, str, str)
    assert lines is not None and lines["explorer_url"] == link


@pytest.mark.parametrize("closed", ["expired", "underpaid"])
def test_closed_pages_say_whom_to_ask_and_the_way_back(client, store, services, clock, closed) -> None:
    _contact(services, store.id)
    with_cancel = create(client, store.api_key, expiry_hours=1, cancel_url="https://shop.test/cart",
                         external_invoice_id="order-a")
    without = create(client, store.api_key, expiry_hours=1, external_invoice_id="order-b")
    if closed == "underpaid":
        pay(client, with_cancel, amount="0.1")
        pay(client, without, amount="0.1")
        tick(services)
    clock.advance(hours=2)
    for number, back in ((with_cancel, "https://shop.test/cart"), (without, "https://shop.test")):
        doc = page(client, number)
        assert phase(doc) == closed
        assert doc.first(data_testid="support-email")["href"] == "mailto:help@shop.test"
        assert doc.first(data_testid="website")["href"] == "https://shop.test"
        assert doc.first(data_testid="way-back")["href"] == back


def test_cancelled_page_without_contact_details_says_nothing_it_cannot(client, store) -> None:
    response = client.post("/api/dynamic-payment/initiate",
                           json={"api_key": store.api_key, "amount": "10.00", "external_payment_id": "c1"})
    number = response.get_json()["data"]["session_id"]
    client.post(f"/api/dynamic-payment/{number}/cancel", json={"api_key": store.api_key})
    doc = page(client, number, "pay-dynamic")
    assert phase(doc) == "cancelled"
    assert "support-email" not in doc.text and "way-back" not in doc.text
