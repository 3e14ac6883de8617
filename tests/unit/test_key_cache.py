"""The key cache of invoice creation: entries live for its lifetime, the least recently used go first, and
what it holds is a frozen snapshot of the store (shared between threads, so never an ORM object)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from gateway_core.keys.api_keys import Caller, KeyCache
from gateway_core.views import StoreSnapshot

STORE = StoreSnapshot(1, "Shop", "sandbox", "direct", Decimal("0"), 24, None, (("SOL", "addr"),))


def _caller(digest: str, kind: str = "voltxt") -> Caller:
    return Caller(STORE, digest, kind)


def test_the_key_cache_forgets_after_its_lifetime_and_beyond_its_size() -> None:
    now = [0.0]
    cache = KeyCache(5.0, max_entries=2, monotonic=lambda: now[0])
    cache.put(_caller("a"))
    cache.put(_caller("b"))
    assert cache.get("a", "voltxt") == _caller("a")
    cache.put(_caller("c"))  # b was used least recently
    assert cache.get("b", "voltxt") is None and cache.get("c", "voltxt") == _caller("c")
    assert cache.get("a", "virtexgate") is None  # kinds never share entries
    now[0] = 5.0
    assert cache.get("a", "voltxt") is None


@pytest.mark.parametrize("seconds", [0.0, -1.0])
def test_a_key_cache_without_lifetime_keeps_nothing(seconds: float) -> None:
    cache = KeyCache(seconds)
    cache.put(_caller("a"))
    assert cache.get("a", "voltxt") is None


def test_what_the_cache_holds_cannot_be_changed() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        STORE.default_expiry_hours = 1  # type: ignore[misc]
    assert STORE.wallet_for("SOL") == "addr" and STORE.wallet_for("USDC") is None
