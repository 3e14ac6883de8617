"""What every live price source shares: one GET with a timeout, JSON numbers read as Decimal, and its errors."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

import requests


class SourceFailed(Exception):
    """A source that did not answer this pair (down, slow, unknown pair, or an answer we cannot read)."""


class PriceSource(Protocol):
    """One provider's spot price of an asset in a fiat currency it quotes directly."""

    name: str
    currencies: frozenset[str]  # fiat it quotes directly; others are crossed through USD

    def price(self, asset: str, currency: str, timeout: float) -> Decimal:
        """The provider's last price of one `asset` in `currency`; SourceFailed otherwise."""
        ...


def get_json(session: requests.Session, url: str, params: Mapping[str, str] | None, timeout: float) -> Any:
    """The JSON body of a GET, numbers as Decimal (never float); SourceFailed on any failure."""
    try:
        response = session.get(url, params=params, timeout=timeout, allow_redirects=False)
    except requests.Timeout:
        raise SourceFailed(f"no answer within {timeout:g}s") from None
    except requests.RequestException as exc:
        raise SourceFailed(f"unreachable ({type(exc).__name__})") from None
    if response.status_code != 200:
        raise SourceFailed(f"HTTP {response.status_code}")
    try:
        return response.json(parse_float=Decimal, parse_int=Decimal)
    except ValueError:
        raise SourceFailed("answer is not JSON") from None


def positive(value: Any) -> Decimal:
    """A price as a positive finite Decimal (providers send strings or JSON numbers)."""
    try:
        price = Decimal(value) if not isinstance(value, Decimal) else value
    except (InvalidOperation, TypeError, ValueError):
        raise SourceFailed(f"price {value!r} is not a number") from None
    if not price.is_finite() or price <= 0:
        raise SourceFailed(f"price {value!r} is not positive")
    return price


def session() -> requests.Session:
    """A session of its own per source (connection reuse), without proxies from the environment."""
    made = requests.Session()
    made.headers["User-Agent"] = "voltbridge-rates/1"
    made.headers["Accept"] = "application/json"
    return made
