"""Exact money: integer base units and Decimal, rounding up to the asset's precision, never float."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bridge.jsonio import dumps
from gateway_core.adapters.jsonwire import dumps_view
from gateway_core.domain import money
from gateway_core.domain.money import SOL, USDC, USDT


def test_base_units_round_trip_exactly() -> None:
    assert money.to_base_units(Decimal("0.666666667"), SOL) == 666_666_667
    assert money.from_base_units(666_666_667, SOL) == Decimal("0.666666667")
    assert money.to_base_units(Decimal("1E-9"), SOL) == 1
    assert money.from_base_units(1, SOL) == Decimal("1E-9")
    assert money.to_base_units(Decimal("99.99"), USDC) == 99_990_000
    assert money.to_base_units(Decimal("12345678901.123456"), USDT) == 12_345_678_901_123_456


def test_more_decimals_than_the_asset_has_is_an_error_not_a_rounding() -> None:
    with pytest.raises(money.MoneyError):
        money.to_base_units(Decimal("0.0000000001"), SOL)
    with pytest.raises(money.MoneyError):
        money.to_base_units(Decimal("1.0000001"), USDC)


def test_point_one_plus_point_two_is_point_three() -> None:
    total = Decimal("0.1") + Decimal("0.2")
    assert money.fiat_to_minor(total, "USD") == 30
    assert money.value_to_base_units(total, Decimal("1"), USDC) == 300_000
    assert money.value_to_base_units(total, Decimal("150"), SOL) == 2_000_000


def test_fiat_to_crypto_rounds_up_so_the_merchant_is_never_short() -> None:
    assert money.value_to_base_units(Decimal("1"), Decimal("150"), SOL) == 6_666_667
    assert money.value_to_base_units(Decimal("1"), Decimal("3"), USDC) == 333_334
    # exact quotients are not bumped
    assert money.value_to_base_units(Decimal("150"), Decimal("150"), SOL) == 1_000_000_000
    # a nano-dollar still costs one lamport
    assert money.value_to_base_units(Decimal("0.000000001"), Decimal("150"), SOL) == 1


def test_fiat_minor_units_respect_the_currency_exponent() -> None:
    assert money.fiat_to_minor(Decimal("99.99"), "USD") == 9999
    assert money.fiat_to_minor(Decimal("500"), "JPY") == 500
    with pytest.raises(money.MoneyError):
        money.fiat_to_minor(Decimal("99.999"), "USD")
    with pytest.raises(money.MoneyError):
        money.fiat_to_minor(Decimal("1.5"), "JPY")
    assert money.minor_to_fiat(9999, "USD") == Decimal("99.99")


def test_informational_fiat_value_rounds_half_up() -> None:
    assert money.base_units_value(3_333_333, SOL, Decimal("150"), "USD") == Decimal("0.50")
    assert money.base_units_value(500_000_000, SOL, Decimal("150"), "USD") == Decimal("75.00")


def test_plain_never_uses_exponent_notation() -> None:
    assert money.plain(Decimal("1E-9")) == "0.000000001"
    assert money.plain(Decimal("1.000000000")) == "1"
    assert money.plain(Decimal("1E+3")) == "1000"
    assert money.plain(Decimal("0")) == "0"


def test_json_renders_decimals_as_exact_numbers_and_refuses_floats() -> None:
    assert dumps({"a": Decimal("0.666666667"), "b": Decimal("1E-9"), "c": Decimal("100.00")}) == (
        '{"a":0.666666667,"b":0.000000001,"c":100}'
    )
    with pytest.raises(TypeError):
        dumps({"bad": 0.1})


def test_view_json_is_the_same_text_and_falls_back_where_orjson_refuses() -> None:
    from datetime import UTC, datetime, timedelta, timezone

    moment = datetime(2024, 1, 31, 12, 5, 0, 987654, tzinfo=UTC)
    payload = {"amount": Decimal("0.666666667"), "tiny": Decimal("1E-9"), "round": Decimal("100.00"),
               "at": moment, "at_cest": moment.astimezone(timezone(timedelta(hours=2))),
               "metadata": {"cart": [Decimal("9.90"), 1, None, True, "mug \u00e9\u2028"], "empty": {}}}
    assert dumps_view(payload) == dumps(payload).encode()
    assert b'"at":"2024-01-31T12:05:00.987Z","at_cest":"2024-01-31T12:05:00.987Z"' in dumps_view(payload)
    assert dumps_view({"units": 2**70}) == b'{"units":1180591620717411303424}'  # beyond orjson's 64 bits


def test_no_float_in_the_money_code() -> None:
    import inspect

    source = inspect.getsource(money)
    assert "float(" not in source


def test_scale_is_the_decimals_as_written_and_with_scale_never_drops_digits() -> None:
    assert [money.scale(Decimal(t)) for t in ("120.00", "49.9", "120", "1E+2", "0.000001")] == [2, 1, 0, 0, 6]
    assert money.with_scale(Decimal("20.5"), 2) == "20.50"
    assert money.with_scale(Decimal("120"), 2) == "120.00"
    assert money.with_scale(Decimal("0.123456"), 2) == "0.123456"  # a payment's digits are never rounded away
    assert money.with_scale(Decimal("20.50"), None) == money.with_scale(Decimal("20.50"), 0) == "20.5"
