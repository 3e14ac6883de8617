"""Solana Pay transfer requests: our builder against the specification's rules, read back by an independent
parser (tests/solana_pay_parser.py) that shares no code with it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bridge.solana_pay import format_amount, transfer_request
from gateway_core.domain.identifiers import new_solana_pubkey
from tests.solana_pay_parser import MalformedRequest, parse

RECIPIENT = "mvines9iiHiQTysrwkJjGf2gb9Ex9jXJX8ns3qwf2kN"
USDC_MINT = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"


def test_the_specifications_examples_parse() -> None:
    one_sol = parse(f"solana:{RECIPIENT}?amount=1&label=Michael&message=Thanks%20for%20all%20the%20fish"
                    "&memo=OrderId1234")
    assert (one_sol.amount, one_sol.label, one_sol.message, one_sol.memo) == (
        "1", "Michael", "Thanks for all the fish", "OrderId1234")
    usdc = parse(f"solana:{RECIPIENT}?amount=0.01&spl-token={USDC_MINT}", decimals=6)
    assert usdc.spl_token == USDC_MINT and usdc.amount == "0.01"


@pytest.mark.parametrize("url", [
    f"solana:{RECIPIENT}?amount=.5",  # a leading 0 is required below 1
    f"solana:{RECIPIENT}?amount=1e-3",  # scientific notation is prohibited
    f"solana:{RECIPIENT}?amount=-1",
    f"solana:{RECIPIENT}?amount=1&amount=2",  # a single amount
    f"solana:{RECIPIENT}?spl-token=notakey0",
    f"solana:{RECIPIENT}?reference=abc",  # not 32 bytes
    f"solana:{RECIPIENT}?label=Two words",  # must be URL-encoded
    "solana:",
    f"bitcoin:{RECIPIENT}",
])
def test_the_parser_rejects_what_the_specification_forbids(url: str) -> None:
    with pytest.raises(MalformedRequest):
        parse(url, decimals=9)


def test_the_parser_rejects_more_decimals_than_the_asset_has() -> None:
    with pytest.raises(MalformedRequest):
        parse(f"solana:{RECIPIENT}?amount=0.1234567&spl-token={USDC_MINT}", decimals=6)


@pytest.mark.parametrize(("amount", "decimals", "text"), [
    (Decimal("0.5"), 9, "0.5"),
    (Decimal(".5"), 9, "0.5"),
    (Decimal("1E-9"), 9, "0.000000001"),
    (Decimal("1E+3"), 9, "1000"),
    (Decimal("12.340000"), 6, "12.34"),
    (Decimal("0"), 6, "0"),
    (Decimal("0.666666667"), 9, "0.666666667"),
])
def test_amounts_are_plain_user_units(amount: Decimal, decimals: int, text: str) -> None:
    assert format_amount(amount, decimals) == text
    url = transfer_request(RECIPIENT, amount, decimals=decimals)
    assert parse(url, decimals=decimals).amount == text


@pytest.mark.parametrize(("amount", "decimals"), [(Decimal("0.0000001"), 6), (Decimal("-1"), 9),
                                                  (Decimal("NaN"), 9)])
def test_the_builder_never_writes_an_amount_a_wallet_must_reject(amount: Decimal, decimals: int) -> None:
    with pytest.raises(ValueError):
        transfer_request(RECIPIENT, amount, decimals=decimals)


def test_fields_in_order_with_text_percent_encoded() -> None:
    reference = new_solana_pubkey()
    url = transfer_request(RECIPIENT, Decimal("99.99"), decimals=6, spl_token=USDC_MINT, references=[reference],
                           label="Café & Co", message="Order #12: 2 ☕ mugs + lid/100%", memo="id=7")
    assert url.startswith(f"solana:{RECIPIENT}?amount=99.99&spl-token={USDC_MINT}&reference={reference}&label=")
    request = parse(url, decimals=6)
    assert request.label == "Café & Co"
    assert request.message == "Order #12: 2 ☕ mugs + lid/100%"
    assert request.memo == "id=7"
    assert request.references == [reference]
    assert "+" not in url and " " not in url


def test_keys_must_be_32_byte_base58() -> None:
    with pytest.raises(ValueError):
        transfer_request("TJRabPrwbZy45sbavfcjinPJC18kjpRTv8")  # a TRON address is not a Solana key
    with pytest.raises(ValueError):
        transfer_request(RECIPIENT, references=["0OIl"])
    assert transfer_request(RECIPIENT) == f"solana:{RECIPIENT}"
