"""Which rates a store prices with, by its network: the fixed table offline, the live aggregate for real money."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

from gateway_core.config import Settings
from gateway_core.ports import Clock, RateQuote, RateSource

log = logging.getLogger(__name__)
FIXED = "fixed"
LIVE_SOURCES = ("coinbase", "kraken", "bitstamp", "coingecko")


class RateBook:
    """A RateSource per network. Called without a network (rate/quote), it answers as a live network would."""

    def __init__(self, fixed: RateSource, live: RateSource, *, sandbox_live: bool = False,
                 fixed_everywhere: bool = False) -> None:
        self.fixed = fixed
        self.live = live
        self._sandbox_live = sandbox_live
        self.fixed_everywhere = fixed_everywhere

    def for_network(self, network: str) -> RateSource:
        """The fixed table for sandbox stores (unless SANDBOX_RATES=live) and wherever RATE_SOURCES=fixed."""
        if self.fixed_everywhere or (network == "sandbox" and not self._sandbox_live):
            return self.fixed
        return self.live

    def rate(self, asset: str, currency: str) -> Decimal:
        return self.for_network("mainnet").rate(asset, currency)

    def quote(self, asset: str, currency: str) -> RateQuote:
        return self.for_network("mainnet").quote(asset, currency)


def rates_for_network(rates: RateSource, network: str) -> RateSource:
    """The rates `network` prices with (a single source, such as a test's, answers for every network)."""
    return rates.for_network(network) if isinstance(rates, RateBook) else rates


def fixed_on_mainnet_warning(settings: Settings) -> str | None:
    """The warning to print when mainnet stores would price with the fixed table."""
    if settings.rate_sources == (FIXED,):
        return ("RATE_SOURCES=fixed: mainnet stores price with the fixed rate table, not the market; "
                "buyers pay whatever that table says")
    return None


def rates_from_settings(settings: Settings, clock: Clock) -> RateBook:
    """The fixed table (RATES) and the live aggregate (RATE_SOURCES, cached in Redis when REDIS_URL is set)."""
    from gateway_core.adapters.rates.aggregate import AggregateRates, Policy
    from gateway_core.adapters.rates.bitstamp import BitstampSource
    from gateway_core.adapters.rates.cache import ProcessCache, RateCache, RedisCache
    from gateway_core.adapters.rates.coinbase import CoinbaseSource
    from gateway_core.adapters.rates.coingecko import CoinGeckoSource
    from gateway_core.adapters.rates.fixed import FixedRateSource
    from gateway_core.adapters.rates.fx import FrankfurterFx
    from gateway_core.adapters.rates.http import PriceSource
    from gateway_core.adapters.rates.kraken import KrakenSource

    urls = settings.rate_source_urls
    makers: dict[str, Callable[..., PriceSource]] = {
        "coinbase": CoinbaseSource, "kraken": KrakenSource, "bitstamp": BitstampSource, "coingecko": CoinGeckoSource}
    names = [name for name in settings.rate_sources if name != FIXED]
    sources = [makers[name](urls[name]) if name in urls else makers[name]() for name in names]
    fx = FrankfurterFx(urls["fx"]) if "fx" in urls else FrankfurterFx()
    cache: RateCache = RedisCache.from_url(settings.redis_url) if settings.redis_url else ProcessCache()
    policy = Policy(settings.rate_timeout_seconds, settings.rate_min_sources, settings.rate_max_spread_percent,
                    settings.rate_cache_seconds, settings.rate_max_age_seconds,
                    timedelta(minutes=settings.quote_lock_minutes))
    live = AggregateRates(sources, fx, cache, clock, policy)
    fixed_everywhere = not sources
    book = RateBook(FixedRateSource(settings.rates, clock), live, sandbox_live=settings.sandbox_rates == "live",
                    fixed_everywhere=fixed_everywhere)
    return book
