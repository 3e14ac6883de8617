"""Coinbase: GET /v2/exchange-rates?currency=SOL -> {"data": {"currency": "SOL", "rates": {"USD": "152.31"}}}."""

from __future__ import annotations

from decimal import Decimal

from gateway_core.adapters.rates.http import SourceFailed, get_json, positive, session

BASE_URL = "https://api.coinbase.com"


class CoinbaseSource:
    name = "coinbase"
    # Coinbase converts into every fiat it lists, all of ours among them.
    currencies = frozenset({"USD", "EUR", "GBP", "CAD", "AUD", "CHF", "JPY", "BRL", "MXN", "INR", "PLN", "TRY"})

    def __init__(self, base_url: str = BASE_URL) -> None:
        self._url = base_url.rstrip("/") + "/v2/exchange-rates"
        self._session = session()

    def price(self, asset: str, currency: str, timeout: float) -> Decimal:
        body = get_json(self._session, self._url, {"currency": asset}, timeout)
        try:
            value = body["data"]["rates"][currency]
        except (KeyError, TypeError):
            raise SourceFailed(f"no {asset}/{currency} in the answer") from None
        return positive(value)
