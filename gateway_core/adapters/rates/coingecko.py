"""CoinGecko: GET /api/v3/simple/price?ids=solana&vs_currencies=usd -> {"solana": {"usd": 152.31}}.

Its prices are JSON numbers: read as Decimal straight from the text (get_json), never through float.
"""

from __future__ import annotations

from decimal import Decimal

from gateway_core.adapters.rates.http import SourceFailed, get_json, positive, session

BASE_URL = "https://api.coingecko.com"
COIN_IDS = {"SOL": "solana", "USDC": "usd-coin", "USDT": "tether"}


class CoinGeckoSource:
    name = "coingecko"
    currencies = frozenset({"USD", "EUR", "GBP", "CAD", "AUD", "CHF", "JPY", "BRL", "MXN", "INR", "PLN", "TRY"})

    def __init__(self, base_url: str = BASE_URL) -> None:
        self._url = base_url.rstrip("/") + "/api/v3/simple/price"
        self._session = session()

    def price(self, asset: str, currency: str, timeout: float) -> Decimal:
        coin = COIN_IDS.get(asset)
        if coin is None:
            raise SourceFailed(f"no CoinGecko id for {asset}")
        body = get_json(self._session, self._url, {"ids": coin, "vs_currencies": currency.lower()}, timeout)
        try:
            value = body[coin][currency.lower()]
        except (KeyError, TypeError):
            raise SourceFailed(f"no {asset}/{currency} in the answer") from None
        return positive(value)
