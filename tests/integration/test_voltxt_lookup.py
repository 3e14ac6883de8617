"""VOLTXT status, lookup by external id, test-connection, and the dynamic-payment sessions."""

from __future__ import annotations

from decimal import Decimal

from tests.conftest import invoice_body, post_json, tick

CREATE = "/api/plugin/invoice/create"


def test_status_returns_the_invoice_flat_nested_and_under_data(client, store) -> None:
    created = post_json(client, CREATE, invoice_body(store.api_key)).get_json()
    number = created["invoice_number"]
    body = client.get(f"/api/plugin/invoice/{number}/status?api_key={store.api_key}&network=testnet").get_json()
    assert body["success"] is True
    assert body["status"] == body["invoice"]["status"] == body["data"]["status"] == "pending"
    assert body["invoice"]["invoice_number"] == number
    assert body["invoice"]["payment_url"] == created["payment_url"]


def test_by_external_id_finds_the_invoice(client, store) -> None:
    number = post_json(client, CREATE, invoice_body(store.api_key, external_invoice_id="order 77/b")).get_json()[
        "invoice_number"]
    body = client.get(f"/api/plugin/invoice/by-external-id/order%2077/b?api_key={store.api_key}&network=testnet")
    assert body.status_code == 200
    assert body.get_json()["invoice"]["invoice_number"] == number
    missing = client.get(f"/api/plugin/invoice/by-external-id/nope?api_key={store.api_key}")
    assert missing.status_code == 404 and missing.get_json()["error_code"] == "INVOICE_NOT_FOUND"


def test_test_connection_returns_store_and_user(client, store) -> None:
    response = post_json(client, "/api/plugin/test-connection",
                         {"api_key": store.api_key, "network": "testnet", "platform": "opencart",
                          "store_name": "My shop", "user_agent": "OpenCart/4", "version": "1.0.0"})
    assert response.status_code == 200
    data = response.get_json()["data"]
    assert data["store"] == {"id": store.id, "name": "Test Shop", "network": "sandbox", "has_destination_wallet": True}
    assert data["user"] == {"email": "owner@shop.test"}
    bad = post_json(client, "/api/plugin/test-connection", {"api_key": "z" * 32})
    assert bad.status_code == 401 and bad.get_json()["error_code"] == "INVALID_API_KEY"
    mismatch = post_json(client, "/api/plugin/test-connection", {"api_key": store.api_key, "network": "mainnet"})
    assert mismatch.status_code == 422 and mismatch.get_json()["error_code"] == "NETWORK_MISMATCH"


def session_body(api_key: str, **fields) -> dict:
    body = {"api_key": api_key, "network": "testnet", "platform": "whmcs", "external_payment_id": "inv-1001",
            "amount": Decimal("30.00"), "fiat_currency": "USD",
            "success_url": "https://shop.test/ok?s=[session_id]&st=[payment_status]&tx=[payment_tx_id]",
            "cancel_url": "https://shop.test/cancel"}
    body.update(fields)
    return body


def test_dynamic_session_initiate_status_and_paid(client, store, services) -> None:
    response = post_json(client, "/api/dynamic-payment/initiate", session_body(store.api_key))
    assert response.status_code == 201
    body = response.get_json()
    data = body["data"]
    for field in ("session_id", "payment_url", "deposit_address", "amount_sol", "expiry_date"):
        assert data[field] is not None
    session_id = data["session_id"]
    assert data["payment_url"] == f"https://gateway.test/pay-dynamic/{session_id}"
    assert '"amount_sol":0.2,' in response.get_data(as_text=True)
    status = client.get(f"/api/dynamic-payment/{session_id}/status?api_key={store.api_key}&network=testnet")
    assert status.get_json()["session"]["status"] == "pending"
    assert status.get_json()["session"]["session_id"] == session_id
    post_json(client, f"/pay/{session_id}/simulate", {"asset": "USDC"})
    tick(services)
    session = client.get(f"/api/dynamic-payment/{session_id}/status?api_key={store.api_key}").get_json()["session"]
    assert session["status"] == "paid" and session["payment_tx_id"]
    # sessions and invoices are separate namespaces for the plugins
    assert client.get(f"/api/plugin/invoice/{session_id}/status?api_key={store.api_key}").status_code == 404


def test_dynamic_session_retry_is_idempotent(client, store) -> None:
    first = post_json(client, "/api/dynamic-payment/initiate", session_body(store.api_key)).get_json()
    again = post_json(client, "/api/dynamic-payment/initiate", session_body(store.api_key))
    assert again.status_code == 200 and again.get_json()["data"]["session_id"] == first["data"]["session_id"]
    other = post_json(client, "/api/dynamic-payment/initiate", session_body(store.api_key, amount="31.00"))
    assert other.status_code == 409 and other.get_json()["error_code"] == "DUPLICATE_EXTERNAL_ID"


def test_dynamic_session_update_amount_and_cancel(client, store, services) -> None:
    session_id = post_json(client, "/api/dynamic-payment/initiate", session_body(store.api_key)).get_json()[
        "data"]["session_id"]
    updated = post_json(client, f"/api/dynamic-payment/{session_id}/update-amount",
                        {"api_key": store.api_key, "network": "testnet", "amount": "45.00"})
    assert updated.status_code == 200
    assert updated.get_json()["data"]["amount_sol"] == 0.3 and updated.get_json()["data"]["amount_fiat"] == 45
    bad = post_json(client, f"/api/dynamic-payment/{session_id}/update-amount", {"api_key": store.api_key})
    assert bad.status_code == 422 and "amount" in bad.get_json()["errors"]
    cancelled = post_json(client, f"/api/dynamic-payment/{session_id}/cancel", {"api_key": store.api_key})
    assert cancelled.status_code == 200 and cancelled.get_json()["data"]["status"] == "cancelled"
    again = post_json(client, f"/api/dynamic-payment/{session_id}/cancel", {"api_key": store.api_key})
    assert again.status_code == 200
    late_update = post_json(client, f"/api/dynamic-payment/{session_id}/update-amount",
                            {"api_key": store.api_key, "amount": "10"})
    assert late_update.status_code == 409 and late_update.get_json()["error_code"] == "INVALID_INVOICE_STATE"


def test_paid_session_cannot_be_cancelled_or_repriced(client, store, services) -> None:
    session_id = post_json(client, "/api/dynamic-payment/initiate", session_body(store.api_key)).get_json()[
        "data"]["session_id"]
    post_json(client, f"/pay/{session_id}/simulate", {"asset": "SOL", "amount": "0.1"})
    tick(services)
    update = post_json(client, f"/api/dynamic-payment/{session_id}/update-amount",
                       {"api_key": store.api_key, "amount": "10"})
    assert update.status_code == 409
    post_json(client, f"/pay/{session_id}/simulate", {"asset": "SOL"})
    tick(services)
    cancel = post_json(client, f"/api/dynamic-payment/{session_id}/cancel", {"api_key": store.api_key})
    assert cancel.status_code == 409 and cancel.get_json()["success"] is False


def test_unknown_session_is_404_in_voltxt_format(client, store) -> None:
    response = client.get(f"/api/dynamic-payment/NOPE/status?api_key={store.api_key}")
    assert response.status_code == 404 and response.get_json()["error_code"] == "INVOICE_NOT_FOUND"


def test_payment_page_renders(client, store) -> None:
    number = post_json(client, CREATE, invoice_body(store.api_key, description="Blue mug")).get_json()[
        "invoice_number"]
    page = client.get(f"/pay/{number}")
    assert page.status_code == 200 and "Blue mug" in page.get_data(as_text=True)
    assert client.get("/pay/NOSUCHNUMBER").status_code == 404
