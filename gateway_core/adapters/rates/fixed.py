"""A fixed rate table: the sandbox and tests use it; RATES in the environment replaces entries."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from gateway_core.domain.errors import RateUnavailable

DEFAULT_RATES: dict[tuple[str, str], Decimal] = {
    ("SOL", "USD"): Decimal("150"),
    ("USDC", "USD"): Decimal("1"),
    ("USDT", "USD"): Decimal("1"),
    ("SOL", "EUR"): Decimal("138"),
    ("USDC", "EUR"): Decimal("0.92"),
    ("USDT", "EUR"): Decimal("0.92"),
}


class FixedRateSource:
    """Rates looked up in a table; a pair that is not in it is unavailable."""

    def __init__(self, overrides: Mapping[tuple[str, str], Decimal] | None = None) -> None:
        self._table = {**DEFAULT_RATES, **(overrides or {})}

    def rate(self, asset: str, currency: str) -> Decimal:
        key = (asset.upper(), currency.upper())
        if key in self._table:
            return self._table[key]
        raise RateUnavailable(f"no {key[0]}/{key[1]} rate")

    def currencies(self) -> set[str]:
        return {quote for _, quote in self._table}
