"""One web process of the shared-rate-cache test: the live aggregate over the four price sources and the FX
source at one base URL (tests/fakes/price_apis.PriceServer), its cache in Redis under a given prefix.

Run as `python -m tests.rate_cache_process REDIS_URL PREFIX BASE_URL`. It prints "ready", then answers each
command line `<ISO time> <ASSET/FIAT>[,<ASSET/FIAT>...] <times>` with one JSON line: for each pair, the rate,
its time and sources, asked `times` times at that time (its clock is frozen there). An empty line ends it.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime

from gateway_core.adapters.rates.aggregate import AggregateRates, Policy
from gateway_core.adapters.rates.bitstamp import BitstampSource
from gateway_core.adapters.rates.cache import RedisCache
from gateway_core.adapters.rates.coinbase import CoinbaseSource
from gateway_core.adapters.rates.coingecko import CoinGeckoSource
from gateway_core.adapters.rates.fx import FrankfurterFx
from gateway_core.adapters.rates.kraken import KrakenSource
from gateway_core.clock import FrozenClock


def main(redis_url: str, prefix: str, base: str) -> int:
    clock = FrozenClock(datetime.fromisoformat("2026-01-15T12:00:00+00:00"))
    sources = [CoinbaseSource(base), KrakenSource(base), BitstampSource(base), CoinGeckoSource(base)]
    rates = AggregateRates(sources, FrankfurterFx(base), RedisCache.from_url(redis_url, prefix=prefix), clock,
                           Policy())
    print("ready", flush=True)
    for line in sys.stdin:
        if not line.strip():
            break
        at, pairs, times = line.split()
        clock.current = datetime.fromisoformat(at)
        answers: dict[str, list[object]] = {}
        for _ in range(int(times)):
            for pair in pairs.split(","):
                asset, fiat = pair.split("/")
                quote = rates.quote(asset, fiat)
                answers[pair] = [str(quote.rate), quote.at.isoformat(), list(quote.sources)]
        print(json.dumps(answers), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
