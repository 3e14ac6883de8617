"""The pay page's status polling budget (bridge/ratelimit.py) across web processes: one budget per client in
Redis when REDIS_URL is set, one per process without it.

The Redis tests need the Redis at TEST_REDIS_URL (default redis://127.0.0.1:6379/0, as in CI): they fail,
never skip, when it is not there. Every test polls as a client address of its own, so runs never collide.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from bridge.ratelimit import RedisTokenBucket
from gateway_core.clock import FrozenClock
from gateway_core.config import Settings
from gateway_core.stores.manage import NewStore
from tests.conftest import invoice_body, post_json, running_app

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _client_address() -> str:
    return "10." + ".".join(str(b) for b in secrets.token_bytes(3))


def _bucket(per_minute: int, burst: int) -> RedisTokenBucket:
    return RedisTokenBucket.from_url(REDIS_URL, per_minute, burst, prefix=f"test:{secrets.token_hex(6)}:")


NOW = 1_800_000_000.0  # the buckets' clock, injected: a busy machine must not refill them between takes


def test_a_redis_bucket_allows_its_burst_then_one_per_interval() -> None:
    bucket = _bucket(per_minute=60, burst=3)
    assert [bucket.take("buyer", NOW) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take("buyer", NOW) == 1.0  # the next token, a second's worth of refill away
    assert bucket.take("buyer", NOW + 0.25) == 0.75
    assert bucket.take("buyer", NOW + 1) == 0.0
    assert bucket.take("another buyer", NOW) == 0.0


def test_processes_on_one_redis_share_each_clients_bucket() -> None:
    first, second = _bucket(per_minute=60, burst=2), _bucket(per_minute=60, burst=2)
    shared = RedisTokenBucket.from_url(REDIS_URL, 60, 2, prefix=first._prefix)  # another process, same name
    assert [first.take("buyer", NOW), shared.take("buyer", NOW)] == [0.0, 0.0]
    assert first.take("buyer", NOW) == shared.take("buyer", NOW) == 1.0
    assert second.take("buyer", NOW) == 0.0  # another bucket name (another endpoint) keeps its own budget


def test_a_redis_outage_lets_buyers_through() -> None:
    down = RedisTokenBucket.from_url("redis://127.0.0.1:1/0", 60, 1, prefix="test:down:")
    assert [down.take("buyer") for _ in range(3)] == [0.0, 0.0, 0.0]


def _two_apps(settings: Settings, clock: FrozenClock) -> Iterator[tuple[Any, Any]]:
    """Two apps on one database: two web processes' worth of buckets."""
    with running_app(settings, clock) as first, running_app(settings, clock) as second:
        yield first.test_client(), second.test_client()


@pytest.fixture
def redis_pair(settings: Settings, clock: FrozenClock) -> Iterator[tuple[Any, Any]]:
    yield from _two_apps(replace(settings, redis_url=REDIS_URL, checkout_status_per_minute=4), clock)


@pytest.fixture
def local_pair(settings: Settings, clock: FrozenClock) -> Iterator[tuple[Any, Any]]:
    yield from _two_apps(replace(settings, checkout_status_per_minute=4), clock)


def _poll(pair: tuple[Any, Any], api_key: str, times: int) -> list[int]:
    first, second = pair
    created = post_json(first, "/api/plugin/invoice/create", invoice_body(api_key))
    assert created.status_code == 201, created.get_json()
    path = f"/pay/{created.get_json()['invoice_number']}/status.json"
    environ = {"REMOTE_ADDR": _client_address()}
    return [(first, second)[n % 2].get(path, environ_base=environ).status_code for n in range(times)]


def test_with_redis_the_pay_pages_polling_budget_is_one_across_processes(redis_pair, store: NewStore) -> None:
    # 4 a minute: a burst of 2, shared by both processes.
    assert _poll(redis_pair, store.api_key, 4) == [200, 200, 429, 429]


def test_without_redis_each_process_has_its_own_budget(local_pair, store: NewStore) -> None:
    assert _poll(local_pair, store.api_key, 5) == [200, 200, 200, 200, 429]
