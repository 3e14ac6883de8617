"""Live rates under load: 4 web processes creating 1,000 invoices a minute in 5 currencies.

Serves the app with `voltbridge web --workers 4` on a temporary SQLite file, with the four price sources and the
FX source answered by one fake server on 127.0.0.1 (tests/fakes/price_apis.py, the providers' documented
payloads) and the rate cache in Redis (BENCH_REDIS_URL, else TEST_REDIS_URL, else redis://127.0.0.1:6379/0).
Two stores on the same server take the same open-loop load, interleaved: a devnet store priced live and a
sandbox store priced with the fixed table, so both latencies come from one run.

    .venv/bin/python bench/rates.py --seconds 30 --cache-seconds 10

Prints the source calls made against their bound (pairs x sources per cache period, summed over the periods
the run spans) and the p99 create latency live and fixed; the last line is one JSON object with `calls`,
`bound`, `create_p99_ms_live`, `create_p99_ms_fixed`. Exits non-zero on setup failure or failed requests.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import secrets
import signal
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _server import SetupError, free_port, serve, voltbridge
from solders.keypair import Keypair

from tests.fakes.price_apis import SOURCES, Market, PriceServer

CREATE_PATH = "/api/plugin/invoice/create"
CURRENCIES = ("USD", "EUR", "GBP", "JPY", "BRL")
ASSETS = ("SOL", "USDC")  # the devnet store's wallets
FX = {"EUR": Decimal("0.9214"), "GBP": Decimal("0.7871"), "JPY": Decimal("157.12"), "BRL": Decimal("5.0412")}
DIRECT = {"coinbase": CURRENCIES, "kraken": ("USD", "EUR", "GBP", "JPY"), "bitstamp": ("USD", "EUR", "GBP"),
          "coingecko": CURRENCIES}
USD_PRICES = {"SOL": Decimal("152.31"), "USDC": Decimal("0.9998"), "USDT": Decimal("1.0002")}


def market() -> Market:
    """Every source quotes the currencies it quotes directly; the rest are crossed through USD with FX."""
    made = Market(fx=FX)
    for source in SOURCES:
        for asset, usd in USD_PRICES.items():
            for fiat in DIRECT[source]:
                made.set(source, asset, fiat, (usd * FX.get(fiat, Decimal(1))).quantize(Decimal("0.0001")))
    return made


def create(port: int, key: str, number: int, currency: str) -> tuple[float, int]:
    """One VOLTXT create: (latency in ms, HTTP status)."""
    amount = "2500" if currency == "JPY" else "25.00"
    body = json.dumps({"api_key": key, "platform": "custom", "external_invoice_id": f"bench-{number}",
                       "amount": amount, "fiat_currency": currency}).replace(f'"{amount}"', amount).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{CREATE_PATH}", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    return (time.perf_counter() - started) * 1000, status


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)] if ordered else float("nan")


def drive(port: int, keys: dict[str, str], seconds: float, per_minute: int) -> dict[str, list[tuple[float, int]]]:
    """Open loop: each store gets `per_minute` creates a minute, spread evenly, currencies in turn."""
    interval = 60.0 / per_minute
    results: dict[str, list[tuple[float, int]]] = {name: [] for name in keys}
    lock = threading.Lock()
    futures = []
    with ThreadPoolExecutor(max_workers=32) as pool:
        start = time.monotonic()
        number = 0
        while (due := start + number * interval) < start + seconds:
            time.sleep(max(0.0, due - time.monotonic()))
            currency = CURRENCIES[number % len(CURRENCIES)]
            for name, key in keys.items():
                def one(name: str = name, key: str = key, n: int = number, c: str = currency) -> None:
                    outcome = create(port, key, n, c)
                    with lock:
                        results[name].append(outcome)
                futures.append(pool.submit(one))
            number += 1
        for future in futures:
            future.result()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--per-minute", type=int, default=1000, help="creates a minute, per store")
    parser.add_argument("--cache-seconds", type=float, default=10.0)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    redis_url = os.environ.get("BENCH_REDIS_URL") or os.environ.get("TEST_REDIS_URL") or "redis://127.0.0.1:6379/0"
    fake = market()
    with tempfile.TemporaryDirectory(prefix="voltbridge-rates-") as instance, PriceServer(fake) as prices:
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{instance}/bench.db", "SECRET_KEY": secrets.token_urlsafe(32),
               "INSTANCE_PATH": instance, "LOG_LEVEL": "WARNING", "REDIS_URL": redis_url,
               "RATE_CACHE_SECONDS": str(args.cache_seconds), "RATE_SOURCES": ",".join(SOURCES),
               # One key per store drives the load: its default budget would turn the run into 429s.
               "VOLTXT_RATE_LIMIT_PER_MINUTE": "100000000",
               **{f"{name.upper()}_API_URL": prices.url for name in SOURCES}, "FX_API_URL": prices.url}
        try:
            import redis

            client = redis.Redis.from_url(redis_url)
            for key in client.scan_iter("voltbridge:rates:*"):  # a previous run's rates would skew the count
                client.delete(key)
            voltbridge(env, "db", "upgrade")
            wallet = str(Keypair().pubkey())
            live = json.loads(voltbridge(env, "store", "create", "--name", "Live", "--network", "devnet",
                                         "--wallet", f"SOL={wallet}", "--wallet", f"USDC={wallet}", "--json"))
            fixed = json.loads(voltbridge(env, "store", "create", "--name", "Fixed", "--network", "sandbox",
                                          "--json"))
            port = free_port()
            with serve(env, port, Path(instance) / "web.log", workers=4):
                fake.calls.clear()
                started = time.monotonic()
                results = drive(port, {"live": live["api_key"], "fixed": fixed["api_key"]}, args.seconds,
                                args.per_minute)
                elapsed = time.monotonic() - started
        except (SetupError, OSError) as exc:
            print(f"benchmark setup failed: {exc}", file=sys.stderr)
            return 2
    failed = {name: sum(1 for _, status in outcomes if status != 201) for name, outcomes in results.items()}
    calls = sum(fake.calls.values())
    periods = math.floor(elapsed / args.cache_seconds) + 1
    price_pairs = len(ASSETS) * len(CURRENCIES)
    fx_pairs = len([c for c in CURRENCIES if c != "USD"])
    per_period = price_pairs * len(SOURCES) + fx_pairs  # the FX source is one more source for the crossed pairs
    bound = per_period * periods
    live_ms = [ms for ms, _ in results["live"]]
    fixed_ms = [ms for ms, _ in results["fixed"]]
    print(f"{len(live_ms)} live and {len(fixed_ms)} fixed creates in {elapsed:.1f} s "
          f"({args.per_minute}/min each, 4 web processes, currencies {', '.join(CURRENCIES)})")
    print(f"source calls: {calls} (by source {dict(sorted(fake.calls.items()))}); bound {bound} = "
          f"({price_pairs} pairs x {len(SOURCES)} sources + {fx_pairs} FX pairs) x {periods} cache periods "
          f"of {args.cache_seconds:g} s -> {'within' if calls <= bound else 'OVER'} the bound")
    print(f"create p99: live {p99(live_ms):.1f} ms, fixed {p99(fixed_ms):.1f} ms; failed requests {failed}")
    print(json.dumps({"calls": calls, "bound": bound, "create_p99_ms_live": round(p99(live_ms), 1),
                      "create_p99_ms_fixed": round(p99(fixed_ms), 1)}))
    return 1 if any(failed.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
