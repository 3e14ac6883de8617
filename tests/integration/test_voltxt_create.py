"""VOLTXT create-invoice: the spec's response, exact numbers, idempotent retries, every validation."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest

from tests.conftest import invoice_body, post_json

CREATE = "/api/plugin/invoice/create"


def test_create_returns_flat_fields_and_the_same_invoice_nested(client, store) -> None:
    response = post_json(client, CREATE, invoice_body(store.api_key, network="testnet",
                                                      customer_email="buyer@example.com",
                                                      metadata={"order_id": 12345, "product_ids": [1, 2, 3]}))
    assert response.status_code == 201
    body = response.get_json()
    assert body["success"] is True
    for field in ("invoice_number", "payment_url", "deposit_address", "sol_deposit_address",
                  "usdc_deposit_address", "amount_crypto", "crypto_currency"):
        assert field in body and body["invoice"][field] == body[field]
    number = body["invoice_number"]
    assert re.fullmatch(r"[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{14}", number)
    assert body["payment_url"] == f"https://gateway.test/pay/{number}"
    assert body["crypto_currency"] == "SOL"
    assert body["deposit_address"] == body["sol_deposit_address"]
    assert body["status"] == "pending"
    assert body["metadata"] == {"order_id": 12345, "product_ids": [1, 2, 3]}
    # 99.99 USD at 150 USD/SOL = 0.6666 SOL exactly; USDC at 1 USD = 99.99
    raw = response.get_data(as_text=True)
    assert '"amount_crypto":0.6666,' in raw
    options = {o["currency"]: o for o in body["payment_options"]}
    assert options["USDC"]["amount_base_units"] == 99_990_000
    assert options["SOL"]["amount_base_units"] == 666_600_000
    assert set(options) == {"SOL", "USDC", "USDT"}


def test_amount_crypto_is_a_json_number_rendered_exactly_never_through_float(client, store) -> None:
    # 0.1 + 0.2 USD = 0.3 USD -> 0.002 SOL exactly; a float path would show 0.30000000000000004 somewhere.
    response = post_json(client, CREATE, invoice_body(store.api_key, amount=Decimal("0.3")))
    raw = response.get_data(as_text=True)
    assert '"amount_crypto":0.002,' in raw
    assert '"amount_fiat":0.30,' in raw or '"amount_fiat":0.3,' in raw
    assert "0000000000004" not in raw


def test_fiat_to_crypto_rounds_up_to_the_assets_precision(client, store) -> None:
    # 1 USD / 150 = 0.00666666666... SOL -> rounded UP to 9 decimals = 0.006666667
    response = post_json(client, CREATE, invoice_body(store.api_key, amount="1.00"))
    assert '"amount_crypto":0.006666667,' in response.get_data(as_text=True)


def test_crypto_priced_invoice_uses_the_exact_crypto_amount(client, store) -> None:
    response = post_json(client, CREATE, invoice_body(store.api_key, amount_type="crypto", amount=Decimal("0.5"),
                                                      crypto_currency="SOL"))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    options = {o["currency"]: o for o in body["payment_options"]}
    assert options["SOL"]["amount_base_units"] == 500_000_000
    assert options["USDC"]["amount_base_units"] == 75_000_000
    assert body["amount_fiat"] == 75


def test_one_lamport_is_priced_and_more_decimals_than_sol_has_is_refused(client, store) -> None:
    ok = post_json(client, CREATE, invoice_body(store.api_key, amount_type="crypto", amount=Decimal("1E-9"),
                                                crypto_currency="SOL", external_invoice_id="tiny"))
    # 1 lamport is worth 0.00000015 USD: below the minimum invoice value
    assert ok.get_json()["error_code"] == "AMOUNT_TOO_LOW"
    too_precise = post_json(client, CREATE, invoice_body(store.api_key, amount_type="crypto",
                                                         amount=Decimal("0.0000000001"), crypto_currency="SOL"))
    assert too_precise.status_code == 422
    assert too_precise.get_json()["errors"]["amount"].startswith("SOL has at most 9 decimals")


def test_identical_retry_returns_the_same_invoice_with_200(client, store) -> None:
    first = post_json(client, CREATE, invoice_body(store.api_key))
    again = post_json(client, CREATE, invoice_body(store.api_key))
    assert first.status_code == 201 and again.status_code == 200
    assert again.get_json()["invoice_number"] == first.get_json()["invoice_number"]


@pytest.mark.parametrize("change", [{"amount": "100.00"}, {"fiat_currency": "EUR"}, {"platform": "opencart"}])
def test_same_external_id_with_different_amount_currency_or_platform_is_409(client, store, change) -> None:
    assert post_json(client, CREATE, invoice_body(store.api_key)).status_code == 201
    response = post_json(client, CREATE, invoice_body(store.api_key, **change))
    assert response.status_code == 409
    assert response.get_json()["error_code"] == "DUPLICATE_EXTERNAL_ID"


def test_amount_as_numeric_string_from_php_plugins(client, store) -> None:
    response = post_json(client, CREATE, invoice_body(store.api_key, amount="99.99"))
    assert response.status_code == 201
    assert response.get_json()["amount_fiat"] == 99.99


def test_expiry_hours_default_24_and_bounds(client, store) -> None:
    body = post_json(client, CREATE, invoice_body(store.api_key)).get_json()
    assert body["expiry_date"] == "2026-01-16T12:00:00.000Z"
    body = post_json(client, CREATE, invoice_body(store.api_key, external_invoice_id="o2", expiry_hours=168)).get_json()
    assert body["expiry_date"] == "2026-01-22T12:00:00.000Z"
    for bad in (0, 169, "abc", Decimal("1.5"), True):
        response = post_json(client, CREATE, invoice_body(store.api_key, external_invoice_id="o3", expiry_hours=bad))
        assert response.status_code == 422
        assert "expiry_hours" in response.get_json()["errors"]


def test_euro_invoices_use_the_eur_rates(client, store) -> None:
    body = post_json(client, CREATE, invoice_body(store.api_key, fiat_currency="EUR", amount="138.00")).get_json()
    assert body["amount_crypto"] == 1
    assert body["fiat_currency"] == "EUR"


def test_response_is_valid_json_with_numbers_not_strings(client, store) -> None:
    raw = post_json(client, CREATE, invoice_body(store.api_key)).get_data(as_text=True)
    parsed = json.loads(raw, parse_float=Decimal)
    assert parsed["amount_crypto"] == Decimal("0.6666")
    assert isinstance(parsed["payment_progress_percentage"], int | Decimal)
