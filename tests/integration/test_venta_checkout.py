"""VentaConnect checkout sessions over HTTP: the x-api-key, the session's link/ref/ws, the dev endpoint's
sandbox rule, retries by orderId, the polling fallback, the keys' CLI, and errors in Venta's own format.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from bridge.cli import main
from gateway_core.bootstrap import Services
from gateway_core.payments.sandbox import simulate_payment
from gateway_core.stores.manage import NewStore, create_store
from tests import solana_pay_parser
from tests.conftest import invoice_body, post_json, tick
from tests.integration.venta_support import (
    CHECKOUT,
    DEV_CHECKOUT,
    decode_uri_component,
    get,
    post,
    strictly_encoded,
    venta_key,
)

SOL_WALLET = "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"


@pytest.fixture
def key(services: Services, store: NewStore) -> str:
    return venta_key(services, store.id)


def assert_venta_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    body: dict[str, Any] = response.get_json()
    assert body["statusCode"] == status and body["code"] == code
    assert body["message"] and body["error"] and body["requestId"] == response.headers["X-Request-Id"]
    return body


def test_production_endpoint_returns_link_ref_and_wss_behind_https(client, key, settings) -> None:
    response = post(client, CHECKOUT, key, {"amount": 25, "currency": "usd", "message": "Table 4 & 5 \u2013 caf\u00e9"})
    assert response.status_code == 201
    session = response.get_json()
    assert session["ws"] == f"wss://gateway.test/v1/checkout/{session['ref']}/ws"  # PUBLIC_URL is https
    assert (session["status"], session["code"], session["final"]) == ("pending", None, False)
    assert (session["amount"], session["currency"], session["token"], session["tokenAmount"]) == \
        ("25.00", "USD", "USDC", "25")
    assert strictly_encoded(session["link"])
    transfer = solana_pay_parser.parse(decode_uri_component(session["link"]), decimals=6)
    assert transfer.spl_token == settings.usdc_mint_devnet  # sandbox links carry the devnet USDC mint
    assert transfer.message == "Table 4 & 5 \u2013 caf\u00e9" and transfer.amount == "25"
    assert response.headers["X-RateLimit-Limit"] == "120" and response.headers["X-RateLimit-Remaining"] == "119"


def test_sol_link_has_no_token_and_nine_decimals_at_most(client, key) -> None:
    session = post(client, DEV_CHECKOUT, key, {"amount": "9.99", "token": "SOL"}).get_json()
    transfer = solana_pay_parser.parse(decode_uri_component(session["link"]), decimals=9)
    assert transfer.spl_token is None and transfer.amount == session["tokenAmount"]


def test_order_id_makes_retries_return_the_same_session(client, key) -> None:
    first = post(client, CHECKOUT, key, {"amount": "10", "orderId": "A-17"})
    again = post(client, CHECKOUT, key, {"amount": "10", "orderId": "A-17"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json()["ref"] == first.get_json()["ref"] and again.get_json()["orderId"] == "A-17"
    other = post(client, CHECKOUT, key, {"amount": "11", "orderId": "A-17"})
    assert_venta_error(other, 409, "DUPLICATE_ORDER_ID")
    without = [post(client, CHECKOUT, key, {"amount": "10"}).get_json()["ref"] for _ in range(2)]
    assert without[0] != without[1]


def test_dev_endpoint_refuses_shops_on_real_networks(client, services) -> None:
    with services.uow() as uow:
        devnet = create_store(uow, services.vault, name="Devnet Cafe", network="devnet",
                              wallets={"SOL": SOL_WALLET})
    key = venta_key(services, devnet.id)
    refused = assert_venta_error(post(client, DEV_CHECKOUT, key, {"amount": "5", "token": "SOL"}), 403,
                                 "SANDBOX_ONLY")
    assert "devnet" in refused["message"] and "/v1/checkout" in refused["message"]
    created = post(client, CHECKOUT, key, {"amount": "5", "token": "SOL"})
    assert created.status_code == 201 and created.get_json()["network"] == "devnet"
    ref = created.get_json()["ref"]
    assert_venta_error(get(client, f"{DEV_CHECKOUT}/{ref}", key), 403, "SANDBOX_ONLY")
    assert get(client, f"{CHECKOUT}/{ref}", key).status_code == 200
    # A token the shop has no wallet for is refused before any session exists.
    usdc = assert_venta_error(post(client, CHECKOUT, key, {"amount": "5"}), 422, "VALIDATION_ERROR")
    assert "USDC" in usdc["details"]["token"]


def test_polling_follows_the_session_to_confirmed(client, key, services, clock) -> None:
    ref = post(client, DEV_CHECKOUT, key, {"amount": "3.20"}).get_json()["ref"]
    polled = get(client, f"{DEV_CHECKOUT}/{ref}", key)
    assert polled.status_code == 200 and polled.headers["Cache-Control"] == "no-store"
    assert polled.get_json()["status"] == "pending" and polled.get_json()["event"] is None
    with services.uow() as uow:
        paid = simulate_payment(uow, ref, clock)
    tick(services)
    body = get(client, f"{CHECKOUT}/{ref}", key).get_json()
    assert (body["status"], body["code"], body["txSig"], body["final"]) == \
        ("confirmed", "PAYMENT_CONFIRMED", paid.tx_id, True)
    assert body["event"]["type"] == "confirmed" and body["amountPaid"] == body["tokenAmount"] == "3.2"


def test_sessions_are_private_to_their_shop_and_contract(client, key, services, store) -> None:
    ref = post(client, CHECKOUT, key, {"amount": "1"}).get_json()["ref"]
    with services.uow() as uow:
        other = create_store(uow, services.vault, name="Other", network="sandbox")
    assert_venta_error(get(client, f"{CHECKOUT}/{ref}", venta_key(services, other.id)), 404, "SESSION_NOT_FOUND")
    voltxt = post_json(client, "/api/plugin/invoice/create", invoice_body(store.api_key)).get_json()
    assert_venta_error(get(client, f"{CHECKOUT}/{voltxt['invoice_number']}", key), 404, "SESSION_NOT_FOUND")
    assert_venta_error(get(client, f"{CHECKOUT}/no%20such", key), 404, "SESSION_NOT_FOUND")


@pytest.mark.parametrize("headers", [{}, {"x-api-key": ""}, {"x-api-key": "vc_" + "A" * 43},
                                     {"x-api-key": "not-a-venta-key"}])
def test_missing_or_wrong_keys_are_401(client, headers) -> None:
    response = client.post(CHECKOUT, json={"amount": "1"}, headers=headers)
    assert_venta_error(response, 401, "INVALID_API_KEY")


def test_other_contracts_keys_do_not_open_sessions(client, store) -> None:
    assert_venta_error(post(client, CHECKOUT, store.api_key, {"amount": "1"}), 401, "INVALID_API_KEY")


def test_bad_bodies_in_ventas_error_format(client, key) -> None:
    invalid = assert_venta_error(post(client, CHECKOUT, key, {"amount": "-1", "token": "DOGE", "currency": "XYZ",
                                                              "orderId": "has space", "message": 5}),
                                 422, "VALIDATION_ERROR")
    assert set(invalid["details"]) == {"amount", "token", "currency", "orderId", "message"}
    assert_venta_error(client.post(CHECKOUT, data="{", content_type="application/json",
                                   headers={"x-api-key": key}), 400, "INVALID_JSON")
    assert_venta_error(client.post(CHECKOUT, data="amount=1", content_type="text/plain",
                                   headers={"x-api-key": key}), 415, "UNSUPPORTED_MEDIA_TYPE")
    assert_venta_error(post(client, CHECKOUT, key, {"amount": "2000000"}), 422, "AMOUNT_TOO_HIGH")
    assert_venta_error(client.get(CHECKOUT, headers={"x-api-key": key}), 405, "METHOD_NOT_ALLOWED")
    assert_venta_error(client.get("/v1/dev/nothing-here"), 404, "NOT_FOUND")


def test_key_create_rotate_and_the_grace_period(app, client, store, clock) -> None:
    runner = app.test_cli_runner()
    created = runner.invoke(main, ["key", "create", str(store.id), "--kind", "venta", "--json"])
    assert created.exit_code == 0, created.output
    issued = json.loads(created.output)
    assert issued["kind"] == "venta" and issued["api_key"].startswith("vc_")
    assert post(client, CHECKOUT, issued["api_key"], {"amount": "1"}).status_code == 201
    rotated = runner.invoke(main, ["key", "rotate", str(store.id), "--kind", "venta", "--grace-hours", "1",
                                   "--json"])
    new_key = json.loads(rotated.output)["api_key"]
    assert new_key != issued["api_key"]
    for usable in (issued["api_key"], new_key):
        assert post(client, CHECKOUT, usable, {"amount": "1"}).status_code == 201
    clock.advance(hours=1, seconds=1)  # the grace period
    assert_venta_error(post(client, CHECKOUT, issued["api_key"], {"amount": "1"}), 401, "INVALID_API_KEY")
    assert post(client, CHECKOUT, new_key, {"amount": "1"}).status_code == 201


def test_a_plain_get_on_the_socket_url_is_a_clear_400(client, key) -> None:
    ref = post(client, CHECKOUT, key, {"amount": "1"}).get_json()["ref"]
    response = client.get(f"{CHECKOUT}/{ref}/ws")
    assert response.status_code == 400 and response.get_json()["statusCode"] == 400


def test_the_openapi_document_is_served_and_names_every_route(app, client) -> None:
    import yaml

    served = client.get("/openapi/venta.yaml")
    assert served.status_code == 200 and served.mimetype == "application/yaml"
    document = yaml.safe_load(served.get_data())
    documented = {"/v1" + path for path in document["paths"]}
    routes = {rule.rule.replace("<ref>", "{ref}") for rule in app.url_map.iter_rules()
              if rule.endpoint.startswith("venta.")}
    assert documented == routes
    for code in ("PAYMENT_CONFIRMED", "ORDER_EXPIRED", "CONFIRMATION_TIMEOUT", "TRANSACTION_FAILED",
                 "RECEIVE_REQUEST", "TX_BUILD_ERROR", "INSUFFICIENT_FUNDS", "SANDBOX_ONLY", "RATE_LIMITED"):
        assert code in document["info"]["description"] + served.get_data(as_text=True)
