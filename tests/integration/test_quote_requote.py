# ruff: noqa: F811 - pytest fixtures are imported from quote_support and used as arguments
"""The re-quote after a lapse happens on every read a buyer or a shop makes: the payment page and each contract's
status API (one use case in the core, invoices/quotes.current_view), for the amount still due."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import pytest

from gateway_core.keys.api_keys import issue_key
from tests.client_json import client_json
from tests.integration.quote_support import (  # noqa: F401 - fixtures
    create,
    event_data,
    exact,
    facts,
    live,
    market,
    options,
    pay,
    quote_of,
    reprice,
    status,
)

TEN_USD_AT_150, TEN_USD_AT_160 = 66_666_667, 62_500_000  # lamports, rounded up


@pytest.fixture
def lock_minutes() -> int:
    return 5  # under VentaConnect's 15-minute sessions, so a session's quote can lapse while it is open


def contract_key(app: Any, contract: str) -> str:
    svc = app.extensions["voltbridge"]
    with app.app_context(), svc.uow() as uow:
        return issue_key(uow, svc.vault, app.config["TEST_STORE_ID"], contract).api_key


# Each read path: (make an invoice of 10 USD through its contract -> (number, read)), read -> the body it answers.
Reader = Callable[[Any, str], tuple[str, Callable[[], Any]]]


def voltxt_status(app: Any, key: str) -> tuple[str, Callable[[], Any]]:
    number = create(app, key)["invoice_number"]
    return number, lambda: status(app, key, number)


def voltxt_by_external_id(app: Any, key: str) -> tuple[str, Callable[[], Any]]:
    number = create(app, key, external_invoice_id="order-77")["invoice_number"]
    path = "/api/plugin/invoice/by-external-id/order-77"
    return number, lambda: exact(app.test_client().get(path, headers={"X-API-Key": key}))


def dynamic_session_status(app: Any, key: str) -> tuple[str, Callable[[], Any]]:
    from tests.conftest import invoice_body, post_json

    made = exact(post_json(app.test_client(), "/api/dynamic-payment/initiate",
                           invoice_body(key, amount=Decimal("10.00"), external_invoice_id="cart-9")))
    number = made["session_id"]
    path = f"/api/dynamic-payment/{number}/status"
    return number, lambda: exact(app.test_client().get(path, headers={"X-API-Key": key}))


def virtexgate_status(app: Any, _key: str) -> tuple[str, Callable[[], Any]]:
    key = contract_key(app, "virtexgate")
    body = {"storeId": str(app.config["TEST_STORE_ID"]), "amount": Decimal("10.00"), "fiatCurrency": "USD"}
    made = exact(app.test_client().post("/api/invoices", data=client_json(body), headers={"X-Api-Key": key},
                                        content_type="application/json"))
    number = urlsplit(made["checkoutUrl"]).path.rsplit("/", 1)[-1]
    return number, lambda: exact(app.test_client().get(f"/api/invoices/{made['id']}", headers={"X-Api-Key": key}))


def venta_session_status(app: Any, _key: str) -> tuple[str, Callable[[], Any]]:
    key = contract_key(app, "venta")
    made = exact(app.test_client().post("/v1/checkout", data=client_json({"amount": "10", "token": "SOL"}),
                                        headers={"x-api-key": key}, content_type="application/json"))
    number = made["ref"]
    return number, lambda: exact(app.test_client().get(f"/v1/checkout/{number}", headers={"x-api-key": key}))


def payment_page(app: Any, key: str) -> tuple[str, Callable[[], Any]]:
    number = create(app, key)["invoice_number"]
    return number, lambda: app.test_client().get(f"/pay/{number}").get_data(as_text=True)


def page_status_stream(app: Any, key: str) -> tuple[str, Callable[[], Any]]:
    """The page's JSON status poll (what its script reads when the stream is not used)."""
    number = create(app, key)["invoice_number"]
    return number, lambda: app.test_client().get(f"/pay/{number}/status.json").get_json()


READERS: dict[str, Reader] = {
    "voltxt status": voltxt_status, "voltxt by external id": voltxt_by_external_id,
    "dynamic session status": dynamic_session_status, "virtexgate status": virtexgate_status,
    "ventaconnect session status": venta_session_status, "payment page": payment_page,
    "payment page status": page_status_stream,
}


@pytest.mark.parametrize("path", READERS)
def test_each_read_path_requotes_a_lapsed_quote_once(live, clock, market, path) -> None:
    app, key = live
    number, read = READERS[path](app, key)
    reference, amount, _ = quote_of(app, number)
    assert amount == TEN_USD_AT_150
    reprice(market, "160")
    clock.advance(minutes=5, seconds=1)
    read()
    fresh_reference, fresh_amount, _ = quote_of(app, number)
    assert fresh_reference != reference and fresh_amount == TEN_USD_AT_160
    assert facts(app, number)[2].count("invoice.requoted") == 1
    read()  # the fresh quote holds: nothing changes on the next read
    assert quote_of(app, number)[:2] == (fresh_reference, fresh_amount)
    assert facts(app, number)[2].count("invoice.requoted") == 1


def test_status_bodies_show_the_fresh_amount(live, clock, market) -> None:
    app, key = live
    _, read = virtexgate_status(app, key)
    reprice(market, "160")
    clock.advance(minutes=16)
    assert read()["payment"]["amountDue"] == Decimal("0.0625")
    _, read = venta_session_status(app, key)
    clock.advance(minutes=5, seconds=1)
    assert read()["tokenAmount"] == "0.0625"


def test_a_partly_paid_invoice_is_requoted_for_what_is_still_due(live, clock, market) -> None:
    app, key = live
    number = create(app, key)["invoice_number"]
    old_reference, _, _ = quote_of(app, number)
    pay(app, number, "SOL", old_reference, TEN_USD_AT_150 // 2 + 1, clock.now(), "tx-half")  # 5 USD at 150
    assert status(app, key, number)["lifecycle_status"] == "partially_paid"
    reprice(market, "160")
    clock.advance(minutes=16)
    sol = options(status(app, key, number))["SOL"]
    # The other 5 USD, at 160: 0.03125 SOL, under a new reference; the half paid keeps its worth.
    assert sol["reference"] != old_reference and sol["rate"] == 160
    assert sol["amount_base_units"] == TEN_USD_AT_160 and sol["amount_remaining"] == Decimal("0.03125")
    assert event_data(app, number, "invoice.requoted") == [{"overpaid": False, "paid_late": False,
                                                              "assets": ["SOL"]}]
    pay(app, number, "SOL", sol["reference"], 31_250_000, clock.now(), "tx-rest")
    assert facts(app, number)[0] == "paid"


def test_a_crypto_priced_invoice_has_no_lock_and_is_never_requoted(live, clock, market) -> None:
    app, key = live
    made = create(app, key, amount="0.5", amount_type="crypto", crypto_currency="SOL")
    number, sol = made["invoice_number"], options(made)["SOL"]
    assert sol["quote_expires_at"] == made["expiry_date"]  # held for the invoice's life: the merchant asked 0.5 SOL
    reprice(market, "100")
    clock.advance(hours=1)
    assert options(status(app, key, number))["SOL"]["reference"] == sol["reference"]
    pay(app, number, "SOL", sol["reference"], 500_000_000, clock.now(), "tx-crypto")
    state, payments, events = facts(app, number)
    assert state == "paid" and payments == [(None, False)] and "invoice.requoted" not in events


def test_a_paid_or_closed_invoice_is_not_requoted(live, clock, market) -> None:
    app, key = live
    number = create(app, key)["invoice_number"]
    reference, amount, _ = quote_of(app, number)
    pay(app, number, "SOL", reference, amount, clock.now() + timedelta(minutes=1), "tx-full")
    clock.advance(minutes=16)
    status(app, key, number)
    assert quote_of(app, number)[:2] == (reference, amount)
