"""Bitstamp: GET /api/v2/ticker/solusd/ -> {"last": "152.31", "timestamp": "...", ...}."""

from __future__ import annotations

from decimal import Decimal

from gateway_core.adapters.rates.http import SourceFailed, get_json, positive, session

BASE_URL = "https://www.bitstamp.net"


class BitstampSource:
    name = "bitstamp"
    currencies = frozenset({"USD", "EUR", "GBP"})

    def __init__(self, base_url: str = BASE_URL) -> None:
        self._base = base_url.rstrip("/") + "/api/v2/ticker/"
        self._session = session()

    def price(self, asset: str, currency: str, timeout: float) -> Decimal:
        body = get_json(self._session, f"{self._base}{asset.lower()}{currency.lower()}/", None, timeout)
        if not isinstance(body, dict) or "last" not in body:
            raise SourceFailed(f"no {asset}/{currency} ticker in the answer")
        return positive(body["last"])
