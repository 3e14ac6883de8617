"""Fake spot-price APIs (Coinbase, Kraken, Bitstamp, CoinGecko) and a fiat FX API (Frankfurter), answering with
each provider's documented payload: through `responses` in tests, or as one HTTP server on 127.0.0.1 (benchmarks).

The providers' paths do not collide, so one server (one base URL) serves all five.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Mapping
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
import responses

SOURCES = ("coinbase", "kraken", "bitstamp", "coingecko")
COINGECKO_IDS = {"SOL": "solana", "USDC": "usd-coin", "USDT": "tether"}
KRAKEN_RESULT_KEYS = {"USDTUSD": "USDTZUSD", "SOLUSD": "SOLUSD"}  # Kraken answers with its own pair names
BASES = {"coinbase": "https://api.coinbase.com", "kraken": "https://api.kraken.com",
         "bitstamp": "https://www.bitstamp.net", "coingecko": "https://api.coingecko.com",
         "fx": "https://api.frankfurter.app"}


class Market:
    """What each fake provider says: its prices, and whether it is down or too slow."""

    def __init__(self, prices: Mapping[tuple[str, str], Decimal] | None = None,
                 fx: Mapping[str, Decimal] | None = None) -> None:
        self.prices: dict[tuple[str, str, str], Decimal] = {}
        for (asset, fiat), price in (prices or {}).items():
            for source in SOURCES:
                self.prices[(source, asset, fiat)] = price
        self.fx: dict[str, Decimal] = dict(fx or {})
        self.down: set[str] = set()
        self.slow: set[str] = set()
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def set(self, source: str, asset: str, fiat: str, price: Decimal) -> None:
        self.prices[(source, asset, fiat)] = price

    def answer(self, source: str, path: str, query: Mapping[str, str]) -> tuple[int, str]:
        """(status, JSON text) of one request to `source`."""
        with self._lock:
            self.calls[source] += 1
        if source in self.down:
            return 503, json.dumps({"message": "service unavailable"})
        return getattr(self, f"_{source}")(path, query)

    def _coinbase(self, path: str, query: Mapping[str, str]) -> tuple[int, str]:
        asset = query.get("currency", "")
        rates = {fiat: str(price) for (src, a, fiat), price in self.prices.items() if src == "coinbase" and a == asset}
        if not rates:
            return 400, json.dumps({"errors": [{"id": "invalid_request", "message": "Invalid currency"}]})
        return 200, json.dumps({"data": {"currency": asset, "rates": rates}})

    def _kraken(self, path: str, query: Mapping[str, str]) -> tuple[int, str]:
        pair = query.get("pair", "")
        for (src, asset, fiat), price in self.prices.items():
            if src == "kraken" and asset + fiat == pair:
                ticker = {"a": [str(price), "1", "1.000"], "b": [str(price), "1", "1.000"],
                          "c": [str(price), "0.50000000"], "v": ["1000", "2000"], "p": [str(price), str(price)],
                          "t": [100, 200], "l": [str(price), str(price)], "h": [str(price), str(price)],
                          "o": str(price)}
                return 200, json.dumps({"error": [], "result": {KRAKEN_RESULT_KEYS.get(pair, pair): ticker}})
        return 200, json.dumps({"error": ["EQuery:Unknown asset pair"]})

    def _bitstamp(self, path: str, query: Mapping[str, str]) -> tuple[int, str]:
        pair = path.rstrip("/").rsplit("/", 1)[-1]
        for (src, asset, fiat), price in self.prices.items():
            if src == "bitstamp" and (asset + fiat).lower() == pair:
                return 200, json.dumps({"timestamp": "1768478400", "open": str(price), "high": str(price),
                                        "low": str(price), "last": str(price), "volume": "1000.0",
                                        "vwap": str(price), "bid": str(price), "ask": str(price),
                                        "side": "0", "open_24": str(price), "percent_change_24": "0.10"})
        return 404, json.dumps({"message": "Not Found"})

    def _coingecko(self, path: str, query: Mapping[str, str]) -> tuple[int, str]:
        ids = query.get("ids", "").split(",")
        wanted = query.get("vs_currencies", "").split(",")
        body: dict[str, dict[str, str]] = {}
        for (src, asset, fiat), price in self.prices.items():
            coin = COINGECKO_IDS[asset]
            if src == "coingecko" and coin in ids and fiat.lower() in wanted:
                body.setdefault(coin, {})[fiat.lower()] = str(price)
        # JSON numbers, not strings, as CoinGecko sends them: written out digit for digit.
        text = "{" + ",".join(
            f'"{coin}":{{' + ",".join(f'"{fiat}":{value}' for fiat, value in fiats.items()) + "}"
            for coin, fiats in body.items()) + "}"
        return 200, text

    def _fx(self, path: str, query: Mapping[str, str]) -> tuple[int, str]:
        target = query.get("to", "")
        if query.get("from") != "USD" or target not in self.fx:
            return 404, json.dumps({"message": "not found"})
        rates = f'{{"{target}":{self.fx[target]}}}'  # a JSON number, as Frankfurter sends it
        return 200, f'{{"amount":1.0,"base":"USD","date":"2026-01-15","rates":{rates}}}'

    # -- serving ----------------------------------------------------------------------------------------------

    def install(self, mock: responses.RequestsMock, bases: Mapping[str, str] = BASES) -> None:
        """Answer every provider's requests through `responses` (a slow one raises the client's read timeout)."""
        import re

        for source, base in bases.items():
            def callback(request: Any, source: str = source) -> tuple[int, dict[str, str], str]:
                if source in self.slow:
                    with self._lock:
                        self.calls[source] += 1
                    raise requests.exceptions.ReadTimeout(f"{source} read timed out")
                split = urlsplit(request.url)
                query = {k: v[0] for k, v in parse_qs(split.query).items()}
                status, text = self.answer(source, split.path, query)
                return status, {"Content-Type": "application/json"}, text

            mock.add_callback(responses.GET, re.compile(re.escape(base) + r"/.*"), callback=callback)


def source_of(path: str) -> str:
    """Which provider a path belongs to (one server serves them all)."""
    if path.startswith("/v2/exchange-rates"):
        return "coinbase"
    if path.startswith("/0/public/"):
        return "kraken"
    if path.startswith("/api/v2/ticker/"):
        return "bitstamp"
    if path.startswith("/api/v3/"):
        return "coingecko"
    return "fx"


class PriceServer:
    """`market` served over HTTP on 127.0.0.1 (an ephemeral port), for processes `responses` cannot reach."""

    def __init__(self, market: Market) -> None:
        outer = market

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                split = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(split.query).items()}
                status, text = outer.answer(source_of(split.path), split.path, query)
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.market = market
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> PriceServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
