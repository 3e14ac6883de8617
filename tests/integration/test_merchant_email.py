"""Merchant emails as a shop owner reads them: the breakdown in the asset actually paid, short distinct
subjects marked off mainnet, transaction ids linked to the explorer, and `store create --email` turning
email notifications on."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from bridge.cli import main
from gateway_core.adapters.jsonwire import dumps, loads
from gateway_core.adapters.models import Store
from gateway_core.adapters.notify.email_render import colours, render
from gateway_core.contracts.voltxt_payloads import STORE_EVENTS, store_payload
from gateway_core.invoices.create import create_invoice
from gateway_core.invoices.manage import InvoiceRequest, public_invoice
from gateway_core.payments.sandbox import simulate_payment
from gateway_core.stores.manage import find_store
from tests.conftest import tick


def paid_payload(services: Any, store_id: int, amount: str, asset: str, network: str | None = None,
                 tx_id: str | None = None) -> dict[str, Any]:
    """A store webhook body (as the outbox keeps it) for an invoice paid in full in `asset`."""
    with services.uow() as uow:
        view = create_invoice(uow, find_store(uow, store_id), InvoiceRequest(amount=Decimal(amount),
                              external_id=f"order-{asset}"), services.invoicing).view
    with services.uow() as uow:
        simulate_payment(uow, view.number, services.clock, asset)
    tick(services)
    tick(services)
    with services.uow() as uow:
        view = public_invoice(uow, view.number, services.clock)
        store = uow.session.get(Store, store_id)
        if network:
            view = dataclasses.replace(view, network=network, payment_tx_id=tx_id or view.payment_tx_id)
        payload = store_payload(view, store, "payment_completed", services.clock.now(), "evt_1")
    return loads(dumps(payload))  # type: ignore[no-any-return]


@pytest.mark.parametrize(("amount", "asset", "paid", "raw"), [
    ("5", "USDT", "5 USDT", "5,000,000 base units (6 decimals)"),
    ("16.5", "USDC", "16.5 USDC", "16,500,000 base units (6 decimals)"),
    ("99.99", "SOL", "0.6666 SOL", "666,600,000 base units (9 decimals)"),
])
def test_the_breakdown_is_in_the_asset_paid(services, store, amount, asset, paid, raw) -> None:
    context = paid_payload(services, store.id, amount, asset)
    _, text, html = render("payment_completed", context, None)
    assert f"Customer paid:   {paid}  [{raw}]" in text
    assert f"<strong>{paid}</strong><br><small" in html and raw in html  # the raw units only as small print
    for part in (text, html):
        assert "lamports" not in part and "Account rent" not in part  # no rent without a deposit account


def test_subjects_are_short_distinct_and_marked_off_mainnet(services, store) -> None:
    context = paid_payload(services, store.id, "10", "USDC")
    subjects = [render(event, context, None)[0] for event in STORE_EVENTS]
    assert len(set(subjects)) == len(subjects)
    assert all(s.startswith("[Sandbox] ") and len(s) <= 80 for s in subjects), subjects
    for subject in subjects:
        words = subject.lower().replace("(", " ").replace(")", " ").replace(":", " ").split()
        assert len(words) == len(set(words)) or "invoice" in words, subject  # no "expired (expired)"
    devnet = paid_payload(services, store.id, "10", "USDC", network="devnet")
    assert render("payment_completed", devnet, None)[0].startswith("[Devnet] Paid: 10 USD, invoice ")
    mainnet = paid_payload(services, store.id, "10", "USDC", network="mainnet")
    assert render("payment_completed", mainnet, None)[0].startswith("Paid: 10 USD, invoice ")


def test_transaction_ids_link_to_the_explorer(services, store) -> None:
    context = paid_payload(services, store.id, "10", "USDC", network="devnet", tx_id="5j7sigTX")
    _, text, html = render("payment_completed", context, "#E11D48")
    link = "https://explorer.solana.com/tx/5j7sigTX?cluster=devnet"
    assert f'<a href="{link}" style="color:#E11D48;">5j7sigTX</a>' in html and link in text
    sandbox = paid_payload(services, store.id, "10", "USDT")
    _, text, html = render("payment_completed", sandbox, None)
    assert "(sandbox, on no public explorer)" in text and "tronscan" not in html


def test_light_brand_colours_keep_text_readable() -> None:
    assert colours("#FDE047") == {"color": "#FDE047", "on_color": "#111827", "link_color": "#1d4ed8"}
    assert colours("#1E3A8A")["on_color"] == "#ffffff" and colours("#1E3A8A")["link_color"] == "#1E3A8A"
    assert colours("red")["color"] == "#4F46E5"


def test_store_create_with_email_turns_email_notifications_on(app, services) -> None:
    runner = app.test_cli_runner()
    for name, extra in (("Mailed", ["--email", "owner@mailed.test"]), ("Quiet", [])):
        result = runner.invoke(main, ["store", "create", "--name", name, "--network", "sandbox", *extra])
        assert result.exit_code == 0, result.output
    with services.uow() as uow:
        rows = {s.name: s.email_notifications for s in uow.session.execute(select(Store)).scalars()}
    assert rows == {"Mailed": True, "Quiet": False}
