"""The live rate of a pair: the median of the sources that answered in time and agree, cached, never stale.

A source that quotes the fiat directly is asked for it; one that does not is asked for USD and crossed with
the fiat FX source. Answers further than RATE_MAX_SPREAD_PERCENT from the median are dropped (and logged)
one at a time, farthest first; fewer than RATE_MIN_SOURCES left means no rate. A cached rate serves for
RATE_CACHE_SECONDS; while sources fail it may serve up to RATE_MAX_AGE_SECONDS, never longer.
"""

from __future__ import annotations

import dataclasses
import logging
import statistics
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from gateway_core import telemetry
from gateway_core.adapters.rates.cache import Pair, RateCache
from gateway_core.adapters.rates.fx import FrankfurterFx
from gateway_core.adapters.rates.http import PriceSource, SourceFailed
from gateway_core.domain.errors import RateUnavailable, UnknownPair
from gateway_core.domain.money import ASSETS, FIAT_EXPONENTS
from gateway_core.ports import Clock, RateQuote

log = logging.getLogger(__name__)
STABLECOINS = frozenset({"USDC", "USDT"})
FX_ASSET = "USD"  # the FX source's pairs are cached as (USD, fiat)
DEFAULT_PAIRS = tuple((code, "USD") for code in ASSETS)  # the limits check prices every invoice in USD
WANTED_FOR = timedelta(minutes=10)  # the worker keeps a pair fresh this long after it was last asked for


@dataclass(frozen=True)
class Policy:
    timeout: float = 3.0
    min_sources: int = 2
    max_spread_percent: Decimal = Decimal("2")
    cache_seconds: float = 30.0
    max_age_seconds: float = 120.0
    quote_lock: timedelta = timedelta(minutes=15)  # how long a volatile asset's quoted amount holds


def agreeing(answers: dict[str, Decimal], max_spread_percent: Decimal) -> dict[str, Decimal]:
    """The answers left once each one further than the spread from the median is dropped, farthest first."""
    kept = dict(answers)
    while len(kept) > 1:
        middle = statistics.median(kept.values())
        name, value = max(kept.items(), key=lambda item: abs(item[1] - middle))
        off = abs(value - middle) / middle * 100
        if off <= max_spread_percent:
            break
        log.warning("rate source disagrees, dropped", extra={"source": name, "price": str(value),
                                                            "median": str(middle), "off_percent": f"{off:.2f}"})
        del kept[name]
    return kept


class AggregateRates:
    """RateSource over several live price sources, with the cache shared as configured."""

    def __init__(self, sources: Sequence[PriceSource], fx: FrankfurterFx, cache: RateCache, clock: Clock,
                 policy: Policy = Policy(), wait_for: Callable[[float], None] = time.sleep) -> None:
        self.sources = list(sources)
        self._fx = fx
        self._cache = cache
        self._clock = clock
        self.policy = policy
        self._pool = ThreadPoolExecutor(max_workers=max(2, len(self.sources) + 1), thread_name_prefix="rates")
        self._wait_for = wait_for

    def rate(self, asset: str, currency: str) -> Decimal:
        return self.quote(asset, currency).rate

    def quote(self, asset: str, currency: str) -> RateQuote:
        pair = (asset.upper(), currency.upper())
        if pair[0] not in ASSETS or pair[1] not in FIAT_EXPONENTS:
            raise UnknownPair(f"no {pair[0]}/{pair[1]} rate")
        self._cache.want(pair, self._clock.now())
        quote = self._fresh(pair, lambda: self._fetch(pair))
        # Stablecoins hold for the invoice's life; a volatile asset's amount holds for the lock only.
        return quote if pair[0] in STABLECOINS else dataclasses.replace(quote, lock=self.policy.quote_lock)

    def refresh_due(self) -> int:
        """Fetch every pair asked for lately whose cached rate is past RATE_CACHE_SECONDS (the worker's job).

        Publishes rate_age_seconds{pair}: how old the rate a quote of the pair would use now is (while the
        sources fail it grows, up to RATE_MAX_AGE_SECONDS, after which quotes of the pair are refused).
        """
        now = self._clock.now()
        fetched = 0
        for pair in sorted(self._cache.wanted(now - WANTED_FOR) | set(DEFAULT_PAIRS)):
            cached = self._cache.get(pair)
            if cached is None or self._age(cached) >= self.policy.cache_seconds:
                try:
                    cached = self._fresh(pair, lambda pair=pair: self._fetch(pair))  # type: ignore[misc]
                    fetched += 1
                except RateUnavailable as exc:
                    log.warning("rate refresh failed", extra={"pair": "/".join(pair), "reason": exc.message})
                    cached = self._cache.get(pair)
            if cached is not None:
                telemetry.gauge("rate_age_seconds", max(0, int(self._age(cached))), pair="/".join(pair))
        return fetched

    # -- cache ------------------------------------------------------------------------------------------------

    def _age(self, quote: RateQuote) -> float:
        return (self._clock.now() - quote.at).total_seconds()

    def _fresh(self, pair: Pair, fetch: Callable[[], RateQuote]) -> RateQuote:
        policy = self.policy
        cached = self._cache.get(pair)
        if cached is not None and self._age(cached) < policy.cache_seconds:
            return cached
        with self._cache.fetching(pair, policy.timeout + 1) as held:
            if held:
                cached = self._cache.get(pair)  # another caller may have fetched while this one waited
                if cached is not None and self._age(cached) < policy.cache_seconds:
                    return cached
                try:
                    quote = fetch()
                except RateUnavailable as exc:
                    return self._stale_or_raise(pair, cached, exc.message)
                self._cache.put(pair, quote)
                return quote
        # Another process holds the fetch: its rate lands in the shared cache within the fetch timeout.
        deadline = time.monotonic() + policy.timeout + 1
        while time.monotonic() < deadline:
            cached = self._cache.get(pair)
            if cached is not None and self._age(cached) < policy.cache_seconds:
                return cached
            self._wait_for(0.02)
        return self._stale_or_raise(pair, self._cache.get(pair), "another process is still fetching it")

    def _stale_or_raise(self, pair: Pair, cached: RateQuote | None, why: str) -> RateQuote:
        if cached is not None and self._age(cached) <= self.policy.max_age_seconds:
            log.warning("rate sources failing, serving a cached rate",
                        extra={"pair": "/".join(pair), "reason": why, "age_seconds": round(self._age(cached))})
            return cached
        detail = f"; the last rate is {round(self._age(cached))}s old (at most {self.policy.max_age_seconds:g}s)" \
            if cached is not None else ""
        raise RateUnavailable(f"No {pair[0]}/{pair[1]} rate: {why}{detail}")

    # -- sources ------------------------------------------------------------------------------------------------

    def _usd_to(self, currency: str) -> Decimal:
        fx_pair = (FX_ASSET, currency)

        def fetch() -> RateQuote:
            try:
                value = self._fx.usd_to(currency, self.policy.timeout)
            except SourceFailed as exc:
                raise RateUnavailable(f"fiat FX source {self._fx.name}: {exc}") from None
            return RateQuote(value, (self._fx.name,), self._clock.now())

        return self._fresh(fx_pair, fetch).rate

    def _ask(self, source: PriceSource, asset: str, currency: str) -> Decimal:
        if currency in source.currencies:
            return source.price(asset, currency, self.policy.timeout)
        if "USD" not in source.currencies:
            raise SourceFailed(f"quotes neither {currency} nor USD")
        return source.price(asset, "USD", self.policy.timeout) * self._usd_to(currency)

    def _fetch(self, pair: Pair) -> RateQuote:
        asset, currency = pair
        policy = self.policy
        asked: dict[Future[Decimal], str] = {
            self._pool.submit(self._ask, source, asset, currency): source.name for source in self.sources}
        done, late = wait(asked, timeout=policy.timeout)
        answers: dict[str, Decimal] = {}
        failures: list[str] = [f"{asked[f]}: no answer within {policy.timeout:g}s" for f in late]
        for future in done:
            try:
                answers[asked[future]] = future.result()
            except (SourceFailed, RateUnavailable) as exc:
                failures.append(f"{asked[future]}: {getattr(exc, 'message', exc)}")
        for failure in failures:
            log.warning("rate source failed", extra={"pair": f"{asset}/{currency}", "reason": failure})
        kept = agreeing(answers, policy.max_spread_percent)
        if len(kept) < policy.min_sources:
            dropped = sorted(set(answers) - set(kept))
            why = (f"{len(kept)} of {len(self.sources)} sources usable (at least {policy.min_sources} needed)"
                   + (f"; disagreeing: {', '.join(dropped)}" if dropped else "")
                   + (f"; {'; '.join(sorted(failures))}" if failures else ""))
            raise RateUnavailable(why)
        order = [s.name for s in self.sources if s.name in kept]
        return RateQuote(statistics.median(kept.values()), tuple(order), self._clock.now())
