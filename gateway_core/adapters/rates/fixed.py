"""A fixed rate table: the sandbox and tests use it; RATES in the environment replaces entries."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from gateway_core.clock import SystemClock
from gateway_core.domain.errors import UnknownPair
from gateway_core.ports import Clock, RateQuote

# Round figures for offline use only: one US dollar in each fiat currency we price in.
USD_FX: dict[str, Decimal] = {
    "USD": Decimal("1"), "EUR": Decimal("0.92"), "GBP": Decimal("0.79"), "CAD": Decimal("1.36"),
    "AUD": Decimal("1.52"), "CHF": Decimal("0.88"), "JPY": Decimal("150"), "BRL": Decimal("5"),
    "MXN": Decimal("17"), "INR": Decimal("83"), "PLN": Decimal("4"), "TRY": Decimal("32"),
}
USD_PRICES = {"SOL": Decimal("150"), "USDC": Decimal("1"), "USDT": Decimal("1")}
DEFAULT_RATES: dict[tuple[str, str], Decimal] = {
    (code, fiat): price * fx for code, price in USD_PRICES.items() for fiat, fx in USD_FX.items()
}
DEFAULT_RATES[("SOL", "EUR")] = Decimal("138")  # kept as the table has always said (tests pin it)
SOURCE_NAME = "fixed"


class FixedRateSource:
    """Rates looked up in a table; a pair that is not in it is unknown."""

    def __init__(self, overrides: Mapping[tuple[str, str], Decimal] | None = None, clock: Clock | None = None) -> None:
        self._table = {**DEFAULT_RATES, **(overrides or {})}
        self._clock = clock or SystemClock()

    def rate(self, asset: str, currency: str) -> Decimal:
        key = (asset.upper(), currency.upper())
        if key in self._table:
            return self._table[key]
        raise UnknownPair(f"no {key[0]}/{key[1]} rate")

    def quote(self, asset: str, currency: str) -> RateQuote:
        return RateQuote(self.rate(asset, currency), (SOURCE_NAME,), self._clock.now())

    def currencies(self) -> set[str]:
        return {quote for _, quote in self._table}
