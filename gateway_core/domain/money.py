"""Assets, fiat currencies and exact conversion between them (no floats anywhere)."""

from __future__ import annotations

import decimal
from dataclasses import dataclass
from decimal import Decimal

# Enough digits for 10^18 base units divided by any realistic rate without rounding surprises.
_CONTEXT = decimal.Context(prec=60, rounding=decimal.ROUND_CEILING)


@dataclass(frozen=True)
class Asset:
    """A payable crypto asset: its code, the chain it lives on, and its number of decimals."""

    code: str
    chain: str
    decimals: int

    @property
    def unit(self) -> Decimal:
        return Decimal(1).scaleb(-self.decimals)


SOL = Asset("SOL", "solana", 9)
USDC = Asset("USDC", "solana", 6)
USDT = Asset("USDT", "tron", 6)
ASSETS: dict[str, Asset] = {a.code: a for a in (SOL, USDC, USDT)}
# Order in which a store's assets are presented; the first accepted one is the invoice's primary asset.
ASSET_ORDER = ("SOL", "USDC", "USDT")

# ISO 4217 minor-unit exponents for the fiat currencies we price in.
FIAT_EXPONENTS: dict[str, int] = {
    "USD": 2, "EUR": 2, "GBP": 2, "CAD": 2, "AUD": 2, "CHF": 2, "NZD": 2, "SGD": 2, "HKD": 2,
    "SEK": 2, "NOK": 2, "DKK": 2, "PLN": 2, "CZK": 2, "BRL": 2, "MXN": 2, "INR": 2, "ZAR": 2,
    "TRY": 2, "AED": 2, "CNY": 2, "JPY": 0, "KRW": 0, "HUF": 2,
}


class MoneyError(ValueError):
    """An amount that cannot be represented exactly in its currency or asset."""


def asset(code: str) -> Asset:
    """The asset with this code (case-insensitive), or MoneyError."""
    try:
        return ASSETS[code.upper()]
    except KeyError:
        raise MoneyError(f"unknown asset {code!r}") from None


def to_base_units(amount: Decimal, of: Asset) -> int:
    """Exact conversion of a user-unit amount to base units; more decimals than the asset has is an error."""
    scaled = amount.scaleb(of.decimals, _CONTEXT)
    if scaled != scaled.to_integral_value():
        raise MoneyError(f"{of.code} has at most {of.decimals} decimals")
    return int(scaled)


def from_base_units(units: int, of: Asset) -> Decimal:
    """Base units back to user units, exactly (e.g. 666666667 lamports -> Decimal('0.666666667'))."""
    return Decimal(units).scaleb(-of.decimals, _CONTEXT)


def fiat_to_minor(amount: Decimal, currency: str) -> int:
    """Exact fiat amount in minor units; more decimals than the currency has is an error."""
    exponent = FIAT_EXPONENTS[currency]
    scaled = amount.scaleb(exponent, _CONTEXT)
    if scaled != scaled.to_integral_value():
        raise MoneyError(f"{currency} has at most {exponent} decimals")
    return int(scaled)


def minor_to_fiat(minor: int, currency: str) -> Decimal:
    """Minor units back to a Decimal with the currency's exponent (9999 USD -> Decimal('99.99'))."""
    return Decimal(minor).scaleb(-FIAT_EXPONENTS[currency], _CONTEXT)


def value_to_base_units(value: Decimal, rate: Decimal, of: Asset) -> int:
    """Base units worth `value` at `rate` (price of one unit), rounded UP so the merchant is never short."""
    if rate <= 0:
        raise MoneyError("rate must be positive")
    quotient = _CONTEXT.divide(value, rate).scaleb(of.decimals, _CONTEXT)
    return int(quotient.to_integral_value(rounding=decimal.ROUND_CEILING))


def base_units_value(units: int, of: Asset, rate: Decimal, currency: str) -> Decimal:
    """Fiat value of base units at `rate`, rounded half-up to the currency's exponent (informational only)."""
    value = _CONTEXT.multiply(from_base_units(units, of), rate)
    exponent = Decimal(1).scaleb(-FIAT_EXPONENTS.get(currency, 2))
    return value.quantize(exponent, rounding=decimal.ROUND_HALF_UP)


def plain(amount: Decimal) -> str:
    """Decimal in plain notation with no exponent and no trailing zeros ('1E-9' -> '0.000000001')."""
    text = format(amount, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def scale(amount: Decimal) -> int:
    """Decimals as written: Decimal('120.00') -> 2, Decimal('49.9') -> 1, Decimal('120') -> 0."""
    exponent = amount.as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def with_scale(amount: Decimal, decimals: int | None) -> str:
    """Plain notation with at least `decimals` decimals, never fewer digits than the amount needs (None: plain).

    '20.5' at 2 -> '20.50'; '0.123456' at 2 -> '0.123456' (rounding money away is never an option).
    """
    text = plain(amount)
    if not decimals:
        return text
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(decimals, '0')}"
