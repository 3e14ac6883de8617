"""Fiat exchange rates for crossing through USD: Frankfurter (ECB reference rates).

GET /latest?from=USD&to=JPY -> {"amount": 1.0, "base": "USD", "date": "2026-01-15", "rates": {"JPY": 157.12}}
"""

from __future__ import annotations

from decimal import Decimal

from gateway_core.adapters.rates.http import SourceFailed, get_json, positive, session

BASE_URL = "https://api.frankfurter.app"


class FrankfurterFx:
    name = "frankfurter"

    def __init__(self, base_url: str = BASE_URL) -> None:
        self._url = base_url.rstrip("/") + "/latest"
        self._session = session()

    def usd_to(self, currency: str, timeout: float) -> Decimal:
        """How many units of `currency` one US dollar buys."""
        if currency == "USD":
            return Decimal(1)
        body = get_json(self._session, self._url, {"from": "USD", "to": currency}, timeout)
        try:
            if body["amount"] != 1 or body["base"] != "USD":
                raise SourceFailed("answer is not per one USD")
            return positive(body["rates"][currency])
        except (KeyError, TypeError):
            raise SourceFailed(f"no USD/{currency} in the answer") from None
