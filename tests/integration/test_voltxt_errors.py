"""Every VOLTXT error in the contract's own format, with a fitting HTTP status."""

from __future__ import annotations

import logging

import pytest

from gateway_core.stores.manage import create_store
from tests.conftest import invoice_body, post_json

CREATE = "/api/plugin/invoice/create"


def assert_voltxt_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["success"] is False
    assert body["error_code"] == code
    assert body["message"] and body["error"] == body["message"]
    assert body["request_id"] == response.headers["X-Request-Id"]
    return body


@pytest.mark.parametrize("key", [None, "", "short", "x" * 32, 12345678901234567890123456789012])
def test_invalid_api_key_is_401(client, store, key) -> None:
    body = invoice_body(store.api_key)
    body["api_key"] = key
    assert_voltxt_error(post_json(client, CREATE, body), 401, "INVALID_API_KEY")


def test_key_in_header_or_query_string(client, store) -> None:
    body = invoice_body(store.api_key)
    del body["api_key"]
    response = client.post(CREATE, data=__import__("bridge.jsonio").jsonio.dumps(body),
                           content_type="application/json", headers={"X-Api-Key": store.api_key})
    assert response.status_code == 201
    number = response.get_json()["invoice_number"]
    assert client.get(f"/api/plugin/invoice/{number}/status?api_key={store.api_key}").status_code == 200
    assert client.get(f"/api/plugin/invoice/{number}/status", headers={"X-Api-Key": store.api_key}).status_code == 200
    assert_voltxt_error(client.get(f"/api/plugin/invoice/{number}/status"), 401, "INVALID_API_KEY")


def test_validation_error_lists_every_bad_field(client, store) -> None:
    body = invoice_body(store.api_key, amount="-5", fiat_currency="XXX", amount_type="barter",
                        customer_email="not-an-email", callback_url="ftp://example.com/hook",
                        metadata=["not", "an", "object"], description="d" * 1001)
    del body["external_invoice_id"]
    errors = assert_voltxt_error(post_json(client, CREATE, body), 422, "VALIDATION_ERROR")["errors"]
    assert set(errors) >= {"external_invoice_id", "amount", "fiat_currency", "amount_type", "customer_email",
                           "callback_url", "metadata", "description"}


@pytest.mark.parametrize("amount", [None, "", "abc", "NaN", "Infinity", "0", True, [1]])
def test_bad_amounts(client, store, amount) -> None:
    body = invoice_body(store.api_key)
    body["amount"] = amount
    errors = assert_voltxt_error(post_json(client, CREATE, body), 422, "VALIDATION_ERROR")["errors"]
    assert "amount" in errors


def test_amount_too_low_and_too_high(client, store) -> None:
    # Under USD's smallest amount is too low (issue 16); more decimals than USD has on a larger amount is invalid.
    assert_voltxt_error(post_json(client, CREATE, invoice_body(store.api_key, amount="0.001")), 422,
                        "AMOUNT_TOO_LOW")
    assert_voltxt_error(post_json(client, CREATE, invoice_body(store.api_key, amount="5.001")), 422,
                        "VALIDATION_ERROR")
    low = invoice_body(store.api_key, amount_type="crypto", crypto_currency="USDC", amount="0.000001")
    assert_voltxt_error(post_json(client, CREATE, low), 422, "AMOUNT_TOO_LOW")
    high = invoice_body(store.api_key, amount="1000000.01")
    assert_voltxt_error(post_json(client, CREATE, high), 422, "AMOUNT_TOO_HIGH")


def test_duplicate_external_id_is_409(client, store) -> None:
    post_json(client, CREATE, invoice_body(store.api_key))
    assert_voltxt_error(post_json(client, CREATE, invoice_body(store.api_key, amount="1.00")), 409,
                        "DUPLICATE_EXTERNAL_ID")


def test_unknown_invoice_is_404_and_other_stores_invoices_are_invisible(client, store, services) -> None:
    assert_voltxt_error(client.get(f"/api/plugin/invoice/NOPE/status?api_key={store.api_key}"), 404,
                        "INVOICE_NOT_FOUND")
    number = post_json(client, CREATE, invoice_body(store.api_key)).get_json()["invoice_number"]
    with services.uow() as uow:
        other = create_store(uow, services.vault, name="Other", network="sandbox")
    assert_voltxt_error(client.get(f"/api/plugin/invoice/{number}/status?api_key={other.api_key}"), 404,
                        "INVOICE_NOT_FOUND")
    assert_voltxt_error(client.get(f"/api/plugin/invoice/by-external-id/order_1?api_key={other.api_key}"), 404,
                        "INVOICE_NOT_FOUND")


def test_store_without_wallet_is_no_destination_wallet(client, services) -> None:
    with services.uow() as uow:
        bare = create_store(uow, services.vault, name="Devnet shop", network="devnet")
    assert_voltxt_error(post_json(client, CREATE, invoice_body(bare.api_key)), 422, "NO_DESTINATION_WALLET")


def test_network_mismatch(client, services, store) -> None:
    with services.uow() as uow:
        main = create_store(uow, services.vault, name="Main", network="mainnet",
                            wallets={"SOL": "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"})
    assert post_json(client, CREATE, invoice_body(store.api_key, network="testnet")).status_code == 201
    assert post_json(client, CREATE, invoice_body(store.api_key, network="devnet")).status_code == 200
    assert_voltxt_error(post_json(client, CREATE, invoice_body(store.api_key, network="mainnet")), 422,
                        "NETWORK_MISMATCH")
    assert_voltxt_error(post_json(client, CREATE, invoice_body(main.api_key, network="testnet")), 422,
                        "NETWORK_MISMATCH")
    assert post_json(client, CREATE, invoice_body(main.api_key, network="mainnet")).status_code == 201
    assert_voltxt_error(post_json(client, CREATE, invoice_body(store.api_key, network="moon")), 422,
                        "VALIDATION_ERROR")


def test_malformed_json_is_400(client, store) -> None:
    response = client.post(CREATE, data='{"api_key": "x",', content_type="application/json")
    assert_voltxt_error(response, 400, "INVALID_JSON")


@pytest.mark.parametrize("raw", ["[1, 2]", '"text"', "42", "null", '{"amount": NaN}'])
def test_non_object_bodies_are_400(client, raw) -> None:
    assert_voltxt_error(client.post(CREATE, data=raw, content_type="application/json"), 400, "INVALID_JSON")


def test_body_over_64_kib_is_413(client, store) -> None:
    body = invoice_body(store.api_key, description="x" * 70_000)
    assert_voltxt_error(post_json(client, CREATE, body), 413, "PAYLOAD_TOO_LARGE")


def test_wrong_content_type_is_415(client, store) -> None:
    response = client.post(CREATE, data="api_key=abc&amount=1", content_type="application/x-www-form-urlencoded")
    assert_voltxt_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_empty_body_is_400(client) -> None:
    assert_voltxt_error(client.post(CREATE, data="", content_type="application/json"), 400, "INVALID_JSON")


def test_unknown_route_and_method_in_the_contract_format(client) -> None:
    assert_voltxt_error(client.get("/api/plugin/nothing-here"), 404, "NOT_FOUND")
    assert_voltxt_error(client.get(CREATE), 405, "METHOD_NOT_ALLOWED")


def test_internal_error_has_a_request_id_and_no_stack_trace(app, client, caplog) -> None:
    def explode() -> None:
        raise RuntimeError("database on fire: secret detail")

    app.add_url_rule("/api/plugin/explode", "explode", explode)
    with caplog.at_level(logging.ERROR):
        response = client.get("/api/plugin/explode", headers={"X-Request-Id": "req-abcdef123"})
    body = assert_voltxt_error(response, 500, "INTERNAL_ERROR")
    assert body["request_id"] == "req-abcdef123"
    assert "secret detail" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)
    record = next(r for r in caplog.records if getattr(r, "request_id", None) == "req-abcdef123")
    assert record.exc_info is not None


def test_api_keys_never_reach_the_logs(app, client, store, caplog) -> None:
    with caplog.at_level(logging.DEBUG):
        post_json(client, CREATE, invoice_body(store.api_key))
        client.get(f"/api/plugin/invoice/by-external-id/order_1?api_key={store.api_key}")
        post_json(client, CREATE, invoice_body("y" * 32))
    assert store.api_key not in caplog.text


def test_redacted_access_log_line() -> None:
    from bridge.serving import redact

    assert redact("GET /api/plugin/invoice/X/status?api_key=abc123&network=testnet HTTP/1.1") == (
        "GET /api/plugin/invoice/X/status?api_key=[redacted]&network=testnet HTTP/1.1"
    )
