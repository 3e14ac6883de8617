"""Kraken: GET /0/public/Ticker?pair=SOLUSD -> {"error": [], "result": {"SOLUSD": {"c": ["152.31", "0.5"]}}}.

The result is keyed by Kraken's own pair name, which may differ from the one asked for (USDTUSD answers as
USDTZUSD), so the one entry of the result is read whatever its key.
"""

from __future__ import annotations

from decimal import Decimal

from gateway_core.adapters.rates.http import SourceFailed, get_json, positive, session

BASE_URL = "https://api.kraken.com"


class KrakenSource:
    name = "kraken"
    currencies = frozenset({"USD", "EUR", "GBP", "CAD", "AUD", "CHF", "JPY"})

    def __init__(self, base_url: str = BASE_URL) -> None:
        self._url = base_url.rstrip("/") + "/0/public/Ticker"
        self._session = session()

    def price(self, asset: str, currency: str, timeout: float) -> Decimal:
        body = get_json(self._session, self._url, {"pair": f"{asset}{currency}"}, timeout)
        if not isinstance(body, dict) or body.get("error"):
            raise SourceFailed(f"Kraken error {body.get('error') if isinstance(body, dict) else body!r}")
        result = body.get("result")
        if not isinstance(result, dict) or len(result) != 1:
            raise SourceFailed(f"no single {asset}/{currency} ticker in the answer")
        try:
            return positive(next(iter(result.values()))["c"][0])  # c = last trade closed: [price, lot volume]
        except (KeyError, IndexError, TypeError):
            raise SourceFailed("ticker without a last trade price") from None
