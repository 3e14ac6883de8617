"""VentaConnect's budget: 120 requests a minute per API key by default, 429 with Retry-After beyond it, a
per-key limit set with `voltbridge key limit`, and one limit across web processes when REDIS_URL is set.

The Redis tests need the Redis at TEST_REDIS_URL (default redis://127.0.0.1:6379/0, as in CI): they fail,
never skip, when it is not there. Counters are named by each test's fresh random keys, so runs never collide.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bridge.cli import main
from bridge.key_ratelimit import LocalLimiter, RedisLimiter
from gateway_core.bootstrap import Services
from gateway_core.clock import FrozenClock
from gateway_core.config import Settings
from gateway_core.stores.manage import NewStore
from tests.conftest import running_app
from tests.integration.venta_support import CHECKOUT, DEV_CHECKOUT, get, post, venta_key

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def key(services: Services, store: NewStore) -> str:
    return venta_key(services, store.id)


def set_limit(app: Any, store_id: int, *options: str) -> dict[str, Any]:
    result = app.test_cli_runner().invoke(main, ["key", "limit", str(store_id), "--kind", "venta", *options,
                                                 "--json"])
    assert result.exit_code == 0, result.output
    shown: dict[str, Any] = json.loads(result.output)
    return shown


def test_the_121st_request_in_a_minute_is_429_with_retry_after(client, key, clock) -> None:
    clock.advance(seconds=15)  # 12:00:15: the window rolls over at 12:01:00
    ref = post(client, CHECKOUT, key, {"amount": "1"}).get_json()["ref"]
    for n in range(2, 121):  # creates and polls share the budget
        response = get(client, f"{CHECKOUT}/{ref}", key)
        assert response.status_code == 200, n
    assert response.headers["X-RateLimit-Remaining"] == "0"
    limited = get(client, f"{CHECKOUT}/{ref}", key)
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "45"
    body = limited.get_json()
    assert (body["statusCode"], body["code"], body["error"]) == (429, "RATE_LIMITED", "Too Many Requests")
    assert "120" in body["message"]
    assert post(client, DEV_CHECKOUT, key, {"amount": "1"}).status_code == 429  # every endpoint, same key
    clock.advance(seconds=45)
    assert get(client, f"{CHECKOUT}/{ref}", key).status_code == 200


def test_each_key_has_its_own_budget(client, key, services, store) -> None:
    other = venta_key(services, store.id)  # a second key of the same shop
    for _ in range(120):
        get(client, f"{CHECKOUT}/missing", key)
    assert get(client, f"{CHECKOUT}/missing", key).status_code == 429
    assert get(client, f"{CHECKOUT}/missing", other).status_code == 404


def test_a_per_key_limit_set_with_the_cli(app, client, key, store) -> None:
    shown = set_limit(app, store.id, "--per-minute", "3")
    assert [k["per_minute"] for k in shown["keys"]] == [3] and shown["keys"][0]["default"] is False
    statuses = [post(client, CHECKOUT, key, {"amount": "1"}).status_code for _ in range(4)]
    assert statuses == [201, 201, 201, 429]
    assert set_limit(app, store.id)["keys"][0]["per_minute"] == 3  # no option: show
    back = set_limit(app, store.id, "--default")
    assert back["keys"][0] == {**back["keys"][0], "per_minute": 120, "default": True}
    assert post(client, CHECKOUT, key, {"amount": "1"}).status_code == 201
    bad = app.test_cli_runner().invoke(main, ["key", "limit", str(store.id), "--per-minute", "0"])
    assert bad.exit_code != 0


def test_a_rotated_key_keeps_the_limit_set_on_the_key_it_replaces(app, client, key, store) -> None:
    set_limit(app, store.id, "--per-minute", "2")
    rotated = app.test_cli_runner().invoke(main, ["key", "rotate", str(store.id), "--kind", "venta", "--json"])
    assert rotated.exit_code == 0, rotated.output
    new_key = json.loads(rotated.output)["api_key"]
    statuses = [post(client, CHECKOUT, new_key, {"amount": "1"}).status_code for _ in range(3)]
    assert statuses == [201, 201, 429]


def two_apps(settings: Settings, clock: FrozenClock) -> Iterator[tuple[Any, Any]]:
    """Two apps on one database: two web processes' worth of counters."""
    with running_app(settings, clock) as first, running_app(settings, clock) as second:
        yield first.test_client(), second.test_client()


@pytest.fixture
def redis_pair(settings: Settings, clock: FrozenClock) -> Iterator[tuple[Any, Any]]:
    yield from two_apps(replace(settings, redis_url=REDIS_URL), clock)


@pytest.fixture
def local_pair(settings: Settings, clock: FrozenClock) -> Iterator[tuple[Any, Any]]:
    yield from two_apps(settings, clock)


def test_with_redis_two_web_processes_share_one_limit(app, redis_pair, key, store) -> None:
    set_limit(app, store.id, "--per-minute", "4")
    first, second = redis_pair
    statuses = [post(client, CHECKOUT, key, {"amount": "1"}).status_code
                for client in (first, second, first, second, first, second)]
    assert statuses == [201, 201, 201, 201, 429, 429]
    limited = get(second, f"{CHECKOUT}/missing", key)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1


def test_without_redis_each_process_counts_alone(app, local_pair, key, store) -> None:
    set_limit(app, store.id, "--per-minute", "2")
    first, second = local_pair
    statuses = [post(client, CHECKOUT, key, {"amount": "1"}).status_code
                for client in (first, second, first, second, first)]
    assert statuses == [201, 201, 201, 201, 429]


def test_redis_limiter_windows_and_a_counter_outage() -> None:
    import secrets

    bucket = f"test:{secrets.token_hex(8)}"
    shared = [RedisLimiter.from_url(REDIS_URL), RedisLimiter.from_url(REDIS_URL)]
    start = 1_800_000_000.0  # a window boundary (divisible by 60)
    verdicts = [shared[n % 2].hit(bucket, 3, start + n) for n in range(4)]
    assert [v.allowed for v in verdicts] == [True, True, True, False]
    assert [v.remaining for v in verdicts] == [2, 1, 0, 0] and verdicts[3].reset_after == 57
    assert shared[0].hit(bucket, 3, start + 60).allowed  # the next minute starts afresh
    # Counters unreachable: requests go through (logged), payments never stop for want of a counter.
    down = RedisLimiter.from_url("redis://127.0.0.1:1/0")
    assert all(down.hit(bucket, 1, start).allowed for _ in range(3))


def test_local_limiter_windows() -> None:
    limiter = LocalLimiter()
    assert [limiter.hit("k", 2, 120.0 + n).allowed for n in range(3)] == [True, True, False]
    assert limiter.hit("other", 2, 122.0).allowed
    assert limiter.hit("k", 2, 180.0).allowed


def test_the_settings_read_redis_url(tmp_path: Path) -> None:
    settings = Settings.from_env({"REDIS_URL": " redis://:pw@cache:6379/2 "}, instance_path=str(tmp_path),
                                 secret_key="s")
    assert settings.redis_url == "redis://:pw@cache:6379/2" and "pw" not in repr(settings)
    assert Settings.from_env({}, instance_path=str(tmp_path), secret_key="s").redis_url == ""
